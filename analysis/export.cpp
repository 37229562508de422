#include "analysis/export.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "analysis/tables.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/stats/metrics.hpp"

namespace auxgrid::analysis {

namespace {

std::string number(double x) { return std::isfinite(x) ? fmt::format("{}", x) : ""; }
std::string last(const std::vector<double>& v) { return v.empty() ? "" : number(v.back()); }

}  // namespace

std::string export_csv(const ResultsDir& results) {
  std::set<std::string> keys;  // every setting some result records
  for (const auto& r : results.results)
    for (const auto& [key, value] : r.config)
      if (find_setting(key)) keys.insert(key);  // not the file's short copies (model, corpus, procedure)

  std::string out =
      "cell_id,corpus,label,condition,micro_f1,macro_f1,parameters,epochs,seconds_per_epoch,final_train_loss,"
      "final_dev_loss,final_train_combined_loss";
  for (const auto& key : keys) out += ',' + csv_field(key);
  out += ",grid,file\n";
  for (const auto& r : results.results)
    for (const auto& [condition, f1] : r.f1) {
      out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}", csv_field(r.cell_id), csv_field(r.corpus),
                         csv_field(r.label), csv_field(condition), number(f1.first), number(f1.second), r.n_params,
                         r.epoch_seconds.size(), r.epoch_seconds.empty() ? "" : number(stats::mean(r.epoch_seconds)),
                         last(r.train_loss), last(r.dev_loss), last(r.train_combined_loss));
      for (const auto& key : keys) {
        const auto it = r.config.find(key);
        out += ',' + (it == r.config.end() ? std::string() : csv_field(it->second));
      }
      out += fmt::format(",{},{}\n", csv_field(r.grid), csv_field(r.path));
    }
  return out;
}

}  // namespace auxgrid::analysis
