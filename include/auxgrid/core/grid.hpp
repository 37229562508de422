#pragma once
// Grid files (experiments/*.toml) and their expansion into cells.
//
//   [grid]        name, description, plugins = ["path/to/libplugin.so", ...],
//                 include = ["table1.toml", ...] (paths relative to this file)
//   [settings]    fixed settings for every cell (nested tables = dotted keys)
//   [axes]        key = [values...]  -> the cartesian product; an integer axis
//                 may be written as a range string, e.g. seed = "0-19"
//   [[variants]]  optional; each cell of the product once per variant, with the
//                 variant's settings (and `label`) on top
//
// --set key=value (overrides) fixes a setting in every cell, over [axes] and
// [[variants]]; --set key=v1,v2 (enums, numbers, booleans: a free-form string
// stays one value) or key=A-B (integers) sweeps it as an axis instead.
//
// Each cell is a fully resolved Config with a stable id; cells with the same
// id are one cell, also across included grids. A model's own setting defaults
// (MulT's width, say) apply to every key that the grid and --set leave unset.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "auxgrid/core/config.hpp"

namespace auxgrid {

struct Cell {
  std::string id;     // Config::id()
  std::string label;  // the cell's axis values, e.g. "auxformer standard seed=0"
  Config config;
  std::vector<std::string> parts;  // names of the (included) grids that define it
};

struct Grid {
  std::string name;
  std::string path;
  std::string description;
  std::vector<std::string> axes;                           // axis keys in file order
  std::vector<std::string> plugins;                        // as written in the grid file
  std::vector<std::pair<std::string, std::size_t>> parts;  // included grids: name, cells (before merging)
  std::vector<Cell> cells;                                 // deduplicated, in expansion order
  // Not errors, said by plan and run: e.g. a setting of the grid or --set that
  // replaces a model's own default (mult_up's width 160), so the model is no
  // longer the one its description names.
  std::vector<std::string> warnings;
};

using Overrides = std::vector<std::pair<std::string, std::string>>;  // --set key=value

// The most cells one grid file may expand to (the paper's grid has 1,000): a
// larger product, or a range axis of more values, is an error before any cell
// is made, not a machine out of memory. A planned cell costs about 6 KB and
// 60 us (200,000 cells: 1.3 GB, 13 s for `auxgrid plan`), so 100,000 keeps
// plan and run well inside a laptop.
inline constexpr std::uint64_t kMaxGridCells = 100000;

// Parses "key=value" (from the command line) into an override.
std::pair<std::string, std::string> parse_override(const std::string& text);

// Loads a plugin (models::load_plugin); called for grid.plugins before expansion.
using PluginLoader = std::function<void(const std::string& path)>;

// Reads and expands a grid file; errors name the file, the key and the cell.
Grid load_grid(const std::string& path, const Overrides& overrides = {}, const PluginLoader& load_plugin = {});
// The same from TOML text (`path` is only used in messages).
Grid parse_grid(const std::string& toml_text, const std::string& path, const Overrides& overrides = {},
                const PluginLoader& load_plugin = {});

}  // namespace auxgrid
