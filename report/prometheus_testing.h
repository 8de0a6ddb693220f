// Checks a scrape with the real `promtool check metrics` (Debian's
// prometheus, installed by tools/setup.sh), for the tests of every
// /metrics writer.
#ifndef TRAINBUS_REPORT_PROMETHEUS_TESTING_H_
#define TRAINBUS_REPORT_PROMETHEUS_TESTING_H_

#include <string>

namespace trainbus::report {

// Runs promtool on `text`; returns what it printed and sets `code` to its
// exit code (0: valid). A promtool that cannot start is a test failure.
std::string CheckWithPromtool(const std::string& text, int* code);

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_PROMETHEUS_TESTING_H_
