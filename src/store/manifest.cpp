#include "auxgrid/store/manifest.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "auxgrid/core/check.hpp"
#include "auxgrid/core/files.hpp"

namespace auxgrid::store {

namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1)
    fields.push_back(line.substr(start, tab - start));
  fields.push_back(line.substr(start));
  return fields;
}

void check_field(const std::string& text, const std::string& path, const std::string& cell_id) {
  AUXGRID_CHECK(text.find_first_of("\t\r\n") == std::string::npos,
                "{}: cell {}: '{}' contains a tab or a line break, which the manifest cannot hold", path, cell_id,
                text);
}

void write_manifest(const std::string& path, const std::vector<ManifestCell>& cells) {
  std::ostringstream out;
  for (const auto& cell : cells) {
    for (const std::string* field : {&cell.cell_id, &cell.corpus, &cell.label}) check_field(*field, path, cell.cell_id);
    out << cell.cell_id << '\t' << cell.corpus << '\t' << cell.label;
    for (const auto& [key, value] : cell.config) {
      check_field(value, path, cell.cell_id);
      out << '\t' << key << '=' << value;
    }
    out << '\n';
  }
  files::write_atomically(path, out.str(), "the manifest");
}

}  // namespace

void add_to_manifest(const std::string& dir, const std::vector<ManifestCell>& cells) {
  const std::string path = manifest_path(dir);
  files::set_aside_link(path, "the manifest");  // never read, nor written, through a planted link
  std::vector<ManifestCell> all = read_manifest(dir);
  std::set<std::string> known;
  for (const auto& cell : all) known.insert(cell.cell_id);
  for (const auto& cell : cells)
    if (known.insert(cell.cell_id).second) all.push_back(cell);
  write_manifest(path, all);
}

std::size_t remove_from_manifest(const std::string& dir, const std::set<std::string>& cell_ids) {
  const std::string path = manifest_path(dir);
  files::set_aside_link(path, "the manifest");
  auto all = read_manifest(dir);
  const auto before = all.size();
  all.erase(std::remove_if(all.begin(), all.end(), [&](const ManifestCell& c) { return cell_ids.count(c.cell_id); }),
            all.end());
  if (all.size() != before) write_manifest(path, all);
  return before - all.size();
}

std::vector<ManifestCell> read_manifest(const std::string& dir) {
  const std::string path = manifest_path(dir);
  std::vector<ManifestCell> cells;
  std::ifstream in(path);
  if (!in.is_open()) return cells;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    const auto fields = split_tabs(line);
    AUXGRID_CHECK(fields.size() >= 3 && fields[0].size() == 16,
                  "{}:{}: expected 'cell_id<TAB>corpus<TAB>label<TAB>key=value...', got '{}'", path, number, line);
    ManifestCell cell{fields[0], fields[1], fields[2], {}};
    for (std::size_t i = 3; i < fields.size(); ++i) {
      const auto eq = fields[i].find('=');
      AUXGRID_CHECK(eq != std::string::npos && eq > 0, "{}:{}: setting '{}' is not key=value", path, number, fields[i]);
      cell.config[fields[i].substr(0, eq)] = fields[i].substr(eq + 1);
    }
    cells.push_back(std::move(cell));
  }
  return cells;
}

}  // namespace auxgrid::store
