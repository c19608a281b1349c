// JsonValue: a parsed JSON document, for the CLI commands that read what tierswap wrote.
//
// `tierswap stats` reads a backend's /stats.json and `tierswap plot` reads stats and report
// files; both only walk a small tree of numbers, strings, arrays and objects, so a plain
// recursive-descent parser is enough (RFC 8259, with \uXXXX escapes turned into UTF-8). Object
// members keep their order; duplicate keys are kept, and Find returns the first. A syntax error
// names the line and column.
//
// Thread-safety: a value type; parsing keeps no state.
#ifndef TIERSWAP_FRONTEND_CLI_JSON_VALUE_H_
#define TIERSWAP_FRONTEND_CLI_JSON_VALUE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tiers/result.h"

namespace tierswap {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };

  // Parses a whole document (surrounding whitespace allowed). `source` names it in errors:
  // "stats.json:3:14: expected ',' or '}' after an object member".
  static Result<JsonValue> Parse(std::string_view text, std::string_view source);

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool boolean() const { return bool_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }

  // The member named `key` of an object, or nullptr (also for a value that is not an object).
  const JsonValue* Find(std::string_view key) const;
  // The member's number, or `fallback` when it is missing or not a number.
  double NumberOr(std::string_view key, double fallback) const;
  // The member's string, or `fallback` when it is missing or not a string.
  std::string StringOr(std::string_view key, std::string fallback) const;

 private:
  friend class JsonParser;

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> members_;
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CLI_JSON_VALUE_H_
