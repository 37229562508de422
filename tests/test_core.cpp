#define BOOST_TEST_MODULE core
#include <boost/test/unit_test.hpp>

#include "expect_error.hpp"
#include "temp_files.hpp"
#include "write_limits.hpp"
#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <regex>
#include <set>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>
#include <chrono>
#include <thread>

#include "auxgrid/core/allocator.hpp"
#include "auxgrid/core/check.hpp"
#include "auxgrid/core/config.hpp"
#include "auxgrid/core/files.hpp"
#include "auxgrid/core/grid.hpp"
#include "auxgrid/core/registry.hpp"
#include "auxgrid/core/stop_signals.hpp"

using namespace auxgrid;

BOOST_AUTO_TEST_CASE(config_defaults_and_typed_set) {
  auto c = Config::defaults();
  BOOST_TEST(c.integer("model.width") == 130);
  BOOST_TEST(c.str("train.procedure") == "standard");
  c.set("train.lr", std::int64_t{1});  // an integer where a number is declared
  BOOST_TEST(c.real("train.lr") == 1.0);
  c.set_from_text("model.padding_mask", "false");
  BOOST_TEST(!c.flag("model.padding_mask"));
  c.set_from_text("train.lambda_a", "0.5");
  BOOST_TEST(c.real("train.lambda_a") == 0.5);
}

BOOST_AUTO_TEST_CASE(config_rejects_bad_settings_naming_the_key) {
  auto c = Config::defaults();
  expect_error([&] { c.set("model.widht", std::int64_t{3}, "g.toml:4"); }, {"g.toml:4", "model.widht", "model.width"});
  expect_error([&] { c.set("model.width", std::string("wide")); }, {"model.width", "integer"});
  expect_error([&] { c.set("train.lambda_av", -0.5); }, {"train.lambda_av", "outside"});
  expect_error([&] { c.set("train.procedure", std::string("fast")); }, {"train.procedure", "standard, optimized"});
  expect_error([&] { c.set_from_text("train.epochs", "3x"); }, {"train.epochs", "3x"});
  // Reading a setting as the wrong type names the key (a plugin's or a caller's mistake).
  expect_error([&] { c.integer("train.procedure"); }, {"train.procedure", "integer", "string", "standard"});
  expect_error([&] { c.flag("model.width"); }, {"model.width", "boolean"});
  expect_error([&] { c.real("model.name"); }, {"model.name", "number"});
}

BOOST_AUTO_TEST_CASE(ids_hash_only_non_default_settings) {
  const auto a = Config::defaults();
  BOOST_TEST(a.id() == fnv1a_hex(""));
  BOOST_TEST(fnv1a_hex("") == "cbf29ce484222325");   // the FNV-1a 64 offset basis
  BOOST_TEST(fnv1a_hex("a") == "af63dc4c8601ec8c");  // published FNV-1a test vector
  auto b = a;
  b.set("model.width", std::int64_t{130});  // the default: same cell
  BOOST_TEST(b.id() == a.id());
  b.set("model.width", std::int64_t{32});
  BOOST_TEST(b.id() != a.id());
  BOOST_TEST(b.canonical() == "model.width=32\n");
}

const char* kGrid = R"(
[grid]
name = "demo"
[settings]
data.corpus = "c.h5"
model.width = 32
[axes]
model.name = ["auxformer", "baseline1"]
train.procedure = ["standard", "optimized"]
seed = "0-2"
)";

BOOST_AUTO_TEST_CASE(grid_expands_the_product_with_stable_ids) {
  const auto g = parse_grid(kGrid, "demo.toml");
  BOOST_TEST(g.name == "demo");
  BOOST_TEST(g.cells.size() == 12u);
  BOOST_TEST(g.axes == (std::vector<std::string>{"model.name", "train.procedure", "seed"}));
  BOOST_TEST(g.cells[0].label == "auxformer standard seed=0");
  BOOST_TEST(g.cells[1].label == "auxformer standard seed=1");
  BOOST_TEST(g.cells[11].label == "baseline1 optimized seed=2");
  BOOST_TEST(g.cells[4].config.integer("model.width") == 32);
  std::set<std::string> ids;
  for (const auto& c : g.cells) ids.insert(c.id);
  BOOST_TEST(ids.size() == 12u);
  // The same text gives the same ids; ids do not depend on the grid's name or order.
  const auto again = parse_grid(kGrid, "other.toml");
  BOOST_TEST(again.cells[7].id == g.cells[7].id);
  BOOST_TEST(g.cells[0].id == g.cells[0].config.id());
}

BOOST_AUTO_TEST_CASE(grid_deduplicates_identical_cells_and_applies_overrides) {
  const auto g = parse_grid("[axes]\nseed = [0, 1, 0]\nmodel.width = [130, 130]\n", "d.toml");
  BOOST_TEST(g.cells.size() == 2u);
  const auto o = parse_grid(kGrid, "demo.toml", {{"model.width", "16"}, {"seed", "5"}});
  BOOST_TEST(o.cells.size() == 4u);  // the seed axis collapses to the override
  BOOST_TEST(o.cells[0].config.integer("model.width") == 16);
  BOOST_TEST(o.cells[0].config.integer("seed") == 5);
  BOOST_TEST(parse_override("a.b=c=d").second == "c=d");
  expect_error([] { parse_override("novalue"); }, {"key=value", "novalue"});
}

BOOST_AUTO_TEST_CASE(grid_errors_name_the_file_line_and_key) {
  expect_error([] { parse_grid("[settings]\nmodel.nmae = \"x\"\n", "bad.toml"); }, {"bad.toml:2", "model.nmae"});
  expect_error([] { parse_grid("[axes]\ntrain.procedure = [\"standard\", \"fast\"]\n", "bad.toml"); },
               {"bad.toml", "train.procedure", "fast"});
  expect_error([] { parse_grid("[axes]\nseed = 3\n", "bad.toml"); }, {"bad.toml", "seed", "list"});
  expect_error([] { parse_grid("[experiment]\n", "bad.toml"); }, {"bad.toml", "experiment"});
  expect_error([] { parse_grid("[settings\n", "bad.toml"); }, {"bad.toml:1", "invalid TOML"});
  expect_error([] { load_grid("/nonexistent/grid.toml"); }, {"/nonexistent/grid.toml"});
}

BOOST_AUTO_TEST_CASE(registry_rejects_duplicates_and_lists_known_names) {
  Registry<int> r("widget");
  r.add("b", 2);
  r.add("a", 1);
  BOOST_TEST(r.get("a") == 1);
  BOOST_TEST(r.names() == (std::vector<std::string>{"a", "b"}));
  expect_error([&] { r.add("a", 3); }, {"duplicate widget", "'a'"});
  expect_error([&] { r.get("c"); }, {"unknown widget 'c'", "a, b"});
}

BOOST_AUTO_TEST_CASE(grid_applies_model_defaults_to_unset_keys) {
  model_setting_defaults()["narrow"] = {{"model.width", std::int64_t{30}}, {"model.heads", std::int64_t{5}}};
  const auto g =
      parse_grid("[settings]\nmodel.heads = 3\n[axes]\nmodel.name = [\"narrow\", \"auxformer\"]\n", "d.toml");
  BOOST_TEST(g.cells[0].config.integer("model.width") == 30);  // the model's default
  BOOST_TEST(g.cells[0].config.integer("model.heads") == 3);   // the grid wins
  BOOST_TEST(g.cells[1].config.integer("model.width") == 130);
  const auto o = parse_grid("[axes]\nmodel.name = [\"narrow\"]\n", "d.toml", {{"model.width", "8"}});
  BOOST_TEST(o.cells[0].config.integer("model.width") == 8);  // --set wins
  // ... and both say that the model is no longer the one its name describes, once per setting.
  BOOST_TEST(g.warnings.size() == 1u);
  BOOST_TEST(
      g.warnings.at(0).find("model.heads = 3 replaces model 'narrow''s own model.heads = 5") != std::string::npos,
      g.warnings.at(0));
  BOOST_REQUIRE(o.warnings.size() == 1u);
  BOOST_TEST(o.warnings[0].find("model.width = 8 replaces model 'narrow''s own model.width = 30") != std::string::npos);
  BOOST_TEST(parse_grid("[axes]\nmodel.name = [\"narrow\"]\n", "d.toml").warnings.empty());
  model_setting_defaults().erase("narrow");
}

BOOST_AUTO_TEST_CASE(grid_plugins_load_before_expansion) {
  std::vector<std::string> loaded;
  const auto g = parse_grid("[grid]\nplugins = [\"a.so\", \"b.so\"]\n", "p.toml", {},
                            [&](const std::string& path) { loaded.push_back(path); });
  BOOST_TEST(loaded == (std::vector<std::string>{"a.so", "b.so"}));
  BOOST_TEST(g.plugins.size() == 2u);
  expect_error([] { parse_grid("[grid]\nplugins = \"a.so\"\n", "p.toml"); }, {"p.toml:2", "grid.plugins"});
}

BOOST_AUTO_TEST_CASE(grid_variants_multiply_the_product) {
  const auto g = parse_grid(R"(
[axes]
seed = [0, 1]
[[variants]]
label = "default"
[[variants]]
label = "no a"
train.lambda_a = 0.0
model.name = "baseline1"
)",
                            "v.toml");
  BOOST_REQUIRE(g.cells.size() == 4u);
  BOOST_TEST(g.cells[0].label == "seed=0 default");
  BOOST_TEST(g.cells[1].label == "seed=0 no a");
  BOOST_TEST(g.cells[1].config.real("train.lambda_a") == 0.0);
  BOOST_TEST(g.cells[1].config.str("model.name") == "baseline1");
  BOOST_TEST(g.cells[2].config.real("train.lambda_a") == 1.0 / 3);
  expect_error([] { parse_grid("[[variants]]\ntrain.nope = 1\n", "v.toml"); }, {"v.toml:2", "train.nope"});

  // A variant that sets an axis's key: the label says what the cell trains, not the axis value it replaced.
  const auto over = parse_grid(R"(
[axes]
model.name = ["auxformer", "mult"]
[[variants]]
[[variants]]
label = "late fusion"
model.name = "baseline1"
[[variants]]
train.lr = 0.01
model.name = "xmodal"
)",
                               "o.toml");
  std::vector<std::string> labels;
  for (const auto& cell : over.cells) labels.push_back(cell.label);
  // The two late-fusion and the two xmodal points are one cell each.
  BOOST_TEST(labels == (std::vector<std::string>{"auxformer", "late fusion", "xmodal", "mult"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(grid_includes_merge_identical_cells) {
  const TempDir tmp;
  const auto& dir = tmp.dir;
  std::ofstream(dir / "a.toml") << "[grid]\nname = \"a\"\n[axes]\nseed = [0, 1, 2]\n";
  std::ofstream(dir / "b.toml") << "[grid]\nname = \"b\"\n[axes]\nseed = [2, 3]\n";
  std::ofstream(dir / "all.toml") << "[grid]\ninclude = [\"a.toml\", \"b.toml\"]\n";
  const auto g = load_grid((dir / "all.toml").string());
  BOOST_TEST(g.cells.size() == 4u);  // seed 2 is one cell
  BOOST_REQUIRE(g.parts.size() == 2u);
  BOOST_TEST(g.parts[0].first == "a");
  BOOST_TEST(g.parts[1].second == 2u);
  BOOST_TEST(g.cells[2].parts == (std::vector<std::string>{"a", "b"}));
  std::ofstream(dir / "bad.toml") << "[grid]\ninclude = [\"missing.toml\"]\n";
  expect_error([&] { load_grid((dir / "bad.toml").string()); }, {"missing.toml"});
}

// --set key=v1,v2 and --set key=A-B sweep, as an axis of the grid file would
// (replacing the file's axis of that key, winning over variants); one value
// and free-form strings (commas and all) stay one setting.
BOOST_AUTO_TEST_CASE(set_sweeps_a_setting_from_the_command_line) {
  const std::string text = "[axes]\nseed = [0, 1]\n";
  const auto lr = parse_grid(text, "g.toml", {{"train.lr", "0.001, 0.002"}});
  BOOST_REQUIRE(lr.cells.size() == 4u);
  BOOST_TEST(lr.axes == (std::vector<std::string>{"seed", "train.lr"}));
  BOOST_TEST(lr.cells[1].config.real("train.lr") == 0.002);
  BOOST_TEST(lr.cells[1].label == "seed=0 lr=0.002");
  BOOST_TEST(parse_grid(text, "g.toml", {{"seed", "0-4"}}).cells.size() == 5u);  // replaces the file's seeds
  BOOST_TEST(parse_grid(text, "g.toml", {{"seed", "3"}}).cells.size() == 1u);    // one value: no axis
  BOOST_TEST(parse_grid(text, "g.toml", {{"train.procedure", "standard,optimized"}}).cells.size() == 4u);
  const auto variants =
      parse_grid(text + "[[variants]]\nlabel = \"slow\"\ntrain.lr = 0.0001\n", "g.toml", {{"train.lr", "0.1,0.2"}});
  BOOST_REQUIRE(variants.cells.size() == 4u);
  BOOST_TEST(variants.cells[0].config.real("train.lr") == 0.1);  // the sweep wins over the variant
  const auto conditions = parse_grid(text, "g.toml", {{"eval.conditions", "ideal,audio_only"}});
  BOOST_TEST(conditions.cells.size() == 2u);
  BOOST_TEST(conditions.cells[0].config.str("eval.conditions") == "ideal,audio_only");
  expect_error([&] { parse_grid(text, "g.toml", {{"train.lr", "0.001,x"}}); }, {"--set train.lr=0.001,x", "'x'"});
  expect_error([&] { parse_grid(text, "g.toml", {{"seed", "5-2"}}); }, {"--set seed", "is empty"});
  expect_error([&] { parse_grid(text, "g.toml", {{"model.width", "16,1"}}); }, {"model.width"});
}

// A model file (model.path, a TorchScript module) is found relative to the
// grid file (--set: to the working directory), and its bytes enter the cell
// id: a changed file makes new cells, never reuses the old ones' results.
BOOST_AUTO_TEST_CASE(a_model_files_bytes_enter_the_cell_id) {
  const TempDir tmp;
  const auto& dir = tmp.dir;
  std::filesystem::create_directories(dir / "models");
  std::ofstream(dir / "models" / "m.pt") << "version 1";
  std::ofstream(dir / "g.toml") << "[settings]\nmodel.name = \"torchscript\"\nmodel.path = \"models/m.pt\"\n";
  const auto first = load_grid((dir / "g.toml").string()).cells.at(0);
  BOOST_TEST(first.config.str("model.path") == (dir / "models" / "m.pt").string());
  BOOST_TEST(first.config.str("model.file_hash") == fnv1a_hex("version 1"));
  BOOST_TEST(load_grid((dir / "g.toml").string()).cells.at(0).id == first.id);  // stable
  std::ofstream(dir / "models" / "m.pt") << "version 2";
  const auto changed = load_grid((dir / "g.toml").string()).cells.at(0);
  BOOST_TEST(changed.id != first.id);
  BOOST_TEST(changed.config.str("model.file_hash") == fnv1a_hex("version 2"));

  // Where the file lives is not what it is: the same bytes by another path
  // (here through --set, relative to the working directory) are the same cell.
  std::filesystem::copy_file(dir / "models" / "m.pt", dir / "copy.pt");
  const auto current = std::filesystem::current_path();
  std::filesystem::current_path(dir);
  const auto from_set = load_grid("g.toml", {{"model.path", "copy.pt"}});
  std::filesystem::current_path(current);
  BOOST_TEST(from_set.cells.at(0).config.str("model.path") == "copy.pt");
  BOOST_TEST(from_set.cells.at(0).id == changed.id);
  // A built-in model's cell beside it does not read the file: --set
  // model.path, which reaches every cell, leaves its id alone.
  std::ofstream(dir / "mixed.toml") << "[settings]\nmodel.path = \"models/m.pt\"\n[axes]\nmodel.name = "
                                       "[\"auxformer\", \"torchscript\"]\n";
  const auto mixed = load_grid((dir / "mixed.toml").string()), moved = load_grid((dir / "mixed.toml").string(), {{"model.path", (dir / "copy.pt").string()}});
  const auto plain = load_grid((dir / "g.toml").string(), {{"model.name", "auxformer"}, {"model.path", ""}});
  BOOST_TEST(mixed.cells.at(0).config.str("model.name") == "auxformer");
  BOOST_TEST(mixed.cells.at(0).id == plain.cells.at(0).id);
  BOOST_TEST(moved.cells.at(0).id == plain.cells.at(0).id);
  BOOST_TEST(moved.cells.at(1).id == mixed.cells.at(1).id);  // the same bytes elsewhere: the same scripted cell
  std::filesystem::remove(dir / "models" / "m.pt");
  expect_error([&] { load_grid((dir / "g.toml").string()); }, {"g.toml", "model.path", "models/m.pt", "cannot read"});
}

// Issue 16, item 7: a number or include graph in a grid file that cannot
// make a sane grid is a one-line error naming the file (and line), before any
// cell is made: no std::stol message, no memory filled, no endless recursion.
BOOST_AUTO_TEST_CASE(grid_numbers_and_includes_are_bounded) {
  expect_error([] { parse_grid("[axes]\nseed = \"0-99999999999999999999\"\n", "big.toml"); },
               {"big.toml:2", "axis 'seed'", "beyond 64 bits"});
  expect_error([] { parse_grid("[axes]\nseed = \"0-4000000000\"\n", "huge.toml"); },
               {"huge.toml:2", "axis 'seed'", "4000000001 values", "at most 100000 cells"});
  expect_error([] { parse_grid("[axes]\nseed = \"0-59999\"\nmodel.width = [8, 16]\n", "product.toml"); },
               {"product.toml", "60000 seed x 2 model.width", "more than 100000 cells"});
  expect_error([] { parse_grid("[axes]\nseed = \"5-2\"\n", "empty.toml"); }, {"empty.toml:2", "is empty"});

  const TempDir tmp;
  const auto& dir = tmp.dir;
  std::ofstream(dir / "self.toml") << "[grid]\ninclude = [\"self.toml\"]\n";
  expect_error([&] { load_grid((dir / "self.toml").string()); }, {"self.toml:2", "include cycle", "self.toml"});
  std::ofstream(dir / "a.toml") << "[grid]\ninclude = [\"sub/b.toml\"]\n";
  std::filesystem::create_directories(dir / "sub");
  std::ofstream(dir / "sub" / "b.toml") << "[axes]\nseed = [1]\n[grid]\ninclude = [\"../a.toml\"]\n";
  expect_error([&] { load_grid((dir / "a.toml").string()); }, {"b.toml:4", "include cycle", "a.toml -> ", "b.toml"});
  // The same file twice (a diamond) is no cycle.
  std::ofstream(dir / "leaf.toml") << "[axes]\nseed = [0, 1]\n";
  std::ofstream(dir / "l1.toml") << "[grid]\nname = \"l1\"\ninclude = [\"leaf.toml\"]\n";
  std::ofstream(dir / "l2.toml") << "[grid]\nname = \"l2\"\ninclude = [\"leaf.toml\"]\n";
  std::ofstream(dir / "diamond.toml") << "[grid]\ninclude = [\"l1.toml\", \"l2.toml\", \"l1.toml\"]\n";
  BOOST_TEST(load_grid((dir / "diamond.toml").string()).cells.size() == 2u);
  std::ofstream(dir / "missing.toml") << "[grid]\n\ninclude = [\"nowhere.toml\"]\n";
  expect_error([&] { load_grid((dir / "missing.toml").string()); }, {"missing.toml:3", "nowhere.toml"});
}

BOOST_AUTO_TEST_CASE(the_paper_grid_has_about_a_thousand_cells) {
  const auto g = load_grid(std::string(AUXGRID_SOURCE_DIR) + "/experiments/paper.toml");
  BOOST_TEST(g.cells.size() == 1000u);
  BOOST_TEST(g.parts.size() == 7u);
}

// Stop signals never reach a thread started after watch_stop_signals (which
// may be inside oneDNN's JIT code): they are blocked there and taken by the
// waiting thread, and the run still sees them.
BOOST_AUTO_TEST_CASE(stop_signals_are_blocked_in_new_threads_and_still_seen) {
  watch_stop_signals();
  watch_stop_signals();  // idempotent
  bool blocked_in_worker = false;
  std::thread([&] {
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    blocked_in_worker = sigismember(&mask, SIGTERM) && sigismember(&mask, SIGUSR1);
  }).join();
  BOOST_TEST(blocked_in_worker);
  BOOST_TEST(stop_signal_received() == 0);
  kill(getpid(), SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stop_signal_received() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  BOOST_TEST(stop_signal_received() == SIGUSR1);
}

#if defined(__GLIBC__)
// After tune_allocator a large block comes from the heap (no mmap), and
// freeing it leaves the heap where it was (no trim): the next step reuses
// those pages instead of faulting fresh ones in.
BOOST_AUTO_TEST_CASE(tuned_heap_serves_large_blocks_and_is_never_trimmed) {
  tune_allocator();
  constexpr std::uintptr_t kBlock = 64u << 20;
  auto* block = static_cast<char*>(std::malloc(kBlock));
  BOOST_REQUIRE(block != nullptr);
  block[0] = block[kBlock - 1] = 1;
  const auto heap_end = reinterpret_cast<std::uintptr_t>(sbrk(0));
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(block) + kBlock <= heap_end);  // in the brk heap, not its own mapping
  std::free(block);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(sbrk(0)) == heap_end);
}
#endif

// One way to write a file (core/files.hpp): unguessable temporaries, never
// through a link, whole or not at all with the system's reason.
BOOST_AUTO_TEST_CASE(files_are_written_whole_never_through_a_link) {
  TempDir tmp;
  const auto target = tmp / "out.txt";
  const auto a = files::create_temporary(target, "test"), b = files::create_temporary(target, "test");
  BOOST_TEST(a != b);
  BOOST_TEST(std::regex_match(a, std::regex(".*/out\\.txt\\.tmp\\.[0-9a-f]{16}")), a);
  std::filesystem::remove(a), std::filesystem::remove(b);

  // A link planted at the target: the file it points at stays as it was.
  std::ofstream(tmp / "outside") << "precious";
  std::filesystem::create_symlink(tmp / "outside", target);
  files::write_atomically(target, "new", "test");
  BOOST_TEST(bytes_of(tmp / "outside") == "precious");
  BOOST_TEST(!std::filesystem::is_symlink(target));
  BOOST_TEST(bytes_of(target) == "new");
  // Appending: the same.
  const auto log = tmp / "log.txt";
  std::filesystem::create_symlink(tmp / "outside", log);
  const int fd = files::open_for_append(log, "test log");
  BOOST_TEST(files::write_fully(fd, "line\n"));
  ::close(fd);
  BOOST_TEST(bytes_of(tmp / "outside") == "precious");
  BOOST_TEST(bytes_of(log) == "line\n");

  // A failed write keeps the previous version and gives the reason.
  {
    const FileSizeLimit limit(2);
    expect_error([&] { files::write_atomically(target, "longer than two bytes", "test"); },
                 {"cannot write test '" + target + "'", "File too large", "previous contents"});
  }
  BOOST_TEST(bytes_of(target) == "new");
  BOOST_TEST(files_named(tmp.dir, ".tmp.").empty());

  // Inputs must be regular files; long values are echoed cut.
  BOOST_REQUIRE(::mkfifo((tmp / "pipe").c_str(), 0644) == 0);
  expect_error([&] { files::require_regular_file(tmp / "pipe", "corpus"); }, {"corpus", "is a named pipe"});
  expect_error([&] { files::require_regular_file(tmp.dir, "corpus"); }, {"is a directory"});
  const auto cut = files::shortened(std::string(1 << 20, 'x'));
  BOOST_TEST(cut.size() < 200u);
  BOOST_TEST(cut.find("1048576 bytes in all") != std::string::npos);
}
