// auxgrid-analyze: the paper's tables, figures and an HTML report from a
// results directory. Parses options and reports errors; the work is in the
// auxgrid_analysis library (analysis/report.hpp).
#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <cmath>
#include <iostream>
#include <map>
#include <string>

#include "analysis/report.hpp"
#include "auxgrid/core/main.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitUsage = 2;

void print_usage(std::ostream& os, const po::options_description& options) {
  os << "usage: auxgrid-analyze COMMAND DIR [options]\n\n"
        "  tables DIR    the study's tables from DIR/cells/*.h5 (Markdown, LaTeX or CSV), with one-tailed paired\n"
        "                t-tests of each block's reference row against the others\n"
        "  figures DIR   the study's figures as SVG and PNG with gnuplot (--out)\n"
        "  report DIR    one self-contained HTML page: status, tables beside the paper's values, training\n"
        "                curves, figures, provenance, missing and failed cells (--out)\n"
        "  export DIR    every result as one CSV table: a row per cell and condition, every setting a column\n"
        "                (stdout, or --out FILE)\n"
        "  power DIR     for every t-test of the tables: the seeds it needs to detect a difference (--difference,\n"
        "                default the observed one) with --power at the observed sd of the paired differences\n"
        "  study         print the built-in study (tables and figures as TOML), a template for --study\n\n"
     << options
     << "\nexamples:\n"
        "  auxgrid-analyze tables results/paper --paper --where train.epochs=100\n"
        "  auxgrid-analyze tables results/paper --adjust holm --comparisons comparisons.csv\n"
        "  auxgrid-analyze power results/paper --table table1 --difference 0.01\n"
        "  auxgrid-analyze report results/quickstart --out report\n"
        "  auxgrid-analyze export results/quickstart --out results.csv   # pandas.read_csv(\"results.csv\")\n";
}

int usage_error(const std::string& message, const po::options_description& options) {
  std::cerr << "auxgrid-analyze: " << message << "\n\n";
  print_usage(std::cerr, options);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  auxgrid::analysis::AnalyzeOptions a;
  std::string adjust = "none";
  po::options_description options("options");
  options.add_options()("help,h", "show this help")("table", po::value(&a.tables)->value_name("NAME"),
                                                    "tables: only this table (repeatable), e.g. table1")(
      "where", po::value(&a.where)->value_name("KEY=VALUE"),
      "only results whose setting KEY has this value (repeatable; `auxgrid settings` lists the keys), e.g. "
      "--where train.epochs=2 to tell apart two runs in one directory")(
      "format", po::value(&a.format)->value_name("F"),
      "tables: md (Markdown, the default), latex (booktabs) or csv; export, power: csv")(
      "paper", po::bool_switch(&a.paper), "tables: the paper's values and the difference beside each value")(
      "adjust", po::value(&adjust)->value_name("METHOD"),
      "tables, report: stars from p-values adjusted over each table's one-tailed t-tests: none (the paper's "
      "unadjusted p, the default), holm (Holm-Bonferroni) or bh (Benjamini-Hochberg)")(
      "difference", po::value(&a.power.difference)->value_name("D"),
      "power: the mean difference to detect, in the metric's units (default: each comparison's observed one)")(
      "power", po::value(&a.power.power)->value_name("P"),
      "power: the chance of detecting it, in (0, 1) (default 0.8)")(
      "comparisons", po::value(&a.comparisons_path)->value_name("FILE"), "tables: also write every t-test as CSV")(
      "study", po::value(&a.study_files)->value_name("FILE"),
      "add the tables and figures of this TOML file to the built-in ones (repeatable)")(
      "out", po::value(&a.out)->value_name("PATH"),
      "figures, report: the output directory; export: the CSV file (default: standard output)")(
      "model-revision", po::value(&a.model_revision)->value_name("N"),
      fmt::format("only results of this model revision (default {}, this build's; 1: results written before "
                  "auxgrid followed the released code, docs/models.md)",
                  auxgrid::kModelRevision)
          .c_str());
  po::options_description positionals;
  positionals.add_options()("command", po::value<std::string>())("dir", po::value(&a.results_dir));
  po::options_description all;
  all.add(options).add(positionals);
  po::positional_options_description order;
  order.add("command", 1).add("dir", 1);

  po::variables_map args;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(order).run(), args);
    po::notify(args);
  } catch (const po::error& e) {
    return usage_error(e.what(), options);
  }
  if (args.count("help")) {
    print_usage(std::cout, options);
    return 0;
  }
  if (!args.count("command")) return usage_error("missing command", options);
  const std::string command = args["command"].as<std::string>();
  if (command != "tables" && command != "figures" && command != "report" && command != "export" && command != "power" &&
      command != "study")
    return usage_error("unknown command '" + command + "'", options);
  using auxgrid::analysis::Adjustment;
  const std::map<std::string, Adjustment> adjustments{
      {"none", Adjustment::none}, {"holm", Adjustment::holm}, {"bh", Adjustment::bh}};
  if (!adjustments.count(adjust))
    return usage_error("--adjust must be none, holm or bh, got '" + adjust + "'", options);
  a.adjust = adjustments.at(adjust);
  if (args.count("difference") && !(std::isfinite(a.power.difference) && a.power.difference > 0))
    return usage_error(fmt::format("--difference must be a positive number, got {}", a.power.difference), options);
  if (!(a.power.power > 0 && a.power.power < 1))
    return usage_error(fmt::format("--power must be in (0, 1), got {}", a.power.power), options);
  if (command != "study" && a.results_dir.empty())
    return usage_error(command + " needs a results directory DIR", options);
  if ((command == "figures" || command == "report") && a.out.empty())
    return usage_error(command + " needs --out DIR", options);

  return auxgrid::run_command("auxgrid-analyze", [&] {
    if (command == "study")
      std::cout << auxgrid::analysis::builtin_study_text();
    else if (command == "tables")
      auxgrid::analysis::tables_command(a, std::cout, std::cerr);
    else if (command == "export")
      auxgrid::analysis::export_command(a, std::cout, std::cerr);
    else if (command == "power")
      auxgrid::analysis::power_command(a, std::cout, std::cerr);
    else if (command == "figures")
      auxgrid::analysis::figures_command(a, std::cerr);
    else
      auxgrid::analysis::report_command(a, std::cerr);
    return 0;
  });
}
