#include "auxgrid/core/grid.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"

namespace auxgrid {

namespace {

// Decimal digits into an int64; false on overflow.
bool parse_int64(const std::string& digits, std::int64_t& out) {
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc() && end == digits.data() + digits.size();
}

std::string where(const std::string& path, const toml::node& node) {
  const auto& src = node.source();
  if (src.begin.line == 0) return path;
  return fmt::format("{}:{}", path, src.begin.line);
}

Value scalar(const toml::node& node, const std::string& key, const std::string& path) {
  if (auto v = node.as_boolean()) return v->get();
  if (auto v = node.as_integer()) return v->get();
  if (auto v = node.as_floating_point()) return v->get();
  if (auto v = node.as_string()) return v->get();
  AUXGRID_FAIL("{}: setting '{}' must be a boolean, number or string", where(path, node), key);
}

// Walks nested tables, calling fn(dotted_key, node) for every non-table node.
template <typename Fn>
void flatten(const toml::table& table, const std::string& prefix, Fn&& fn) {
  for (const auto& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = node.as_table())
      flatten(*sub, key, fn);
    else
      fn(key, node);
  }
}

// "A-B" (e.g. "0-19") as the integers A..B; empty when text is no range.
// `what` names the axis in errors.
std::vector<Value> integer_range(const std::string& text, const std::string& what) {
  std::smatch m;
  static const std::regex range(R"(^\s*(\d+)\s*-\s*(\d+)\s*$)");
  if (!std::regex_match(text, m, range)) return {};
  std::int64_t lo = 0, hi = 0;
  AUXGRID_CHECK(parse_int64(m.str(1), lo) && parse_int64(m.str(2), hi), "{} range '{}' has a bound beyond 64 bits",
                what, text);
  AUXGRID_CHECK(lo <= hi, "{} range '{}' is empty", what, text);
  // Checked before a value is made: "0-999999999" would otherwise fill memory.
  const auto values = static_cast<std::uint64_t>(hi - lo) + 1;
  AUXGRID_CHECK(values <= kMaxGridCells, "{} range '{}' has {} values; a grid holds at most {} cells", what, text,
                values, kMaxGridCells);
  std::vector<Value> out;
  for (std::int64_t i = lo; i <= hi; ++i) out.push_back(i);
  return out;
}

std::vector<Value> axis_values(const std::string& key, const toml::node& node, const std::string& path) {
  std::vector<Value> out;
  if (const auto* arr = node.as_array()) {
    for (const auto& item : *arr) out.push_back(scalar(item, key, path));
  } else if (const auto* s = node.as_string()) {
    const std::string text = s->get();
    out = integer_range(text, fmt::format("{}: axis '{}'", where(path, node), key));
    AUXGRID_CHECK(!out.empty(), "{}: axis '{}' must be a list or a range like \"0-19\", got '{}'", where(path, node),
                  key, text);
  } else {
    AUXGRID_FAIL("{}: axis '{}' must be a list of values", where(path, node), key);
  }
  AUXGRID_CHECK(!out.empty(), "{}: axis '{}' has no values", where(path, node), key);
  return out;
}

std::string short_label(const std::string& key, const Value& v) {
  // Strings read well alone ("auxformer standard"); numbers need their key.
  // A label names the cell in every message: a long value is cut (files::shortened).
  if (std::holds_alternative<std::string>(v)) return files::shortened(std::get<std::string>(v), 60);
  const auto dot = key.rfind('.');
  return fmt::format("{}={}", dot == std::string::npos ? key : key.substr(dot + 1), to_string(v));
}

}  // namespace

std::pair<std::string, std::string> parse_override(const std::string& text) {
  const auto eq = text.find('=');
  AUXGRID_CHECK(eq != std::string::npos && eq > 0, "--set expects key=value, got '{}'", text);
  return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {

std::vector<std::string>& include_stack() {
  thread_local std::vector<std::string> stack;
  return stack;
}

std::string canonical_path(const std::string& path) {
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : canonical.string();
}

std::string directory_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

// One [[variants]] entry: settings applied together, and an optional label.
struct Variant {
  std::string label;
  std::vector<std::pair<std::string, Value>> settings;
};

toml::table parse_toml(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    AUXGRID_FAIL("{}:{}:{}: invalid TOML: {}", path, e.source().begin.line, e.source().begin.column, e.description());
  }
}

void check_sections(const toml::table& root, const std::string& path) {
  for (const auto& [k, node] : root) {
    const std::string section(k.str());
    const bool known = section == "grid" || section == "settings" || section == "axes" || section == "variants";
    AUXGRID_CHECK(known, "{}: unknown section '{}' (expected [grid], [settings], [axes], [[variants]])",
                  where(path, node), section);
    AUXGRID_CHECK(section == "variants" ? node.is_array_of_tables() : node.is_table(), "{}: '{}' must be a {}",
                  where(path, node), section, section == "variants" ? "list of tables ([[variants]])" : "table");
  }
}

// An included grid's path as written, and where it is written ("file:line").
struct Include {
  std::string path, where;
};

// [grid]: name (default: the file name), description, plugins; returns its includes.
std::vector<Include> read_grid_section(const toml::table& root, const std::string& path, Grid& grid) {
  std::vector<Include> includes;
  if (const auto* g = root["grid"].as_table()) {
    for (const auto& [k, node] : *g) {
      const std::string key(k.str());
      if (key == "plugins" || key == "include") {
        const auto* list = node.as_array();
        AUXGRID_CHECK(list, "{}: 'grid.{}' must be a list of paths", where(path, node), key);
        for (const auto& item : *list) {
          AUXGRID_CHECK(item.is_string(), "{}: 'grid.{}' must be a list of strings", where(path, item), key);
          if (key == "plugins")
            grid.plugins.push_back(item.value_or(std::string()));
          else
            includes.push_back({item.value_or(std::string()), where(path, item)});
        }
        continue;
      }
      AUXGRID_CHECK(key == "name" || key == "description",
                    "{}: unknown key 'grid.{}' (expected name, description, plugins, include)", where(path, node), key);
      AUXGRID_CHECK(node.is_string(), "{}: 'grid.{}' must be a string", where(path, node), key);
    }
    grid.name = g->get("name") ? g->get("name")->value_or(std::string()) : "";
    grid.description = g->get("description") ? g->get("description")->value_or(std::string()) : "";
  }
  if (grid.name.empty()) {
    const auto slash = path.find_last_of('/');
    const auto base = slash == std::string::npos ? path : path.substr(slash + 1);
    grid.name = base.substr(0, base.find('.'));
  }
  return includes;
}

// Plugins register models (and their setting defaults) that the cells may name.
void load_grid_plugins(const Grid& grid, const toml::table& root, const PluginLoader& load_plugin) {
  for (const auto& plugin : grid.plugins) {
    AUXGRID_CHECK(load_plugin, "{}: grid.plugins needs a plugin loader (this tool cannot load '{}')", grid.path,
                  plugin);
    try {
      load_plugin(plugin);
    } catch (const Error& e) {
      AUXGRID_FAIL("{}: grid.plugins: {}", where(grid.path, *root["grid"]["plugins"].node()), e.what());
    }
  }
}

// A grid's own cells before expansion: [settings] (and --set) over the
// defaults, the [axes] in the file's order, the [[variants]].
struct Product {
  Config base = Config::defaults();
  std::vector<std::string> explicit_keys;  // set by the grid: model defaults do not apply to them
  std::vector<std::string> axis_keys;
  std::vector<std::vector<Value>> axes;
  std::vector<Variant> variants;
  Overrides overrides;                                     // --set with one value (several: an axis, listed in swept)
  mutable std::map<std::string, std::string> file_hashes;  // model.path -> its bytes' hash, read once

  std::vector<std::string> swept;  // keys --set gave several values: axes

  // Set by --set to one value: no axis or variant changes it.
  bool overridden(const std::string& key) const {
    for (const auto& o : overrides)
      if (o.first == key) return true;
    return false;
  }
  bool swept_by_set(const std::string& key) const { return std::find(swept.begin(), swept.end(), key) != swept.end(); }
};

// The values of a sweep, `--set key=v1,v2,...` or `--set key=A-B` (integer
// keys); empty for one value. A free-form string (a path, a list of
// conditions) is one value, commas and all.
std::vector<Value> sweep_values(const std::string& key, const std::string& text) {
  const SettingSpec* spec = find_setting(key);
  if (!spec) return {};  // set_from_text names the unknown key
  const auto& d = spec->default_value;
  if (std::holds_alternative<std::string>(d) && spec->choices.empty()) return {};
  if (std::holds_alternative<std::int64_t>(d)) {
    auto range = integer_range(text, fmt::format("--set {}", key));
    if (!range.empty()) {
      for (const auto& v : range) Config::defaults().set(key, v, "--set");  // each within the key's rule
      return range;
    }
  }
  if (text.find(',') == std::string::npos) return {};
  std::vector<Value> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    auto c = Config::defaults();
    c.set_from_text(key, item, "--set " + key + "=" + text);
    out.push_back(c.get(key));
  }
  return out;
}

Product read_product(const toml::table& root, const std::string& path, const Overrides& overrides) {
  Product p;
  if (const auto* s = root["settings"].as_table())
    flatten(*s, "", [&](const std::string& key, const toml::node& node) {
      p.base.set(key, scalar(node, key, path), where(path, node));
      p.explicit_keys.push_back(key);
    });

  // toml++ keeps keys sorted; the axes keep the file's order (first = slowest).
  std::vector<std::pair<std::string, const toml::node*>> axis_nodes;
  if (const auto* a = root["axes"].as_table())
    flatten(*a, "", [&](const std::string& key, const toml::node& node) { axis_nodes.emplace_back(key, &node); });
  std::stable_sort(axis_nodes.begin(), axis_nodes.end(), [](const auto& x, const auto& y) {
    const auto &a = x.second->source().begin, &b = y.second->source().begin;
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  for (const auto& [key, node] : axis_nodes) {
    AUXGRID_CHECK(find_setting(key), "{}: unknown setting '{}' in [axes]", where(path, *node), key);
    p.axis_keys.push_back(key);
    p.explicit_keys.push_back(key);
    p.axes.push_back(axis_values(key, *node, path));
    for (const auto& v : p.axes.back()) Config(p.base).set(key, v, where(path, *node));  // check every value early
  }

  // [[variants]]: each cell of the product once per variant (e.g. Table 4's
  // loss-weight triples, which are not a product).
  if (const auto* list = root["variants"].as_array())
    for (const auto& item : *list) {
      Variant v;
      flatten(*item.as_table(), "", [&](const std::string& key, const toml::node& node) {
        if (key == "label") {
          AUXGRID_CHECK(node.is_string(), "{}: a variant's label must be a string", where(path, node));
          v.label = node.value_or(std::string());
          return;
        }
        const auto value = scalar(node, key, path);
        Config(p.base).set(key, value, where(path, node));  // check early
        v.settings.emplace_back(key, value);
      });
      p.variants.push_back(std::move(v));
    }
  if (p.variants.empty()) p.variants.emplace_back();

  // --set key=v1,v2 or key=A-B sweeps: an axis (in place of the file's axis
  // of that key, else after its axes) that variants leave alone.
  for (const auto& [key, text] : overrides) {
    p.explicit_keys.push_back(key);
    auto values = sweep_values(key, text);
    if (values.empty()) {
      p.base.set_from_text(key, text, "--set");
      p.overrides.emplace_back(key, text);
      continue;
    }
    const auto axis = std::find(p.axis_keys.begin(), p.axis_keys.end(), key);
    if (axis == p.axis_keys.end()) {
      p.axis_keys.push_back(key);
      p.axes.push_back(std::move(values));
    } else {
      p.axes[static_cast<std::size_t>(axis - p.axis_keys.begin())] = std::move(values);
    }
    p.swept.push_back(key);
  }
  return p;
}

std::string axis_sizes(const Product& p) {
  std::vector<std::string> sizes;
  for (std::size_t i = 0; i < p.axes.size(); ++i)
    sizes.push_back(fmt::format("{} {}", p.axes[i].size(), p.axis_keys[i]));
  if (p.variants.size() > 1) sizes.push_back(fmt::format("{} variants", p.variants.size()));
  return fmt::format("{}", fmt::join(sizes, " x "));
}

// model.path (a model file: a TorchScript module) is relative to the grid
// file unless --set gave it; its bytes' hash enters the cell id as
// model.file_hash, so that a changed file never reuses old results.
void resolve_model_file(Config& config, const Product& p, const std::string& grid_path) {
  auto file = config.str("model.path");
  if (file.empty()) return;
  // Only a scripted model reads a file: a built-in model's cell (a --set
  // model.path that reaches every cell, say) keeps its id and its results.
  if (config.str("model.name") != "torchscript") {
    config.set("model.path", std::string());
    return;
  }
  if (!p.overridden("model.path") && std::filesystem::path(file).is_relative())
    file = (std::filesystem::path(grid_path).parent_path() / file).lexically_normal().string();
  auto& hash = p.file_hashes[file];
  if (hash.empty()) {
    try {
      hash = file_fnv1a_hex(file);
    } catch (const Error& e) {
      AUXGRID_FAIL("{}: model.path: {}", grid_path, e.what());
    }
  }
  config.set("model.path", file);
  config.set("model.file_hash", hash);
}

// Appends `item` unless the list already holds it: a warning is said once.
void add_once(std::vector<std::string>& list, std::string item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(std::move(item));
}

// The cell of one point of the product and one variant.
Cell make_cell(const Product& p, const std::vector<std::size_t>& index, const Variant& variant, const std::string& path,
               std::vector<std::string>& warnings) {
  Cell cell{"", "", p.base, {}};
  auto keys = p.explicit_keys;
  std::vector<std::string> label;
  for (std::size_t i = 0; i < p.axes.size(); ++i) {
    const auto& key = p.axis_keys[i];
    if (!p.overridden(key)) cell.config.set(key, p.axes[i][index[i]], path);
  }
  for (const auto& [key, value] : variant.settings) {
    if (!p.overridden(key) && !p.swept_by_set(key)) cell.config.set(key, value, path);
    keys.push_back(key);
  }
  // The axes' values as the cell has them: a labelled variant that sets an axis's key names it instead.
  for (const auto& key : p.axis_keys)
    if (variant.label.empty() || std::none_of(variant.settings.begin(), variant.settings.end(),
                                              [&](const auto& setting) { return setting.first == key; }))
      label.push_back(short_label(key, cell.config.get(key)));
  if (!variant.label.empty()) label.push_back(variant.label);
  apply_model_defaults(cell.config, keys);
  const auto& model = cell.config.str("model.name");
  const auto own = model_setting_defaults().find(model);
  if (own != model_setting_defaults().end())
    for (const auto& [key, value] : own->second)
      if (to_string(cell.config.get(key)) != to_string(value)) {
        auto w = fmt::format(
            "{} = {} replaces model '{}''s own {} = {}: the cells train a variant of it, not the model "
            "`auxgrid models` describes",
            key, to_string(cell.config.get(key)), model, key, to_string(value));
        add_once(warnings, std::move(w));
      }
  resolve_model_file(cell.config, p, path);
  cell.id = cell.config.id();
  cell.label = fmt::format("{}", fmt::join(label, " "));
  return cell;
}

// Adds a cell to the grid under `part`; a cell that is already there (the
// same id) is one cell, listed in both parts.
void add_cell(Grid& grid, std::set<std::string>& seen, Cell cell, const std::string& part) {
  if (seen.insert(cell.id).second) {
    cell.parts = {part};
    grid.cells.push_back(std::move(cell));
    return;
  }
  for (auto& existing : grid.cells)
    if (existing.id == cell.id && std::find(existing.parts.begin(), existing.parts.end(), part) == existing.parts.end())
      existing.parts.push_back(part);
}

}  // namespace

Grid parse_grid(const std::string& toml_text, const std::string& path, const Overrides& overrides,
                const PluginLoader& load_plugin) {
  const toml::table root = parse_toml(toml_text, path);
  check_sections(root, path);
  Grid grid;
  grid.path = path;
  const auto includes = read_grid_section(root, path, grid);
  load_grid_plugins(grid, root, load_plugin);

  // Included grids (paths relative to this file) contribute their cells.
  std::set<std::string> seen;
  for (const auto& include : includes) {
    const auto sub_path = directory_of(path) + include.path;
    try {
      files::require_regular_file(sub_path, "grid file");
    } catch (const Error& e) {
      AUXGRID_FAIL("{}: grid.include: {}", include.where, e.what());
    }
    AUXGRID_CHECK(std::ifstream(sub_path).good(), "{}: grid.include: cannot open grid file '{}'", include.where,
                  sub_path);
    std::vector<std::string> chain;
    for (const auto& file : include_stack()) chain.push_back(file);
    const auto canonical = canonical_path(sub_path);
    AUXGRID_CHECK(std::find(chain.begin(), chain.end(), canonical) == chain.end(),
                  "{}: grid.include: '{}' is already being loaded, an include cycle: {} -> {}", include.where,
                  include.path, fmt::join(chain, " -> "), canonical);
    const auto sub = load_grid(sub_path, overrides, load_plugin);
    grid.parts.push_back({sub.name, sub.cells.size()});
    for (const auto& w : sub.warnings) add_once(grid.warnings, w);
    for (const auto& cell : sub.cells) add_cell(grid, seen, cell, sub.name);
  }
  const bool has_cells_of_its_own = root["settings"] || root["axes"] || root["variants"] || includes.empty();
  if (!has_cells_of_its_own) return grid;

  const auto product = read_product(root, path, overrides);
  grid.axes = product.axis_keys;
  // Counted before a cell is made: a product of large axes would fill memory.
  std::uint64_t cells = product.variants.size();
  for (const auto& axis : product.axes)
    cells = axis.empty() || cells <= kMaxGridCells / axis.size() ? cells * axis.size() : kMaxGridCells + 1;
  AUXGRID_CHECK(cells <= kMaxGridCells,
                "{}: the [axes] and [[variants]] ({}) make more than {} cells, the most one grid holds", path,
                axis_sizes(product), kMaxGridCells);
  // Cartesian product, first axis slowest, variants innermost.
  std::vector<std::size_t> index(product.axes.size(), 0);
  while (true) {
    for (const auto& variant : product.variants)
      add_cell(grid, seen, make_cell(product, index, variant, path, grid.warnings), grid.name);
    std::size_t i = product.axes.size();
    while (i > 0 && ++index[i - 1] == product.axes[i - 1].size()) index[--i] = 0;
    if (i == 0) break;
  }
  return grid;
}

Grid load_grid(const std::string& path, const Overrides& overrides, const PluginLoader& load_plugin) {
  files::require_regular_file(path, "grid file");
  std::ifstream in(path);
  AUXGRID_CHECK(in.good(), "cannot open grid file '{}'", path);
  std::stringstream text;
  text << in.rdbuf();
  // The files being loaded, outermost first: an include of one of them is a cycle.
  auto& stack = include_stack();
  stack.push_back(canonical_path(path));
  struct Pop {
    std::vector<std::string>& stack;
    ~Pop() { stack.pop_back(); }
  } pop{stack};
  return parse_grid(text.str(), path, overrides, load_plugin);
}

}  // namespace auxgrid
