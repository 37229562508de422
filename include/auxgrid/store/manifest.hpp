#pragma once
// DIR/manifest.tsv: every cell that was ever planned into a results
// directory, so the analysis can tell a missing cell from one nobody asked
// for. Written by `auxgrid run` before it trains; runs of other grids into the
// same directory add their cells (union by id). `auxgrid forget` takes cells
// that are no longer wanted off it.
//
// Text, one line per cell, tab-separated:
//   cell_id  corpus  label  key=value  key=value ...   (every resolved setting)
// `corpus` is the corpus's name (as result files record it).
#include <map>
#include <set>
#include <string>
#include <vector>

#include "auxgrid/store/results_dir.hpp"

namespace auxgrid::store {

struct ManifestCell {
  std::string cell_id, corpus, label;
  std::map<std::string, std::string> config;  // every setting as canonical text
};

// Merges `cells` into DIR/manifest.tsv (written atomically: temp file + rename).
// Throws naming the file when a value contains a tab or a newline.
void add_to_manifest(const std::string& dir, const std::vector<ManifestCell>& cells);

// Takes the cells with these ids off DIR/manifest.tsv (rewritten atomically);
// returns how many were there.
std::size_t remove_from_manifest(const std::string& dir, const std::set<std::string>& cell_ids);

// The cells of DIR/manifest.tsv in file order; empty when there is no such file.
// Throws naming the file and the line when a line is malformed.
std::vector<ManifestCell> read_manifest(const std::string& dir);

}  // namespace auxgrid::store
