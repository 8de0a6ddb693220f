// A small streaming JSON writer: enough for reports, the REST API and the
// CLI's --json, with correct string escaping and no dependencies.
//
//   JsonWriter w;
//   w.BeginObject().Key("name").String("model1").Key("acc").Number(0.84);
//   w.EndObject();
//   std::string text = w.str();
#ifndef TRAINBUS_REPORT_JSON_H_
#define TRAINBUS_REPORT_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace trainbus::report {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(absl::string_view key);
  JsonWriter& String(absl::string_view value);
  JsonWriter& Number(double value);  // NaN and infinities become null
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  const std::string& str() const { return out_; }

 private:
  void Separate();

  std::string out_;
  // Per open container: whether it already holds an element.
  std::vector<bool> has_element_;
  bool after_key_ = false;
};

// `text` as a quoted JSON string.
std::string JsonQuote(absl::string_view text);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_JSON_H_
