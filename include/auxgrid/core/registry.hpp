#pragma once
// A name-keyed registry, built on first use, and the one registration pattern
// (AUXGRID_REGISTER below): static registrations, from any translation unit or
// a plugin while it loads, are queued, because nothing may throw there; they
// enter the registry at its next use, where a duplicate name is an error.
// Unknown names are errors that list what is known.
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <fmt/ranges.h>

#include "auxgrid/core/check.hpp"

namespace auxgrid {

template <typename Entry>
class Registry {
 public:
  explicit Registry(std::string what) : what_(std::move(what)) {}

  void add(const std::string& name, Entry entry) {
    commit();
    AUXGRID_CHECK(!entries_.count(name), "duplicate {} name '{}' (already registered)", what_, name);
    entries_.emplace(name, std::move(entry));
  }
  // For static registration: never throws.
  bool queue(const std::string& name, Entry entry) {
    queued_.emplace_back(name, std::move(entry));
    return true;
  }
  // The registrations queued since the last use, taken out (a plugin loader
  // checks a plugin's own before adding them).
  std::vector<std::pair<std::string, Entry>> take_queued() { return std::exchange(queued_, {}); }

  bool contains(const std::string& name) const {
    commit();
    return entries_.count(name) > 0;
  }
  const Entry& get(const std::string& name) const {
    commit();
    auto it = entries_.find(name);
    AUXGRID_CHECK(it != entries_.end(), "unknown {} '{}' (known: {})", what_, name, fmt::join(names(), ", "));
    return it->second;
  }
  std::vector<std::string> names() const {
    commit();
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

 private:
  void commit() const {
    for (auto& [name, entry] : std::exchange(queued_, {})) {
      AUXGRID_CHECK(!entries_.count(name), "duplicate {} name '{}' (already registered)", what_, name);
      entries_.emplace(name, std::move(entry));
    }
  }

  std::string what_;
  // Mutable: a const lookup first takes in what static registrations queued.
  mutable std::map<std::string, Entry> entries_;
  mutable std::vector<std::pair<std::string, Entry>> queued_;
};

}  // namespace auxgrid

#define AUXGRID_REGISTRY_CONCAT_INNER(a, b) a##b
#define AUXGRID_REGISTRY_CONCAT(a, b) AUXGRID_REGISTRY_CONCAT_INNER(a, b)
// A variable of its own for each static registration: `static const bool
// AUXGRID_REGISTERED = <a call that returns true>;` at namespace scope.
#define AUXGRID_REGISTERED AUXGRID_REGISTRY_CONCAT(auxgrid_registered_, __COUNTER__)
