// auxgrid-analyze: tables from a results directory. Parses options and
// reports errors; the work is in the auxgrid_analysis library.
#include <boost/program_options.hpp>
#include <iostream>
#include <string>

#include "analysis/tables.hpp"
#include "auxgrid/core/check.hpp"

namespace po = boost::program_options;

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

void print_usage(std::ostream& os, const po::options_description& options) {
  os << "usage: auxgrid-analyze tables DIR [--format md|csv] [--comparisons FILE]\n\n"
        "  tables   Table 1 (ideal condition, standard and optimized procedures) from DIR/cells/*.h5,\n"
        "           with one-tailed paired t-tests of the reference model against the others\n\n"
     << options;
}

int usage_error(const std::string& message, const po::options_description& options) {
  std::cerr << "auxgrid-analyze: " << message << "\n\n";
  print_usage(std::cerr, options);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()("help,h", "show this help")(
      "format", po::value<std::string>()->default_value("md"), "md (Markdown table) or csv")(
      "comparisons", po::value<std::string>()->value_name("FILE"), "also write every t-test as CSV to FILE");
  po::options_description positionals;
  positionals.add_options()("command", po::value<std::string>())("dir", po::value<std::string>());
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
  if (command != "tables") return usage_error("unknown command '" + command + "'", options);
  if (!args.count("dir")) return usage_error("tables needs a results directory DIR", options);

  const std::string format_name = args["format"].as<std::string>();
  if (format_name != "md" && format_name != "csv")
    return usage_error("--format must be md or csv, got '" + format_name + "'", options);
  const auto format = format_name == "csv" ? auxgrid::analysis::Format::csv : auxgrid::analysis::Format::markdown;
  const std::string comparisons = args.count("comparisons") ? args["comparisons"].as<std::string>() : "";

  try {
    auxgrid::analysis::write_tables(args["dir"].as<std::string>(), format, comparisons, std::cout, std::cerr);
  } catch (const auxgrid::Error& e) {
    std::cerr << "auxgrid-analyze: error: " << e.what() << '\n';
    return kExitError;
  }
  return 0;
}
