#pragma once
// A results directory as one table for pandas, R or a spreadsheet: a row per
// cell and evaluation condition, every setting a column.
#include <string>

#include "analysis/results.hpp"

namespace auxgrid::analysis {

// CSV (RFC 4180, a header line): cell_id, corpus, label, condition, micro_f1,
// macro_f1, parameters, epochs, seconds_per_epoch (mean), final train and dev
// loss, then every setting that some result records, in key order (a result
// that does not record one has an empty field), then grid and file.
std::string export_csv(const ResultsDir& results);

}  // namespace auxgrid::analysis
