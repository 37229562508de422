#define BOOST_TEST_MODULE analysis
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

#include "analysis/figures.hpp"
#include "analysis/results.hpp"
#include "analysis/study.hpp"
#include "analysis/tables.hpp"
#include "auxgrid/core/check.hpp"
#include "tests/expect_error.hpp"

namespace tt = boost::test_tools;
using namespace auxgrid::analysis;
using auxgrid::store::ManifestCell;
using auxgrid::store::ResultSummary;

namespace {

// Settings of one result; unnamed study keys stay at their defaults.
using Settings = std::map<std::string, std::string>;

ResultSummary result(const Settings& settings, const std::string& corpus, int seed, double micro, double macro,
                     const std::string& condition = "ideal") {
  ResultSummary r;
  r.config = settings;
  r.config["seed"] = std::to_string(seed);
  r.model = settings.at("model.name");
  r.procedure = settings.count("train.procedure") ? settings.at("train.procedure") : "standard";
  r.corpus = corpus;
  r.seed = seed;
  std::string key = corpus + std::to_string(seed);
  for (const auto& [k, v] : settings) key += k + "=" + v;
  r.cell_id = fmt::format("{:016x}", std::hash<std::string>{}(key));
  r.path = fmt::format("cells/{}.h5", r.cell_id);
  r.f1[condition] = {micro, macro};
  r.f1["nothing_else"] = {0.1, 0.1};  // other conditions must not leak into a table
  return r;
}

Settings model(const std::string& name, const std::string& procedure = "standard") {
  return {{"model.name", name}, {"train.procedure", procedure}};
}

void add_seeds(ResultsDir& dir, const Settings& settings, const std::string& corpus, const std::vector<int>& seeds,
               const std::vector<double>& micro, const std::vector<double>& macro) {
  for (std::size_t i = 0; i < seeds.size(); ++i)
    dir.results.push_back(result(settings, corpus, seeds[i], micro[i], macro[i]));
}

// Known per-seed scores, chosen so that in Table 1:
//  standard, crema-d micro: AuxFormer beats baseline1 and mult -> star
//  standard, crema-d macro: it beats baseline1 but not mult -> no star
//  standard, msp-improv: mult has no result there, so only baseline1 counts
//  optimized: baseline1 lacks seed 2 -> the test pairs the 4 shared seeds
ResultsDir table1_results() {
  ResultsDir r;
  const std::vector<int> five{0, 1, 2, 3, 4}, three{0, 1, 2};
  add_seeds(r, model("mult"), "crema-d", five, {0.71, 0.70, 0.72, 0.70, 0.72}, {0.77, 0.76, 0.74, 0.79, 0.74});
  add_seeds(r, model("auxformer"), "crema-d", five, {0.77, 0.78, 0.76, 0.79, 0.75}, {0.76, 0.77, 0.75, 0.78, 0.74});
  add_seeds(r, model("baseline1"), "crema-d", five, {0.70, 0.72, 0.71, 0.73, 0.69}, {0.69, 0.71, 0.70, 0.72, 0.68});
  add_seeds(r, model("auxformer"), "msp-improv", three, {0.76, 0.75, 0.77}, {0.70, 0.71, 0.69});
  add_seeds(r, model("baseline1"), "msp-improv", three, {0.74, 0.74, 0.75}, {0.69, 0.72, 0.69});
  add_seeds(r, model("baseline1", "optimized"), "crema-d", {0, 1, 3, 4}, {0.72, 0.74, 0.73, 0.69},
            {0.71, 0.73, 0.72, 0.68});
  add_seeds(r, model("auxformer", "optimized"), "crema-d", five, {0.78, 0.79, 0.77, 0.80, 0.76},
            {0.77, 0.78, 0.76, 0.79, 0.75});
  // Ablations of the study that Table 1 must not pick up.
  Settings no_pe = model("auxformer", "optimized");
  no_pe["model.pos_encoding"] = "false";
  add_seeds(r, no_pe, "crema-d", five, {0.1, 0.1, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.1, 0.1});
  Settings lambdas = model("auxformer", "optimized");
  lambdas["train.lambda_av"] = "0.2";
  add_seeds(r, lambdas, "crema-d", five, {0.1, 0.1, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.1, 0.1});
  return r;
}

Table build(const std::string& name, const ResultsDir& results, const Study& study = builtin_study()) {
  const Selection selection(results, study);
  return build_table(*study.find_table(name), selection);
}

const Row& find_row(const Table& table, const std::string& block, const std::string& label) {
  const auto it = std::find_if(table.rows.begin(), table.rows.end(),
                               [&](const Row& r) { return r.def.block == block && r.def.label == label; });
  BOOST_REQUIRE(it != table.rows.end());
  return *it;
}

std::size_t column_index(const Table& table, const std::string& corpus, Metric metric) {
  const auto it = std::find_if(table.columns.begin(), table.columns.end(),
                               [&](const Column& c) { return c.corpus == corpus && c.metric == metric; });
  BOOST_REQUIRE(it != table.columns.end());
  return static_cast<std::size_t>(it - table.columns.begin());
}

const Score& score(const Table& table, const std::string& block, const std::string& label, const std::string& corpus,
                   Metric metric) {
  return find_row(table, block, label).scores.at(column_index(table, corpus, metric));
}

const Comparison& find_comparison(const Table& table, const std::string& block, const std::string& corpus,
                                  Metric metric, const std::string& other) {
  const auto it = std::find_if(table.comparisons.begin(), table.comparisons.end(), [&](const Comparison& c) {
    return c.block == block && c.corpus == corpus && c.metric == metric && c.other == other;
  });
  BOOST_REQUIRE(it != table.comparisons.end());
  return *it;
}

struct Expected {
  double t, p;
};

// Computed here from the definition, independently of auxgrid::stats.
Expected one_tailed_paired(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  std::vector<double> d;
  for (std::size_t i = 0; i < a.size(); ++i) d.push_back(a[i] - b[i]);
  double sum = 0;
  for (double x : d) sum += x;
  const double m = sum / n;
  double ss = 0;
  for (double x : d) ss += (x - m) * (x - m);
  const double t = m / (std::sqrt(ss / (n - 1)) / std::sqrt(n));
  const boost::math::students_t dist(n - 1);
  return {t, boost::math::cdf(boost::math::complement(dist, t))};
}

const std::string kOurs = "AuxFormer (ours)";

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_study_defines_the_papers_tables_and_figures) {
  const Study study = builtin_study();
  std::vector<std::string> tables, figures;
  for (const auto& t : study.tables) tables.push_back(t.name);
  for (const auto& f : study.figures) figures.push_back(f.name);
  const std::vector<std::string> want_tables{"table1", "table2", "table3", "table4", "table5"};
  const std::vector<std::string> want_figures{"figure3", "figure4", "figure5-audio", "figure5-video",
                                              "figure6", "figure7", "figure8"};
  BOOST_TEST(tables == want_tables, tt::per_element());
  BOOST_TEST(figures == want_figures, tt::per_element());
  for (const char* key : {"model.name", "train.procedure", "model.pos_encoding", "train.lambda_av", "model.token",
                          "model.fusion_block", "model.modality"})
    BOOST_TEST(study.study_keys.count(key) == 1u, key);
  // Paper values: "0.769*" is a starred 0.769; 0.20 in a match is the canonical "0.2".
  const RowDef& ours = study.find_table("table1")->rows.at(0);
  BOOST_TEST(ours.paper.at("crema-d").at(0).value == 0.769);
  BOOST_TEST(ours.paper.at("crema-d").at(0).significant);
  BOOST_TEST(!study.find_table("table1")->rows.at(1).paper.at("crema-d").at(0).significant);
  BOOST_TEST(study.find_table("table4")->rows.at(1).selector.match.at("train.lambda_av") == "0.2");
  BOOST_TEST(study.find_table("table2")->rows.at(0).selector.condition == "video_only");
  BOOST_TEST(study.find_table("table2")->rows.at(0).selector.match.at("train.procedure") == "optimized");
}

BOOST_AUTO_TEST_CASE(study_files_with_errors_name_the_file_line_and_key) {
  auto parse = [](const std::string& text) { return parse_study(text, "mine.toml"); };
  expect_error([&] { parse("[[table]]\nname = \"t\"\ncolour = 1\n"); }, {"mine.toml:3", "unknown key 'colour'"});
  expect_error(
      [&] {
        parse(
            "[[table]]\nname = \"t\"\ncondition = \"ideal\"\n[[table.row]]\nlabel = \"x\"\n"
            "match = { model.depth = 3 }\n");
      },
      {"mine.toml:6", "table 't', row 'x'", "model.depth"});
  expect_error(
      [&] {
        parse(
            "[[table]]\nname = \"t\"\ncondition = \"ideal\"\n[[table.row]]\nlabel = \"x\"\n"
            "paper = { crema-d = [\"0.7x\", 0.1] }\n");
      },
      {"mine.toml:6", "paper value '0.7x' is not a number"});
  expect_error(
      [&] {
        parse(
            "[[table]]\nname = \"t\"\ncondition = \"ideal\"\n[[table.row]]\nlabel = \"x\"\n"
            "paper = { crema-d = [0.7] }\n");
      },
      {"must be 2 (one per metric)"});
  expect_error([&] { parse("[[table]]\nname = \"t\"\n[[table.row]]\nlabel = \"x\"\n"); }, {"no evaluation condition"});
  expect_error([&] { parse("[[table]]\nname = \"t\"\nmetrics = [\"accuracy\"]\n"); }, {"metric 'accuracy'"});
  expect_error([&] { parse("[[figure]]\nname = \"f\"\nkind = \"pie\"\n"); }, {"kind 'pie'"});
  expect_error(
      [&] {
        parse(
            "[[table]]\nname = \"t\"\ncondition = \"ideal\"\n[[table.row]]\nlabel = \"x\"\n"
            "match = { seed = 3 }\n");
      },
      {"match cannot name 'seed'"});
  expect_error([&] { parse("[[table\n"); }, {"mine.toml:1"});
  Study study = builtin_study();
  expect_error(
      [&] {
        merge_study(study, parse("[[table]]\nname = \"table2\"\ncondition = \"ideal\"\n"
                                 "[[table.row]]\nlabel = \"x\"\n"));
      },
      {"table 'table2' is defined twice", "mine.toml", "experiments/study.toml"});
}

BOOST_AUTO_TEST_CASE(a_users_table_selects_by_its_own_keys) {
  // A table that compares widths: model.width becomes a study key for it.
  Study study = builtin_study();
  merge_study(study, parse_study(R"(
[[table]]
name = "widths"
condition = "ideal"
metrics = ["micro_f1"]
[[table.row]]
label = "d = 32"
reference = true
match = { model.name = "auxformer", model.width = 32 }
[[table.row]]
label = "d = 64"
match = { model.name = "auxformer", model.width = 64 }
)",
                                 "widths.toml"));
  ResultsDir r;
  Settings narrow = model("auxformer"), wide = model("auxformer");
  narrow["model.width"] = "32";
  wide["model.width"] = "64";
  add_seeds(r, narrow, "tiny", {0, 1, 2}, {0.8, 0.82, 0.81}, {0, 0, 0});
  add_seeds(r, wide, "tiny", {0, 1, 2}, {0.7, 0.71, 0.69}, {0, 0, 0});
  const Table table = build("widths", r, study);
  BOOST_TEST(table.rows.at(0).scores.at(0).mean == 0.81, tt::tolerance(1e-12));
  BOOST_TEST(table.rows.at(1).scores.at(0).mean == 0.70, tt::tolerance(1e-12));
  BOOST_TEST(table.rows.at(0).scores.at(0).significant);
}

BOOST_AUTO_TEST_CASE(table1_rows_columns_means_and_seed_counts) {
  const Table table = build("table1", table1_results());
  BOOST_TEST(table.results_used == 30u);  // the ablations are not Table 1's
  BOOST_REQUIRE(table.columns.size() == 4u);
  BOOST_TEST(table.columns[0].corpus == "crema-d");
  BOOST_TEST((table.columns[1].metric == Metric::macro_f1));
  BOOST_TEST(table.columns[2].corpus == "msp-improv");
  const Score& ref = score(table, "standard", kOurs, "crema-d", Metric::micro_f1);
  BOOST_TEST(ref.mean == 0.77, tt::tolerance(1e-12));
  BOOST_TEST(ref.n == 5);
  BOOST_TEST(score(table, "standard", "Baseline 2 (MulT)", "crema-d", Metric::macro_f1).mean == 0.76,
             tt::tolerance(1e-12));
  BOOST_TEST(score(table, "standard", "Baseline 2 (MulT)", "msp-improv", Metric::micro_f1).n == 0);
  const Score& partial = score(table, "optimized", "Baseline 1", "crema-d", Metric::micro_f1);
  BOOST_TEST(partial.mean == (0.72 + 0.74 + 0.73 + 0.69) / 4, tt::tolerance(1e-12));
  BOOST_TEST(partial.n == 4);
  // Without a manifest, a row is expected to have every seed the table has on that corpus.
  BOOST_TEST(partial.expected == 5);
  BOOST_REQUIRE(table.notes.size() == 1u);
  BOOST_TEST(table.notes[0] == "optimized / Baseline 1 on crema-d: 4 of 5 seeds; missing seed 2");
  BOOST_TEST(find_row(table, "optimized", "Baseline 3").empty());
}

BOOST_AUTO_TEST_CASE(star_only_when_the_reference_beats_every_other_row_of_its_block) {
  const Table table = build("table1", table1_results());
  BOOST_TEST(score(table, "standard", kOurs, "crema-d", Metric::micro_f1).significant);
  BOOST_TEST(find_comparison(table, "standard", "crema-d", Metric::macro_f1, "Baseline 1").test.p < 0.05);
  BOOST_TEST(find_comparison(table, "standard", "crema-d", Metric::macro_f1, "Baseline 2 (MulT)").test.p >= 0.05);
  BOOST_TEST(!score(table, "standard", kOurs, "crema-d", Metric::macro_f1).significant);
  // MulT has no msp-improv result, so Baseline 1 is the only row compared.
  BOOST_TEST(score(table, "standard", kOurs, "msp-improv", Metric::micro_f1).significant);
  BOOST_TEST(!score(table, "standard", kOurs, "msp-improv", Metric::macro_f1).significant);
  BOOST_TEST(score(table, "optimized", kOurs, "crema-d", Metric::micro_f1).significant);
  for (const auto& row : table.rows)
    if (!row.def.reference)
      for (const auto& s : row.scores) BOOST_TEST(!s.significant);
}

BOOST_AUTO_TEST_CASE(comparisons_match_an_independent_t_test) {
  const Table table = build("table1", table1_results());
  BOOST_TEST(table.comparisons.size() == 8u);  // standard: 2 + 2 + 1 + 1, optimized: 1 + 1

  const Comparison& mult = find_comparison(table, "standard", "crema-d", Metric::micro_f1, "Baseline 2 (MulT)");
  const Expected e = one_tailed_paired({0.77, 0.78, 0.76, 0.79, 0.75}, {0.71, 0.70, 0.72, 0.70, 0.72});
  BOOST_TEST(mult.table == "table1");
  BOOST_TEST(mult.reference == kOurs);
  BOOST_TEST(mult.test.n == 5);
  BOOST_TEST(mult.test.mean_a == 0.77, tt::tolerance(1e-12));
  BOOST_TEST(mult.test.mean_b == 0.71, tt::tolerance(1e-12));
  BOOST_TEST(mult.test.t == e.t, tt::tolerance(1e-10));
  BOOST_TEST(mult.test.p == e.p, tt::tolerance(1e-10));

  // Paired on the seeds both have: seed 2 of the reference is dropped.
  const Comparison& paired = find_comparison(table, "optimized", "crema-d", Metric::macro_f1, "Baseline 1");
  const Expected f = one_tailed_paired({0.77, 0.78, 0.79, 0.75}, {0.71, 0.73, 0.72, 0.68});
  BOOST_TEST(paired.test.n == 4);
  BOOST_TEST(paired.test.t == f.t, tt::tolerance(1e-10));
  BOOST_TEST(paired.test.p == f.p, tt::tolerance(1e-10));

  // The CSV carries them at full precision.
  // ... with the two-sided p-value (twice the one-tailed one here, t > 0) and
  // the mean difference's 95 % interval, mean +- t(0.975, 4) sd / sqrt(5).
  BOOST_TEST(mult.p_two_sided == 2 * e.p, tt::tolerance(1e-10));
  const double half_width = 2.7764451051977987 * mult.test.sd_diff / std::sqrt(5.0);
  BOOST_TEST(mult.test.ci95_low == mult.test.mean_diff - half_width, tt::tolerance(1e-10));
  BOOST_TEST(mult.test.ci95_high == mult.test.mean_diff + half_width, tt::tolerance(1e-10));
  const std::string csv = render_comparisons_csv({table});
  BOOST_TEST(
      csv.find(fmt::format("table1,standard,crema-d,micro_f1,AuxFormer (ours),Baseline 2 (MulT),5,{},{},{},{},{},"
                           "{},{},{},4,{},1,{},{},{}\n",
                           mult.test.mean_a, mult.test.mean_b, mult.test.mean_diff, mult.test.ci95_low,
                           mult.test.ci95_high, mult.test.sd_diff, mult.test.mean_diff / mult.test.sd_diff, mult.test.t,
                           mult.test.p, mult.p_two_sided, mult.p_holm, mult.p_bh)) != std::string::npos);
}

// Student (1908) / Cushny and Peebles: extra hours of sleep under two drugs, 10
// patients. The textbook paired t-test: t = 4.0621, df = 9, two-sided p =
// 0.002833, so one-tailed p = 0.0014165 (R: t.test(x2, x1, paired = TRUE)).
BOOST_AUTO_TEST_CASE(textbook_example_through_a_table) {
  const std::vector<double> drug1{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
  const std::vector<double> drug2{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
  ResultsDir r;
  std::vector<int> seeds(10);
  for (int i = 0; i < 10; ++i) seeds[static_cast<std::size_t>(i)] = i;
  add_seeds(r, model("auxformer"), "sleep", seeds, drug2, drug2);
  add_seeds(r, model("baseline1"), "sleep", seeds, drug1, drug1);
  const Table table = build("table1", r);
  const Comparison& c = find_comparison(table, "standard", "sleep", Metric::micro_f1, "Baseline 1");
  BOOST_TEST(c.test.n == 10);
  BOOST_TEST(c.test.mean_diff == 1.58, tt::tolerance(1e-12));
  BOOST_TEST(c.test.t == 4.0621, tt::tolerance(1e-4));
  BOOST_TEST(c.test.df == 9);
  BOOST_TEST(c.test.p == 0.0014165, tt::tolerance(1e-3));
  BOOST_TEST(score(table, "standard", kOurs, "sleep", Metric::micro_f1).significant);
}

BOOST_AUTO_TEST_CASE(two_results_for_one_seed_are_an_error_naming_both) {
  ResultsDir r = table1_results();
  Settings wide = model("auxformer");
  wide["model.width"] = "64";  // a setting no row names
  r.results.push_back(result(wide, "crema-d", 0, 0.5, 0.5));
  expect_error([&] { build("table1", r); },
               {"table 'table1', row 'standard / AuxFormer (ours)'", r.results.back().path, "model.width=(unset)/64"});
}

BOOST_AUTO_TEST_CASE(ablation_tables_pick_their_variants) {
  const Table table3 = build("table3", table1_results());
  BOOST_TEST(table3.rows.at(0).scores.at(0).mean == 0.78, tt::tolerance(1e-12));  // with PE = the optimized AuxFormer
  BOOST_TEST(table3.rows.at(1).scores.at(0).mean == 0.1, tt::tolerance(1e-12));   // without PE
  BOOST_TEST(table3.rows.at(0).scores.at(0).significant);
  const Table table4 = build("table4", table1_results());
  BOOST_TEST(table4.rows.at(0).scores.at(0).n == 5);  // 0.33 / 0.33 / 0.33: the defaults
  BOOST_TEST(table4.rows.at(1).scores.at(0).n == 0);  // 0.20 / 0.40 / 0.40: lambda_a and _v differ
}

BOOST_AUTO_TEST_CASE(table2_uses_each_blocks_condition) {
  ResultsDir r;
  for (int seed = 0; seed < 3; ++seed) {
    ResultSummary ours = result(model("auxformer", "optimized"), "crema-d", seed, 0.6 + 0.01 * seed, 0.5);
    ours.f1["audio_only"] = {0.55, 0.45};
    r.results.push_back(ours);
    Settings video = model("unimodal", "optimized");
    video["model.modality"] = "video";
    r.results.push_back(result(video, "crema-d", seed, 0.58, 0.5, "video_only"));
  }
  const Table table = build("table2", r);
  BOOST_TEST(score(table, "video only", kOurs, "crema-d", Metric::micro_f1).n == 0);  // no video_only condition
  BOOST_TEST(score(table, "audio only", kOurs, "crema-d", Metric::micro_f1).mean == 0.55, tt::tolerance(1e-12));
  BOOST_TEST(score(table, "video only", "Baseline 4 (video)", "crema-d", Metric::micro_f1).mean == 0.58,
             tt::tolerance(1e-12));
  BOOST_TEST(score(table, "audio only", "Baseline 4 (audio)", "crema-d", Metric::micro_f1).n == 0);
}

BOOST_AUTO_TEST_CASE(the_manifest_sets_the_expected_seeds_and_names_failed_ones) {
  ResultsDir r;
  add_seeds(r, model("auxformer"), "crema-d", {0, 1, 2}, {0.8, 0.8, 0.8}, {0.8, 0.8, 0.8});
  add_seeds(r, model("baseline1"), "crema-d", {0}, {0.7}, {0.7});
  for (const auto& [name, seeds] : std::vector<std::pair<std::string, int>>{{"auxformer", 3}, {"baseline1", 3}})
    for (int seed = 0; seed < seeds; ++seed)
      r.manifest.push_back({fmt::format("{:016d}", r.manifest.size()),
                            "crema-d",
                            "",
                            {{"model.name", name}, {"seed", std::to_string(seed)}}});
  r.failed.push_back({r.manifest[5].cell_id, "baseline1 seed=2", 3, "out of memory"});
  find_missing(r);
  BOOST_TEST(r.missing.size() == 6u);  // the ids of these results are not the manifest's

  const Table table = build("table1", r);
  const Score& b1 = score(table, "standard", "Baseline 1", "crema-d", Metric::micro_f1);
  BOOST_TEST(b1.n == 1);
  BOOST_TEST(b1.expected == 3);
  BOOST_REQUIRE(table.notes.size() == 1u);
  BOOST_TEST(table.notes[0] ==
             "standard / Baseline 1 on crema-d: 1 of 3 seeds; missing seed 1; failed: seed 2 after 3 attempts "
             "(out of memory)");
  const std::string md = render_markdown(table, {});
  BOOST_TEST(md.find("| 0.700 (n=1 of 3) |") != std::string::npos, md);
  BOOST_TEST(md.find("Fewer seeds than planned: standard / Baseline 1 on crema-d") != std::string::npos);
  BOOST_TEST(table.never_trained);  // seed 1: planned, never trained; the way out is named
  BOOST_TEST(md.find("`auxgrid forget GRID` takes cells that are not wanted off the plan") != std::string::npos, md);
  // Rows with neither results nor planned cells are left out, unless the paper's values are shown.
  BOOST_TEST(md.find("Baseline 3") == std::string::npos);
  BOOST_TEST(render_markdown(table, {true, ""}).find("| Baseline 3 | - |") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(models_the_study_does_not_name_get_rows_of_their_own) {
  ResultsDir r;
  add_seeds(r, model("auxformer"), "crema-d", {0, 1, 2}, {0.8, 0.82, 0.81}, {0.8, 0.8, 0.8});
  add_seeds(r, model("bilstm"), "crema-d", {0, 1, 2}, {0.7, 0.71, 0.69}, {0.7, 0.7, 0.7});  // a plugin
  add_seeds(r, model("mult_up"), "crema-d", {0, 1}, {0.6, 0.6}, {0.6, 0.6});  // named by Figure 8
  // Two versions of one TorchScript file, and the same bytes under another name.
  for (const auto& [hash, path] : std::vector<std::pair<std::string, std::string>>{
           {"aaaaaaaa00000000", "models/gru.pt"}, {"bbbbbbbb00000000", "old/gru.pt"}, {"cccccccc00000000", "tcn.pt"}}) {
    auto settings = model("torchscript");
    settings["model.file_hash"] = hash, settings["model.path"] = path;
    add_seeds(r, settings, "crema-d", {0, 1, 2}, {0.75, 0.74, 0.76}, {0.7, 0.7, 0.7});
  }
  Study study = builtin_study();
  add_unlisted_models(study, r);
  const Table t1 = build("table1", r, study);
  BOOST_TEST(score(t1, "standard", "bilstm", "crema-d", Metric::micro_f1).n == 3);
  BOOST_TEST(score(t1, "standard", "gru (TorchScript, file aaaaaaaa)", "crema-d", Metric::micro_f1).n == 3);
  BOOST_TEST(score(t1, "standard", "tcn (TorchScript)", "crema-d", Metric::micro_f1).n == 3);
  // Each version is its own row (no clash), in both blocks; AuxFormer is tested against it.
  const auto rows_named = [&](const std::string& label) {
    return std::count_if(t1.rows.begin(), t1.rows.end(), [&](const Row& row) { return row.def.label == label; });
  };
  BOOST_TEST(rows_named("gru (TorchScript, file aaaaaaaa)") == 2);
  BOOST_TEST(rows_named("mult_up") == 0);
  BOOST_TEST(find_comparison(t1, "standard", "crema-d", Metric::micro_f1, "bilstm").test.n == 3);
  // An ablation of one model (Table 3) gets no rows of other models.
  const auto t3 = *study.find_table("table3");
  BOOST_TEST(t3.rows.size() == builtin_study().find_table("table3")->rows.size());
}

// Issue 16, item 7: a manifest edited by hand with a bad seed is an error
// naming the manifest and the cell, not "stoll".
BOOST_AUTO_TEST_CASE(a_bad_seed_in_the_manifest_names_it) {
  ResultsDir r;
  r.dir = "res";
  add_seeds(r, model("auxformer"), "crema-d", {0}, {0.8}, {0.8});
  r.manifest.push_back(
      {"00000000000000aa", "crema-d", "", {{"model.name", "auxformer"}, {"seed", "99999999999999999999"}}});
  find_missing(r);
  expect_error([&] { build("table1", r); }, {"res/manifest.tsv", "00000000000000aa", "'99999999999999999999'"});
}

BOOST_AUTO_TEST_CASE(table5_parameters_median_seconds_and_devices) {
  ResultsDir r;
  for (int seed = 0; seed < 3; ++seed) {
    ResultSummary a = result(model("auxformer", "optimized"), "crema-d", seed, 0.7, 0.7);
    a.n_params = 7054748;
    a.epoch_seconds = {10.0 * (seed + 1), 10.0 * (seed + 1) + 2};  // cell means 11, 21, 31
    a.provenance["device_name"] = seed == 2 ? "GPU: B" : "GPU: A";
    r.results.push_back(a);
  }
  const Table table = build("table5", r);
  BOOST_REQUIRE(table.columns.size() == 1u);
  const Cost& cost = table.rows.at(0).costs.at(0);
  BOOST_TEST(cost.params_min == 7054748);
  BOOST_TEST(cost.params_max == 7054748);
  BOOST_TEST(cost.seconds_per_epoch == 21.0);
  BOOST_TEST(cost.cells == 3);
  const std::vector<std::string> devices{"GPU: A", "GPU: B"};
  BOOST_TEST(table.devices == devices, tt::per_element());
  const std::string md = render_markdown(table, {true, ""});
  BOOST_TEST(md.find("| AuxFormer (ours) | 7,054,748 | 21.0 (n=3) | 7,054,748 | 83 |") != std::string::npos, md);
  BOOST_TEST(md.find("measured on: GPU: A; GPU: B") != std::string::npos);
  BOOST_TEST(md.find("Quadro RTX 8000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(renderings) {
  const Table table = build("table1", table1_results());
  const std::string md = render_markdown(table, {false, "results/demo"});
  BOOST_TEST(md.find("| procedure | model | crema-d micro-F1 | crema-d macro-F1 | msp-improv micro-F1 | "
                     "msp-improv macro-F1 |") != std::string::npos);
  BOOST_TEST(md.find("| standard | AuxFormer (ours) | 0.770* (n=5) | 0.760 (n=5) | 0.760* (n=3) | 0.700 (n=3) |\n") !=
                 std::string::npos,
             md);
  BOOST_TEST(md.find("|  | Baseline 2 (MulT) | 0.710 (n=5) | 0.760 (n=5) | - | - |\n") != std::string::npos);

  const std::string paper = render_markdown(table, {true, ""});
  BOOST_TEST(
      paper.find("| standard | AuxFormer (ours) | 0.770* (n=5) | 0.769* | +0.001 | 0.760 (n=5) | 0.768* | -0.008 |") !=
          std::string::npos,
      paper);

  const std::string tex = render_latex(table, {true, "results/my_run"});
  for (const char* part : {"\\toprule", "\\cmidrule(lr){3-8}\\cmidrule(lr){9-14}", "\\multicolumn{6}{c}{msp-improv}",
                           "\\midrule\n    optimized &", "0.770$^{*}$ {\\scriptsize(5)}", "0.720 {\\scriptsize(4/5)}",
                           "\\bottomrule", "\\label{tab:table1}", "% table1 (auxgrid-analyze, results results/my_run)"})
    BOOST_TEST(tex.find(part) != std::string::npos, part);
  // 14 columns span a two-column page; the 6 of the table without the paper's values fit one column.
  BOOST_TEST(tex.find("\\begin{table*}[t]") != std::string::npos);
  BOOST_TEST(tex.find("\\end{table*}") != std::string::npos);
  const std::string narrow = render_latex(table, {false, ""});
  BOOST_TEST(narrow.find("\\begin{table}[t]") != std::string::npos);
  BOOST_TEST(narrow.find("\\end{table}\n") != std::string::npos);

  const std::string csv = render_csv(table, {true, ""});
  BOOST_TEST(csv.rfind("table,block,row,corpus,metric,mean,sd,n,expected,significant,paper,paper_significant,"
                       "difference\n",
                       0) == 0u);
  const Score& s = score(table, "standard", kOurs, "crema-d", Metric::micro_f1);
  BOOST_TEST(csv.find(fmt::format("table1,standard,AuxFormer (ours),crema-d,micro_f1,{},{},5,5,1,0.769,1,{}\n", s.mean,
                                  s.sd, s.mean - 0.769)) != std::string::npos,
             csv);
}

BOOST_AUTO_TEST_CASE(figures_take_their_values_from_the_selection) {
  const Study study = builtin_study();
  ResultsDir r = table1_results();
  for (int seed = 0; seed < 2; ++seed) {
    ResultSummary ours = result(model("auxformer", "optimized"), "msp-improv", seed, 0.8, 0.7);
    ours.f1["mask_audio_p30"] = {0.6 + seed * 0.1, 0.5};
    r.results.push_back(ours);
  }
  const Selection selection(r, study);
  auto figure = [&](const std::string& name) {
    const auto it =
        std::find_if(study.figures.begin(), study.figures.end(), [&](const FigureDef& f) { return f.name == name; });
    BOOST_REQUIRE(it != study.figures.end());
    return build_figure(*it, selection);
  };

  const FigureData box = figure("figure3");  // optimized, ideal, per model
  BOOST_TEST((box.kind == FigureKind::box));
  BOOST_REQUIRE(box.panels.size() == 2u);
  BOOST_TEST(box.panels[0].title == "crema-d");
  const std::vector<double> ours{0.78, 0.79, 0.77, 0.80, 0.76};
  BOOST_TEST(box.panels[0].series.at(0).values.at(0) == ours, tt::per_element());
  BOOST_TEST(box.panels[0].series.at(0).values.at(1).size() == 4u);  // Baseline 1
  // No optimized MulT or Baseline 3 in any panel: no empty slots for them.
  BOOST_TEST(box.categories == (std::vector<std::string>{"AuxFormer", "Baseline 1"}), tt::per_element());
  BOOST_TEST(box.panels[1].series.at(0).values.size() == 2u);

  const FigureData bars = figure("figure4");  // categories = conditions, series = procedures
  // Only "ideal" has results: the other conditions get no empty groups.
  BOOST_TEST(bars.categories == (std::vector<std::string>{"ideal"}), tt::per_element());
  BOOST_TEST(bars.panels[0].series.at(0).label == "standard");
  BOOST_TEST(bars.panels[0].series.at(0).values.at(0).size() == 5u);  // standard, ideal

  const FigureData lines = figure("figure5-audio");  // "{x}" in the condition
  BOOST_TEST(lines.x.size() == 9u);
  BOOST_REQUIRE(lines.panels.size() == 1u);  // crema-d has no masked results: no panel
  const PanelData& msp = lines.panels.at(0);
  BOOST_TEST(msp.title == "msp-improv");
  BOOST_TEST(msp.series.at(0).values.at(2).size() == 2u);  // x = 30
  BOOST_TEST(msp.series.at(0).values.at(3).empty());       // x = 40
  BOOST_REQUIRE(msp.reference_lines.size() == 1u);         // AuxFormer ideal; no Baseline 4
  BOOST_TEST(msp.reference_lines[0].y == 0.8, tt::tolerance(1e-12));
}

// ---- Issue item 9: adjusted p-values, --adjust stars, `power` ----

namespace {

Table build_adjusted(const ResultsDir& results, Adjustment adjustment) {
  const Study study = builtin_study();
  const Selection selection(results, study);
  return build_table(*study.find_table("table1"), selection, adjustment);
}

// Table 1 on corpus "tiny": Baseline 1 trails ours by 0.02 on average (sd
// 0.01), MulT has one seed (no test), Baseline 3 leads by 0.02 (sd 0.01).
ResultsDir power_results() {
  ResultsDir r;
  const std::vector<int> five{0, 1, 2, 3, 4};
  const std::vector<double> ours{0.80, 0.82, 0.81, 0.83, 0.79}, b1{0.78, 0.79, 0.80, 0.80, 0.78},
      b3{0.82, 0.85, 0.82, 0.86, 0.80};
  add_seeds(r, model("auxformer"), "tiny", five, ours, ours);
  add_seeds(r, model("baseline1"), "tiny", five, b1, b1);
  add_seeds(r, model("mult"), "tiny", {0}, {0.7}, {0.7});
  add_seeds(r, model("xmodal"), "tiny", five, b3, b3);
  return r;
}

}  // namespace

// Expected values from R 4.2.2, written in by hand: p = t.test(ours, other,
// paired = TRUE, alternative = "greater")$p.value on table1_results()'s
// scores, then p.adjust(p, "holm") and p.adjust(p, "BH") over the table's 8 tests.
BOOST_AUTO_TEST_CASE(comparisons_carry_holm_and_bh_p_values_checked_against_r) {
  const Table table = build("table1", table1_results());
  struct Want {
    std::string block, corpus;
    Metric metric;
    std::string other;
    double p, holm, bh;
  };
  const std::string b1 = "Baseline 1", mult = "Baseline 2 (MulT)";
  const std::vector<Want> want{
      {"standard", "crema-d", Metric::micro_f1, b1, 2.2725647862728488e-05, 0.0001818051829018279,
       9.0902591450913952e-05},
      {"standard", "crema-d", Metric::micro_f1, mult, 3.1222596816874049e-03, 0.0124890387267496197,
       4.9956154906998481e-03},
      {"standard", "crema-d", Metric::macro_f1, b1, 2.2725647862728488e-05, 0.0001818051829018279,
       9.0902591450913952e-05},
      {"standard", "crema-d", Metric::macro_f1, mult, 0.5, 1, 0.5},
      {"standard", "msp-improv", Metric::micro_f1, b1, 1.8874775675311869e-02, 0.0566243270259356030,
       2.5166367567082491e-02},
      {"standard", "msp-improv", Metric::macro_f1, b1, 0.5, 1, 0.5},
      {"optimized", "crema-d", Metric::micro_f1, b1, 4.8521120087667514e-04, 0.0029112672052600277,
       9.7042240175335029e-04},
      {"optimized", "crema-d", Metric::macro_f1, b1, 4.8521120087667129e-04, 0.0029112672052600277,
       9.7042240175335029e-04},
  };
  BOOST_REQUIRE(table.comparisons.size() == want.size());
  for (const auto& w : want) {
    const Comparison& c = find_comparison(table, w.block, w.corpus, w.metric, w.other);
    BOOST_TEST_CONTEXT(w.block << " " << w.corpus << " " << metric_name(w.metric) << " " << w.other) {
      BOOST_TEST(c.test.p == w.p, tt::tolerance(1e-9));
      BOOST_TEST(c.p_holm == w.holm, tt::tolerance(1e-9));
      BOOST_TEST(c.p_bh == w.bh, tt::tolerance(1e-9));
    }
  }
  // Appended to the CSV's columns, at full precision.
  const std::string csv = render_comparisons_csv({table});
  BOOST_TEST(csv.rfind("table,block,corpus,metric,reference,other,n,mean_reference,mean_other,mean_difference,"
                       "mean_difference_ci95_low,mean_difference_ci95_high,sd_difference,cohens_dz,t,df,p,significant,"
                       "p_two_sided,p_holm,p_bh\n",
                       0) == 0u,
             csv);
  const Comparison& msp = find_comparison(table, "standard", "msp-improv", Metric::micro_f1, b1);
  BOOST_TEST(csv.find(fmt::format("Baseline 1,3,{},{},{},{},{},{},{},{},2,{},1,{},{},{}\n", msp.test.mean_a,
                                  msp.test.mean_b, msp.test.mean_diff, msp.test.ci95_low, msp.test.ci95_high,
                                  msp.test.sd_diff, msp.test.mean_diff / msp.test.sd_diff, msp.test.t, msp.test.p,
                                  msp.p_two_sided, msp.p_holm, msp.p_bh)) != std::string::npos,
             csv);
}

BOOST_AUTO_TEST_CASE(adjusted_p_values_set_the_stars_on_request) {
  const ResultsDir results = table1_results();
  // msp-improv micro-F1: p = 0.0189, Holm 0.0566, BH 0.0252 (the case above).
  const Table none = build_adjusted(results, Adjustment::none);
  const Table holm = build_adjusted(results, Adjustment::holm);
  const Table bh = build_adjusted(results, Adjustment::bh);
  BOOST_TEST(score(none, "standard", kOurs, "msp-improv", Metric::micro_f1).significant);
  BOOST_TEST(!score(holm, "standard", kOurs, "msp-improv", Metric::micro_f1).significant);
  BOOST_TEST(score(bh, "standard", kOurs, "msp-improv", Metric::micro_f1).significant);
  for (const Table* table : {&holm, &bh}) {
    BOOST_TEST(score(*table, "standard", kOurs, "crema-d", Metric::micro_f1).significant);
    BOOST_TEST(!score(*table, "standard", kOurs, "crema-d", Metric::macro_f1).significant);
    BOOST_TEST(score(*table, "optimized", kOurs, "crema-d", Metric::micro_f1).significant);
  }
  // The adjusted p-values do not depend on which one sets the stars.
  BOOST_TEST(holm.comparisons.at(4).p_holm == none.comparisons.at(4).p_holm);

  // The legend says which p-values set the stars; without --adjust it is as before.
  const std::string plain = render_markdown(none, {});
  BOOST_TEST(plain.find("(one-tailed paired t-test over shared seeds, p < 0.05).") != std::string::npos, plain);
  const std::string md = render_markdown(holm, {});
  BOOST_TEST(md.find("(one-tailed paired t-test over shared seeds, Holm-adjusted p < 0.05 over the table's 8 "
                     "tests).") != std::string::npos,
             md);
  BOOST_TEST(md.find("| standard | AuxFormer (ours) | 0.770* (n=5) | 0.760 (n=5) | 0.760 (n=3) | 0.700 (n=3) |\n") !=
                 std::string::npos,
             md);
  BOOST_TEST(render_latex(bh, {}).find("Benjamini-Hochberg-adjusted p < 0.05 over the table's 8 tests") !=
             std::string::npos);
  const Score& msp = score(holm, "standard", kOurs, "msp-improv", Metric::micro_f1);
  const std::string csv = render_csv(holm, {});
  BOOST_TEST(csv.find(fmt::format("table1,standard,AuxFormer (ours),msp-improv,micro_f1,{},{},3,3,0\n", msp.mean,
                                  msp.sd)) != std::string::npos,
             csv);
}

// Expected values from R 4.2.2, written in by hand: ceiling(power.t.test(delta,
// sd = sd(ours - other), sig.level = 0.05, power, type = "paired", alternative
// = "one.sided")$n): Baseline 1 at its observed 0.02 (sd 0.01): 3.34 -> 4;
// at 0.01: 7.73 -> 8 (power 0.8), 10.08 -> 11 (0.9); Baseline 3 the same at 0.01.
BOOST_AUTO_TEST_CASE(power_gives_the_seeds_r_computes) {
  const Table table = build("table1", power_results());
  BOOST_REQUIRE(table.comparisons.size() == 6u);  // 2 metrics x 3 others
  // MulT's single pair has no p-value and is not in the family: Holm over 4
  // tests (R: p.adjust(c(p1, p3, p1, p3), "holm")), not 6.
  BOOST_TEST(std::isnan(find_comparison(table, "standard", "tiny", Metric::micro_f1, "Baseline 2 (MulT)").p_holm));
  BOOST_TEST(find_comparison(table, "standard", "tiny", Metric::micro_f1, "Baseline 1").p_holm == 0.022112986786899901,
             tt::tolerance(1e-9));

  const std::string text = render_power({table}, {}, false);
  for (const char* line :
       {"Seeds a one-tailed paired t-test (p < 0.05) needs to detect the difference with power 0.8, at each "
        "comparison's observed sd of the paired differences; to detect: the observed mean difference (--difference "
        "sets one).\n\n",
        "table   block     corpus  metric    reference         other              seeds now  mean diff  sd diff  "
        "to detect                     seeds needed\n",
        "table1  standard  tiny    micro_f1  AuxFormer (ours)  Baseline 1                 5       0.02     0.01       "
        "0.02                                4\n",
        "table1  standard  tiny    micro_f1  AuxFormer (ours)  Baseline 2 (MulT)          1        0.1        -        "
        "0.1        fewer than 2 paired seeds\n",
        "table1  standard  tiny    macro_f1  AuxFormer (ours)  Baseline 3                 5      -0.02     0.01      "
        "-0.02  no positive difference observed\n"})
    BOOST_TEST(text.find(line) != std::string::npos, line << "\nin:\n" << text);

  const std::string csv = render_power({table}, {0.01, 0.9}, true);
  BOOST_TEST(csv.rfind("table,block,corpus,metric,reference,other,n,mean_difference,sd_difference,difference,power,"
                       "seeds_needed,note\n",
                       0) == 0u,
             csv);
  const Comparison& b1 = find_comparison(table, "standard", "tiny", Metric::micro_f1, "Baseline 1");
  const Comparison& b3 = find_comparison(table, "standard", "tiny", Metric::micro_f1, "Baseline 3");
  for (const std::string& line :
       {fmt::format("table1,standard,tiny,micro_f1,AuxFormer (ours),Baseline 1,5,{},{},0.01,0.9,11,\n",
                    b1.test.mean_diff, b1.test.sd_diff),
        fmt::format("table1,standard,tiny,micro_f1,AuxFormer (ours),Baseline 3,5,{},{},0.01,0.9,11,\n",
                    b3.test.mean_diff, b3.test.sd_diff),
        fmt::format("table1,standard,tiny,micro_f1,AuxFormer (ours),Baseline 2 (MulT),1,{},,0.01,0.9,,"
                    "fewer than 2 paired seeds\n",
                    0.80 - 0.7)})
    BOOST_TEST(csv.find(line) != std::string::npos, line << "\nin:\n" << csv);
  BOOST_TEST(render_power({table}, {0.01, 0.8}, true).find(",0.01,0.8,8,\n") != std::string::npos);
  // A difference too small for kMaxPairs seeds says so.
  BOOST_TEST(render_power({table}, {1e-5, 0.8}, false).find("more than 100000\n") != std::string::npos);
}
