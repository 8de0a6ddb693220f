// Line charts as standalone SVG, so accuracy curves can be looked at in any
// browser without a plotting stack.
//
//   LineChart chart{"test accuracy", "samples", "accuracy"};
//   chart.series.push_back({"model1", {{100, 0.61}, {200, 0.70}}});
//   WriteFile("curves.svg", chart.ToSvg());
#ifndef TRAINBUS_REPORT_SVG_CHART_H_
#define TRAINBUS_REPORT_SVG_CHART_H_

#include <string>
#include <utility>
#include <vector>

namespace trainbus::report {

// `text` with <, >, & and " escaped, for SVG text and attributes.
std::string XmlEscape(const std::string& text);

struct LineChart {
  struct Series {
    std::string name;
    std::vector<std::pair<double, double>> points;  // (x, y)
  };
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;

  std::string ToSvg(int width = 800, int height = 480) const;
};

}  // namespace trainbus::report

#endif  // TRAINBUS_REPORT_SVG_CHART_H_
