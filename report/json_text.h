// JSON documents for reports, built with nlohmann::ordered_json (fields stay
// in the order they are set) and turned into text without exceptions.
//
//   report::Json doc;
//   doc["name"] = "model1";
//   doc["test_accuracy"] = 0.84;
//   std::string text = report::ToJsonText(doc);  // {"name":"model1",...}
#ifndef TRAINBUS_REPORT_JSON_TEXT_H_
#define TRAINBUS_REPORT_JSON_TEXT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace trainbus::report {

using Json = nlohmann::ordered_json;

// Compact text. NaN and infinities become null; bytes that are not UTF-8
// (a path, a user's model name) become U+FFFD instead of throwing.
std::string ToJsonText(const Json& value);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_JSON_TEXT_H_
