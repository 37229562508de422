#define BOOST_TEST_MODULE figures
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <optional>
#include <string>

#include "analysis/gnuplot.hpp"
#include "tests/expect_error.hpp"
#include "tests/temp_files.hpp"

using namespace auxgrid::analysis;
namespace utf = boost::unit_test;

namespace {

// The plotting cases need a gnuplot program; without one they are skipped, and say so.
struct HasGnuplot {
  boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
    boost::test_tools::assertion_result ok(!gnuplot_version().empty());
    ok.message() << "SKIPPED: no gnuplot program on PATH or at $" << kGnuplotEnv
                 << " (install gnuplot-nox to test the figures)";
    return ok;
  }
};

// Sets AUXGRID_GNUPLOT for the scope of a test, then restores it.
struct GnuplotEnv {
  std::optional<std::string> saved;
  explicit GnuplotEnv(const std::string& value) {
    if (const char* v = std::getenv(kGnuplotEnv)) saved = v;
    setenv(kGnuplotEnv, value.c_str(), 1);
  }
  ~GnuplotEnv() {
    if (saved)
      setenv(kGnuplotEnv, saved->c_str(), 1);
    else
      unsetenv(kGnuplotEnv);
  }
};

// Labels with characters that gnuplot would otherwise interpret (enhanced text, quoting).
const std::string kTitle = R"(Figure 4: "noisy" audio_only, x^2 @y {z} \n o'clock)";

// A figure with the fixtures' title and no data yet.
FigureData empty_figure(const std::string& name, FigureKind kind, const std::string& x_label,
                        const std::string& y_label) {
  FigureData fig;
  fig.name = name;
  fig.title = kTitle;
  fig.kind = kind;
  fig.x_label = x_label;
  fig.y_label = y_label;
  return fig;
}

FigureData bars_figure() {
  auto fig = empty_figure("figure4", FigureKind::bars, "", "micro_F1");
  fig.categories = {"ideal", "audio_only", "video_only"};
  const SeriesData ours{"auxformer_ours", {{0.70, 0.72, 0.74}, {0.60, 0.61}, {}}};  // no video_only result
  const SeriesData base{"baseline \"1\" & co", {{0.65, 0.66}, {0.50}, {0.55, 0.57, 0.56}}};
  fig.panels = {{"crema_d", {ours, base}, {}}, {"msp \"improv\"", {base, ours}, {}}};  // series order differs
  return fig;
}

FigureData box_figure() {
  auto fig = empty_figure("figure3", FigureKind::box, "", "macro_F1");
  fig.categories = {"standard_procedure", "optimized", "missing"};
  fig.panels = {
      {"crema_d", {{"auxformer_ours", {{0.70, 0.72, 0.71, 0.73, 0.69}, {0.75, 0.76, 0.74}, {}}}}, {}},
      {"msp_improv", {{"auxformer_ours", {{0.60, 0.62}, {0.66}, {0.5, 0.52, 0.51, 0.53}}}}, {}},
  };
  return fig;
}

FigureData lines_figure() {
  auto fig = empty_figure("figure6", FigureKind::lines, "kept_fraction of frames (%)", "micro_F1");
  fig.x = {10, 25, 50, 100};
  const SeriesData ours{"auxformer_ours", {{0.60, 0.62}, {0.66, 0.68}, {}, {0.75, 0.76, 0.77}}};
  const SeriesData base{"baseline_1", {{0.55}, {0.58, 0.60}, {0.63, 0.65}, {0.70}}};
  fig.panels = {{"crema_d", {ours, base}, {{"audio_only", 0.58}, {"video \"only\"", 0.5}}},
                {"msp_improv", {base}, {{"audio_only", 0.52}}}};
  return fig;
}

// Renders fig and checks what every kind must produce; returns the data file's text.
std::string render_and_check(const FigureData& fig, const TempDir& tmp) {
  const FigureFiles files = plot_figure(fig, tmp.dir.string());
  BOOST_TEST(files.svg == tmp / (fig.name + ".svg"));
  BOOST_TEST(files.png == tmp / (fig.name + ".png"));

  const std::string svg = bytes_of(files.svg), png = bytes_of(files.png);
  BOOST_TEST((svg.rfind("<?xml", 0) == 0 || svg.find("<svg") != std::string::npos));
  BOOST_TEST(svg.size() > 5000u);
  BOOST_TEST(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
  BOOST_TEST(png.size() > 5000u);
  // Titles print literally: no subscripts, no lost quotes or backslashes (SVG needs no escaping here).
  BOOST_TEST(svg.find(kTitle) != std::string::npos, "title not in the SVG");
  BOOST_TEST(svg.find(fig.panels[0].title) != std::string::npos);
  BOOST_TEST(svg.find(fig.y_label) != std::string::npos);

  const std::string script = bytes_of(tmp / (fig.name + ".gp"));
  BOOST_TEST(script.find("set terminal svg") != std::string::npos);
  BOOST_TEST(script.find("set terminal pngcairo") != std::string::npos);
  const std::string data = bytes_of(tmp / (fig.name + ".dat"));
  BOOST_TEST(data.rfind("# " + fig.name + ": ", 0) == 0, "no commented header in the data file");
  return data;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_CASE(bars_show_means_and_sds_per_series, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  const FigureData fig = bars_figure();
  const std::string data = render_and_check(fig, tmp);
  // Per block: x category, then mean sd n of auxformer_ours, then of the baseline (the first panel's order).
  BOOST_TEST(contains(data, "\n0 \"ideal\" 0.72 0.02 3 0.655 0.00707107 2\n"), data);
  BOOST_TEST(contains(data, "\n1 \"audio_only\" 0.605 0.00707107 2 0.5 0 1\n"), data);
  BOOST_TEST(contains(data, "\n2 \"video_only\" NaN NaN 0 0.56 0.01 3\n"), data);  // empty: no bar
  // The second panel lists its series the other way round: same columns all the same.
  const std::string panel2 = data.substr(data.find("# panel 2"));
  BOOST_TEST(contains(panel2, "\n0 \"ideal\" 0.72 0.02 3 0.655 0.00707107 2\n"), panel2);

  const std::string svg = bytes_of(tmp / "figure4.svg");
  BOOST_TEST(contains(svg, "auxformer_ours"));           // legend
  BOOST_TEST(contains(svg, "baseline \"1\" &amp; co"));  // XML-escaped by the terminal, not mangled
  BOOST_TEST(contains(svg, "audio_only"));               // x tick label
  BOOST_TEST(contains(svg, "msp \"improv\""));
}

BOOST_AUTO_TEST_CASE(box_plots_quartiles_and_seeds, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  const std::string data = render_and_check(box_figure(), tmp);
  // x category min q1 median q3 max mean n, then the per-seed values padded with NaN to the longest list.
  BOOST_TEST(contains(data, "\n0 \"standard_procedure\" 0.69 0.7 0.71 0.72 0.73 0.71 5 0.7 0.72 0.71 0.73 0.69\n"),
             data);
  BOOST_TEST(contains(data, "\n1 \"optimized\" 0.74 0.745 0.75 0.755 0.76 0.75 3 0.75 0.76 0.74 NaN NaN\n"), data);
  BOOST_TEST(contains(data, "\n2 \"missing\" NaN NaN NaN NaN NaN NaN 0 NaN NaN NaN NaN NaN\n"), data);
  BOOST_TEST(contains(data, "\n1 \"optimized\" 0.66 0.66 0.66 0.66 0.66 0.66 1 0.66 NaN"), data);
  const std::string svg = bytes_of(tmp / "figure3.svg");
  BOOST_TEST(contains(svg, "standard_procedure"));
  BOOST_TEST(contains(svg, "per-seed values"));
}

BOOST_AUTO_TEST_CASE(lines_show_means_and_reference_lines, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  const std::string data = render_and_check(lines_figure(), tmp);
  // x, then mean sd n per series; x = 50 has no auxformer result.
  BOOST_TEST(contains(data, "\n10 0.61 0.0141421 2 0.55 0 1\n"), data);
  BOOST_TEST(contains(data, "\n50 NaN NaN 0 0.64 0.0141421 2\n"), data);
  // The second panel has only the baseline: the auxformer columns are NaN.
  const std::string panel2 = data.substr(data.find("# panel 2"));
  BOOST_TEST(contains(panel2, "\n100 NaN NaN 0 0.7 0 1\n"), panel2);

  const std::string svg = bytes_of(tmp / "figure6.svg");
  BOOST_TEST(contains(svg, "video \"only\""));  // reference lines are in the legend
  BOOST_TEST(contains(svg, "audio_only"));
  BOOST_TEST(contains(svg, "kept_fraction of frames (%)"));
  const std::string script = bytes_of(tmp / "figure6.gp");
  BOOST_TEST(contains(script, "0.58 with lines dt 2"));  // the reference line, dashed
}

BOOST_AUTO_TEST_CASE(error_bars_stop_at_0_and_1_for_scores, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  FigureData fig = bars_figure();
  fig.panels[0].series[0].values[0] = {1.0, 0.6, 1.0};  // mean 0.87, sd 0.23: the bar would reach 1.1
  render_and_check(fig, tmp);
  const std::string script = bytes_of(tmp / "figure4.gp");
  BOOST_TEST(contains(script, "($3 + $4 > 1 ? 1 : $3 + $4)"), script);
  BOOST_TEST(contains(script, ":1]\n"), script);  // the axis stops at 1 too
  // Values outside [0, 1] (a loss, say) keep their full bars.
  fig.panels[0].series[0].values[0] = {1.5, 0.6, 1.0};
  render_and_check(fig, tmp);
  BOOST_TEST(!contains(bytes_of(tmp / "figure4.gp"), "> 1 ? 1"));
}

BOOST_AUTO_TEST_CASE(traces_draw_a_thin_line_per_series_sharing_colours_by_label, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  auto fig = empty_figure("curves", FigureKind::traces, "epoch", "loss (nats)");
  fig.x = {1, 2, 3};
  fig.panels = {{"crema_d",
                 {{"train loss", {{1.4}, {1.2}, {1.1}}},
                  {"train loss", {{1.5}, {1.3}, {}}},  // a seed that stopped early
                  {"dev loss", {{1.45}, {1.3}, {1.25}}}},
                 {}}};
  const std::string data = render_and_check(fig, tmp);
  BOOST_TEST(contains(data, "\n1 1.4 1.5 1.45\n"), data);
  BOOST_TEST(contains(data, "\n3 1.1 NaN 1.25\n"), data);
  const std::string script = bytes_of(tmp / "curves.gp");
  // Both training traces in the first colour, the dev trace in the second; one legend entry each.
  BOOST_TEST(contains(script, "using 1:2 with lines lw 1 lc rgb '#4E79A7'"), script);
  BOOST_TEST(contains(script, "using 1:3 with lines lw 1 lc rgb '#4E79A7'"), script);
  BOOST_TEST(contains(script, "using 1:4 with lines lw 1 lc rgb '#F28E2B'"), script);
  BOOST_TEST(contains(script, "title 'train loss'"));
  BOOST_TEST(contains(script, "title 'dev loss'"));

  fig.panels[0].series[0].values[0] = {1.4, 1.3};  // a trace has one value per x
  expect_error([&] { plot_figure(fig, tmp.dir.string()); }, {"figure curves", "trace 'train loss'", "2 values"});
}

BOOST_AUTO_TEST_CASE(rerunning_the_script_by_hand_redraws_the_figure, *utf::precondition(HasGnuplot())) {
  TempDir tmp;
  plot_figure(lines_figure(), tmp.dir.string());
  std::filesystem::remove(tmp / "figure6.png");
  const char* program = std::getenv(kGnuplotEnv);
  const std::string command =
      "cd '" + tmp.dir.string() + "' && '" + (program ? program : "gnuplot") + "' figure6.gp 2>/dev/null";
  BOOST_TEST(std::system(command.c_str()) == 0);
  BOOST_TEST(bytes_of(tmp / "figure6.png").rfind("\x89PNG", 0) == 0);
}

BOOST_AUTO_TEST_CASE(a_missing_gnuplot_is_reported) {
  const GnuplotEnv env("/nonexistent");
  BOOST_TEST(gnuplot_version() == "");
  TempDir tmp;
  expect_error([&] { plot_figure(bars_figure(), tmp.dir.string()); }, {"figure4", "figure4.gp", "/nonexistent"});
  // The data and the script are written all the same, to render elsewhere.
  BOOST_TEST(contains(bytes_of(tmp / "figure4.gp"), "set multiplot"));
  BOOST_TEST(!std::filesystem::exists(tmp / "figure4.svg"));
}

BOOST_AUTO_TEST_CASE(a_failing_script_is_reported_with_gnuplot_s_messages) {
  // A "gnuplot" that fails like a script error: the message quotes its stderr.
  TempDir tmp;
  const std::string fake = tmp / "fake-gnuplot";
  {
    std::ofstream out(fake);
    out << "#!/bin/sh\necho 'line 7: unknown or ambiguous terminal type' >&2\nexit 1\n";
  }
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const GnuplotEnv env(fake);
  BOOST_TEST(gnuplot_version() == "");  // it does not say "gnuplot ..."
  expect_error([&] { plot_figure(box_figure(), (tmp.dir / "out").string()); },
               {"figure3", "figure3.gp", "exit status 1", "unknown or ambiguous terminal type"});
}

BOOST_AUTO_TEST_CASE(bad_output_directories_and_data_are_errors) {
  TempDir tmp;
  { std::ofstream(tmp / "a-file") << "x"; }
  expect_error([&] { plot_figure(bars_figure(), tmp / "a-file/figures"); }, {"figure4", "a-file/figures"});

  FigureData fig = bars_figure();
  fig.panels[1].series[0].values.pop_back();
  expect_error([&] { plot_figure(fig, tmp.dir.string()); }, {"figure4", "msp \"improv\"", "2 value lists for 3"});
  fig = bars_figure();
  fig.panels[0].series[1].label = fig.panels[0].series[0].label;
  expect_error([&] { plot_figure(fig, tmp.dir.string()); }, {"figure4", "two series labelled 'auxformer_ours'"});
  fig = lines_figure();
  fig.name = "../escape";
  expect_error([&] { plot_figure(fig, tmp.dir.string()); }, {"../escape", "file stem"});
}
