#pragma once
// A cell's fully resolved configuration: flat, dotted keys (model.*, train.*,
// data.*, eval.*) with typed scalar values. Every key that exists is declared
// once, with its default, type and rule, in src/core/config.cpp; that is the
// one place where settings are validated.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace auxgrid {

using Value = std::variant<bool, std::int64_t, double, std::string>;

std::string to_string(const Value& v);

// The declaration of one setting.
struct SettingSpec {
  std::string key;
  Value default_value;
  std::string help;
  std::vector<std::string> choices;  // for strings: allowed values (empty = any)
  double min = -1e300, max = 1e300;  // for numbers: allowed range
  // false: where something lives, not what it is (model.path, whose bytes
  // model.file_hash identifies): recorded in results, but neither in the
  // cell id nor compared when a result is matched to its cell.
  bool identifies = true;
};

const std::vector<SettingSpec>& setting_specs();
const SettingSpec* find_setting(const std::string& key);

class Config {
 public:
  // All declared keys at their defaults.
  static Config defaults();

  // Sets a declared key; converts int->double where the key is a number and
  // throws, naming `where` and the key, on unknown keys, wrong types or values
  // outside the rule.
  void set(const std::string& key, const Value& value, const std::string& where = "");
  // Parses text (from --set key=value) according to the key's type.
  void set_from_text(const std::string& key, const std::string& text, const std::string& where = "");

  bool has(const std::string& key) const { return values_.count(key) > 0; }
  const Value& get(const std::string& key) const;
  std::string str(const std::string& key) const;
  std::int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool flag(const std::string& key) const;

  const std::map<std::string, Value>& values() const { return values_; }

  // "key=value" lines, in key order, of the settings that differ from their
  // defaults: the canonical form that the id hashes.
  std::string canonical() const;
  // 16 hex digits of a 64-bit FNV-1a hash of the canonical form.
  std::string id() const;

 private:
  std::map<std::string, Value> values_;
};

std::string fnv1a_hex(const std::string& text);
// The same of a file's bytes (model.file_hash); throws naming an unreadable file.
std::string file_fnv1a_hex(const std::string& path);

// Settings in which a model departs from the global defaults (MulT's width 30,
// say). Filled by AUXGRID_REGISTER_MODEL at load time, so it never throws;
// grid expansion applies them to every key the grid itself does not set.
using SettingDefaults = std::vector<std::pair<std::string, Value>>;
std::map<std::string, SettingDefaults>& model_setting_defaults();
// Applies the defaults of config's model.name to the keys not in `explicit_keys`.
void apply_model_defaults(Config& config, const std::vector<std::string>& explicit_keys = {});

}  // namespace auxgrid
