#define BOOST_TEST_MODULE analysis
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

#include "analysis/tables.hpp"
#include "auxgrid/core/check.hpp"

namespace tt = boost::test_tools;
using namespace auxgrid::analysis;
using auxgrid::store::ResultSummary;

namespace {

ResultSummary result(const std::string& model, const std::string& procedure, const std::string& corpus, int seed,
                     double micro, double macro) {
  ResultSummary r;
  r.path = fmt::format("cells/{}-{}-{}-{}.h5", model, procedure, corpus, seed);
  r.model = model;
  r.procedure = procedure;
  r.corpus = corpus;
  r.seed = seed;
  r.config = {{"model.name", model}, {"train.procedure", procedure}, {"seed", std::to_string(seed)}};
  r.f1["ideal"] = {micro, macro};
  r.f1["audio_only"] = {0.5, 0.4};  // other conditions must not leak into Table 1
  return r;
}

void add_seeds(std::vector<ResultSummary>& out, const std::string& model, const std::string& procedure,
               const std::string& corpus, const std::vector<int>& seeds, const std::vector<double>& micro,
               const std::vector<double>& macro) {
  for (std::size_t i = 0; i < seeds.size(); ++i)
    out.push_back(result(model, procedure, corpus, seeds[i], micro[i], macro[i]));
}

// Known per-seed scores, chosen so that:
//  standard, CREMA-D micro: the reference beats baseline1 and mult -> star
//  standard, CREMA-D macro: it beats baseline1 but not mult (mean difference 0) -> no star
//  standard, MSP-IMPROV: mult has no result there, so only baseline1 counts
//  optimized: baseline1 lacks seed 2 -> the test pairs the 4 shared seeds
std::vector<ResultSummary> grid_results() {
  std::vector<ResultSummary> r;
  const std::vector<int> five{0, 1, 2, 3, 4}, three{0, 1, 2};
  add_seeds(r, "mult", "standard", "CREMA-D", five, {0.71, 0.70, 0.72, 0.70, 0.72}, {0.77, 0.76, 0.74, 0.79, 0.74});
  add_seeds(r, "auxformer", "standard", "CREMA-D", five, {0.77, 0.78, 0.76, 0.79, 0.75},
            {0.76, 0.77, 0.75, 0.78, 0.74});
  add_seeds(r, "baseline1", "standard", "CREMA-D", five, {0.70, 0.72, 0.71, 0.73, 0.69},
            {0.69, 0.71, 0.70, 0.72, 0.68});
  add_seeds(r, "auxformer", "standard", "MSP-IMPROV", three, {0.76, 0.75, 0.77}, {0.70, 0.71, 0.69});
  add_seeds(r, "baseline1", "standard", "MSP-IMPROV", three, {0.74, 0.74, 0.75}, {0.69, 0.72, 0.69});
  add_seeds(r, "baseline1", "optimized", "CREMA-D", {0, 1, 3, 4}, {0.72, 0.74, 0.73, 0.69},
            {0.71, 0.73, 0.72, 0.68});
  add_seeds(r, "auxformer", "optimized", "CREMA-D", five, {0.78, 0.79, 0.77, 0.80, 0.76},
            {0.77, 0.78, 0.76, 0.79, 0.75});
  // Not a Table 1 result: no ideal condition.
  ResultSummary video_only = result("auxformer", "standard", "CREMA-D", 9, 0, 0);
  video_only.f1.erase("ideal");
  r.push_back(video_only);
  return r;
}

const Row& find_row(const Table& table, const std::string& block, const std::string& model) {
  const auto it = std::find_if(table.rows.begin(), table.rows.end(),
                               [&](const Row& r) { return r.block == block && r.model == model; });
  BOOST_REQUIRE(it != table.rows.end());
  return *it;
}

std::size_t column_index(const Table& table, const std::string& corpus, Metric metric) {
  const auto it = std::find_if(table.columns.begin(), table.columns.end(),
                               [&](const Column& c) { return c.corpus == corpus && c.metric == metric; });
  BOOST_REQUIRE(it != table.columns.end());
  return static_cast<std::size_t>(it - table.columns.begin());
}

const Score& score(const Table& table, const std::string& block, const std::string& model, const std::string& corpus,
                   Metric metric) {
  return find_row(table, block, model).scores.at(column_index(table, corpus, metric));
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

}  // namespace

BOOST_AUTO_TEST_CASE(rows_blocks_and_columns_are_ordered) {
  const Table table = build_table1(grid_results());
  BOOST_TEST(table.name == "table1");
  BOOST_TEST(table.results_used == 30u);  // the result without "ideal" is left out
  BOOST_REQUIRE(table.columns.size() == 4u);
  BOOST_TEST(table.columns[0].corpus == "CREMA-D");
  BOOST_TEST((table.columns[0].metric == Metric::micro_f1));
  BOOST_TEST((table.columns[1].metric == Metric::macro_f1));
  BOOST_TEST(table.columns[2].corpus == "MSP-IMPROV");
  std::vector<std::string> order;
  for (const auto& row : table.rows) order.push_back(row.block + "/" + row.model);
  const std::vector<std::string> expected{"standard/auxformer", "standard/baseline1", "standard/mult",
                                          "optimized/auxformer", "optimized/baseline1"};
  BOOST_TEST(order == expected, tt::per_element());
}

BOOST_AUTO_TEST_CASE(means_and_seed_counts) {
  const Table table = build_table1(grid_results());
  const Score& ref = score(table, "standard", "auxformer", "CREMA-D", Metric::micro_f1);
  BOOST_TEST(ref.mean == 0.77, tt::tolerance(1e-12));
  BOOST_TEST(ref.n == 5);
  BOOST_TEST(score(table, "standard", "mult", "CREMA-D", Metric::macro_f1).mean == 0.76, tt::tolerance(1e-12));
  BOOST_TEST(score(table, "standard", "auxformer", "MSP-IMPROV", Metric::macro_f1).mean == 0.70,
             tt::tolerance(1e-12));
  BOOST_TEST(score(table, "standard", "auxformer", "MSP-IMPROV", Metric::macro_f1).n == 3);
  BOOST_TEST(score(table, "standard", "mult", "MSP-IMPROV", Metric::micro_f1).n == 0);
  const Score& partial = score(table, "optimized", "baseline1", "CREMA-D", Metric::micro_f1);
  BOOST_TEST(partial.mean == (0.72 + 0.74 + 0.73 + 0.69) / 4, tt::tolerance(1e-12));
  BOOST_TEST(partial.n == 4);
}

BOOST_AUTO_TEST_CASE(star_only_when_the_reference_beats_every_other_model) {
  const Table table = build_table1(grid_results());
  // Beats both.
  BOOST_TEST(score(table, "standard", "auxformer", "CREMA-D", Metric::micro_f1).significant);
  // Beats baseline1 but not mult.
  BOOST_TEST(find_comparison(table, "standard", "CREMA-D", Metric::macro_f1, "baseline1").test.p < 0.05);
  BOOST_TEST(find_comparison(table, "standard", "CREMA-D", Metric::macro_f1, "mult").test.p >= 0.05);
  BOOST_TEST(!score(table, "standard", "auxformer", "CREMA-D", Metric::macro_f1).significant);
  // mult has no MSP-IMPROV result, so baseline1 is the only model compared.
  BOOST_TEST(score(table, "standard", "auxformer", "MSP-IMPROV", Metric::micro_f1).significant);
  BOOST_TEST(!score(table, "standard", "auxformer", "MSP-IMPROV", Metric::macro_f1).significant);
  BOOST_TEST(score(table, "optimized", "auxformer", "CREMA-D", Metric::micro_f1).significant);
  // Other models never get a star.
  for (const auto& row : table.rows)
    if (row.model != "auxformer")
      for (const auto& s : row.scores) BOOST_TEST(!s.significant);
}

BOOST_AUTO_TEST_CASE(no_star_without_another_model_or_without_shared_seeds) {
  std::vector<ResultSummary> alone;
  add_seeds(alone, "auxformer", "standard", "CREMA-D", {0, 1, 2}, {0.8, 0.9, 0.7}, {0.8, 0.9, 0.7});
  const Table only_reference = build_table1(alone);
  BOOST_TEST(!only_reference.rows.at(0).scores.at(0).significant);
  BOOST_TEST(only_reference.comparisons.empty());

  std::vector<ResultSummary> disjoint = alone;
  add_seeds(disjoint, "baseline1", "standard", "CREMA-D", {5, 6, 7}, {0.1, 0.2, 0.1}, {0.1, 0.2, 0.1});
  const Table unpaired = build_table1(disjoint);
  BOOST_REQUIRE(unpaired.comparisons.size() == 2u);
  BOOST_TEST(unpaired.comparisons[0].test.n == 0);
  BOOST_TEST(std::isnan(unpaired.comparisons[0].test.p));
  BOOST_TEST(!unpaired.rows.at(0).scores.at(0).significant);
}

BOOST_AUTO_TEST_CASE(comparisons_match_an_independent_t_test) {
  const Table table = build_table1(grid_results());
  BOOST_TEST(table.comparisons.size() == 8u);  // standard: 2 + 2 + 1 + 1, optimized: 1 + 1

  const Comparison& mult = find_comparison(table, "standard", "CREMA-D", Metric::micro_f1, "mult");
  const Expected e = one_tailed_paired({0.77, 0.78, 0.76, 0.79, 0.75}, {0.71, 0.70, 0.72, 0.70, 0.72});
  BOOST_TEST(mult.table == "table1");
  BOOST_TEST(mult.reference == "auxformer");
  BOOST_TEST(mult.test.n == 5);
  BOOST_TEST(mult.test.mean_a == 0.77, tt::tolerance(1e-12));
  BOOST_TEST(mult.test.mean_b == 0.71, tt::tolerance(1e-12));
  BOOST_TEST(mult.test.t == e.t, tt::tolerance(1e-10));
  BOOST_TEST(mult.test.p == e.p, tt::tolerance(1e-10));

  // Paired on the seeds both have: seed 2 of the reference is dropped.
  const Comparison& paired = find_comparison(table, "optimized", "CREMA-D", Metric::macro_f1, "baseline1");
  const Expected f = one_tailed_paired({0.77, 0.78, 0.79, 0.75}, {0.71, 0.73, 0.72, 0.68});
  BOOST_TEST(paired.test.n == 4);
  BOOST_TEST(paired.test.mean_a == (0.77 + 0.78 + 0.79 + 0.75) / 4, tt::tolerance(1e-12));
  BOOST_TEST(paired.test.t == f.t, tt::tolerance(1e-10));
  BOOST_TEST(paired.test.p == f.p, tt::tolerance(1e-10));
}

BOOST_AUTO_TEST_CASE(results_that_collide_are_an_error) {
  std::vector<ResultSummary> r = grid_results();
  ResultSummary variant = result("auxformer", "standard", "CREMA-D", 0, 0.5, 0.5);
  variant.path = "cells/no-pe.h5";
  variant.config["model.pos_encoding"] = "false";
  r.push_back(variant);
  BOOST_CHECK_EXCEPTION(build_table1(r), auxgrid::Error, [](const auxgrid::Error& e) {
    const std::string message = e.what();
    return message.find("cells/no-pe.h5") != std::string::npos &&
           message.find("model.pos_encoding") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(markdown_has_the_expected_rows) {
  const std::string md = render_markdown(build_table1(grid_results()), "results/demo");
  BOOST_TEST(md.find("results/demo (30 result files)") != std::string::npos);
  BOOST_TEST(md.find("| procedure | model | CREMA-D micro-F1 | CREMA-D macro-F1 | MSP-IMPROV micro-F1 | "
                     "MSP-IMPROV macro-F1 |") != std::string::npos);
  BOOST_TEST(md.find("| standard | AuxFormer (ours) | 0.770* (n=5) | 0.760 (n=5) | 0.760* (n=3) | 0.700 (n=3) |\n") !=
             std::string::npos);
  BOOST_TEST(md.find("| standard | Baseline 1 | 0.710 (n=5) | 0.700 (n=5) | 0.743 (n=3) | 0.700 (n=3) |\n") !=
             std::string::npos);
  BOOST_TEST(md.find("| standard | mult | 0.710 (n=5) | 0.760 (n=5) | - | - |\n") != std::string::npos);
  BOOST_TEST(md.find("| optimized | Baseline 1 | 0.720 (n=4) | 0.710 (n=4) | - | - |\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(csv_renderings) {
  const Table table = build_table1(grid_results());
  const std::string csv = render_csv(table);
  BOOST_TEST(csv.rfind("procedure,model,CREMA-D micro_f1,CREMA-D micro_f1 n,CREMA-D micro_f1 star,", 0) == 0u);
  BOOST_TEST(csv.find("\nstandard,mult,") != std::string::npos);
  BOOST_TEST(std::count(csv.begin(), csv.end(), '\n') == 6);  // header + 5 rows

  const std::string comparisons = render_comparisons_csv(table);
  BOOST_TEST(comparisons.rfind("table,block,corpus,metric,reference,other,n,mean_reference,mean_other,t,p\n", 0) ==
             0u);
  BOOST_TEST(std::count(comparisons.begin(), comparisons.end(), '\n') == 9);  // header + 8 comparisons
  // Full precision: the shortest text that reads back as the same double.
  const Comparison& c = find_comparison(table, "standard", "CREMA-D", Metric::micro_f1, "mult");
  BOOST_TEST(comparisons.find(fmt::format("table1,standard,CREMA-D,micro_f1,auxformer,mult,5,{},{},{},{}\n",
                                          c.test.mean_a, c.test.mean_b, c.test.t, c.test.p)) != std::string::npos);
}
