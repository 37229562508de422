#pragma once
// A name-keyed registry, built on first use (so static registrations from any
// translation unit or plugin are safe). Duplicate names and unknown names are
// errors that list what is known.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "auxgrid/core/check.hpp"

namespace auxgrid {

template <typename Entry>
class Registry {
 public:
  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& name, Entry entry) {
    AUXGRID_CHECK(!entries_.count(name), "duplicate {} name '{}' (already registered)", what_, name);
    entries_.emplace(name, std::move(entry));
  }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const Entry& get(const std::string& name) const {
    auto it = entries_.find(name);
    AUXGRID_CHECK(it != entries_.end(), "unknown {} '{}' (known: {})", what_, name,
                  fmt::join(names(), ", "));
    return it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

 private:
  std::string what_;
  std::map<std::string, Entry> entries_;
};

}  // namespace auxgrid
