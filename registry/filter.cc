#include "registry/filter.h"

#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "registry/records.h"

namespace trainbus::registry {
namespace {

bool IsKeyStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
         c == '-' || c == '/';
}
bool IsOpChar(char c) {
  return c == '=' || c == '!' || c == '<' || c == '>' || c == '~';
}

std::optional<CompareOp> OpFromText(absl::string_view op) {
  if (op == "=" || op == "==") return CompareOp::kEq;
  if (op == "!=") return CompareOp::kNe;
  if (op == "<") return CompareOp::kLt;
  if (op == "<=") return CompareOp::kLe;
  if (op == ">") return CompareOp::kGt;
  if (op == ">=") return CompareOp::kGe;
  return std::nullopt;
}

void SkipSpaces(absl::string_view text, size_t& pos) {
  while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) {
    ++pos;
  }
}

}  // namespace

absl::string_view CompareOpText(CompareOp op) {
  // In the order of CompareOp; SQLite understands the same spellings.
  static constexpr absl::string_view kText[] = {"=", "!=", "<",
                                                "<=", ">", ">="};
  const size_t i = static_cast<size_t>(op);
  return i < sizeof(kText) / sizeof(kText[0]) ? kText[i] : "?";
}

absl::StatusOr<Filter> ParseFilter(absl::string_view text) {
  Filter filter;
  size_t pos = 0;
  SkipSpaces(text, pos);
  if (pos == text.size()) return filter;
  constexpr absl::string_view kHint =
      "; write clauses like name=mlp,test_accuracy>0.8 (operators: = != < <= "
      "> >=)";
  while (true) {
    SkipSpaces(text, pos);
    size_t clause_start = pos;
    if (pos >= text.size() || !IsKeyStart(text[pos])) {
      return absl::InvalidArgumentError(
          absl::StrCat("filter '", text, "': expected a key at position ", pos,
                       kHint));
    }
    Condition condition;
    size_t key_start = pos;
    while (pos < text.size() && IsKeyChar(text[pos])) ++pos;
    condition.key = std::string(text.substr(key_start, pos - key_start));
    SkipSpaces(text, pos);
    size_t op_start = pos;
    while (pos < text.size() && IsOpChar(text[pos])) ++pos;
    absl::string_view op_text = text.substr(op_start, pos - op_start);
    if (op_text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter '", text, "': expected an operator after key '",
          condition.key, "'", kHint));
    }
    std::optional<CompareOp> op = OpFromText(op_text);
    if (!op) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filter '", text, "': unknown operator '", op_text, "' after key '",
          condition.key, "'", kHint));
    }
    condition.op = *op;
    SkipSpaces(text, pos);
    if (pos < text.size() && text[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < text.size()) {
        char c = text[pos++];
        if (c == '\\' && pos < text.size()) {
          condition.value.push_back(text[pos++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          condition.value.push_back(c);
        }
      }
      if (!closed) {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter '", text, "': unterminated quote in the value of '",
            condition.key, "'; close it with \""));
      }
      SkipSpaces(text, pos);
      if (pos < text.size() && text[pos] != ',') {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter '", text, "': unexpected text after the quoted value of '",
            condition.key, "'; separate clauses with ','"));
      }
    } else {
      size_t value_start = pos;
      while (pos < text.size() && text[pos] != ',') ++pos;
      condition.value = std::string(absl::StripAsciiWhitespace(
          text.substr(value_start, pos - value_start)));
      if (condition.value.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter '", text, "': missing value in clause '",
            absl::StripAsciiWhitespace(
                text.substr(clause_start, pos - clause_start)),
            "'", kHint));
      }
      if (!condition.value.empty() && IsOpChar(condition.value.front())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "filter '", text, "': unknown operator '", op_text,
            absl::string_view(&condition.value.front(), 1), "' after key '",
            condition.key, "'",
            kHint));
      }
    }
    condition.number = ParseNumber(condition.value);
    filter.conditions.push_back(std::move(condition));
    if (pos >= text.size()) break;
    ++pos;  // the ','
  }
  return filter;
}

absl::StatusOr<std::vector<SortKey>> ParseSort(absl::string_view text) {
  std::vector<SortKey> keys;
  if (absl::StripAsciiWhitespace(text).empty()) return keys;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> words =
        absl::StrSplit(item, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.empty() || words.size() > 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sort '", text, "': each item is 'key [asc|desc]', got '",
          absl::StripAsciiWhitespace(item), "'"));
    }
    SortKey key;
    key.key = std::string(words[0]);
    if (!IsKeyStart(key.key[0])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sort '", text, "': '", key.key, "' is not a key name"));
    }
    for (char c : key.key) {
      if (!IsKeyChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sort '", text, "': '", key.key,
            "' is not a key name; write e.g. 'test_accuracy desc'"));
      }
    }
    if (words.size() == 2) {
      std::string dir = absl::AsciiStrToLower(words[1]);
      if (dir == "desc") {
        key.descending = true;
      } else if (dir != "asc") {
        return absl::InvalidArgumentError(
            absl::StrCat("sort '", text, "': unknown direction '", words[1],
                         "'; use asc or desc"));
      }
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

}  // namespace trainbus::registry
