#include "report/topology_svg.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_format.h"
#include "report/svg_chart.h"  // XmlEscape

namespace trainbus::report {

std::string TopologyToSvg(const bus::TopologyDescription& topology) {
  // Column = longest path from a resource nobody binds into. Bindings are
  // acyclic (the directory refuses cycles), so this settles in |V| rounds.
  std::map<std::string, int> column;
  for (const auto& r : topology.resources) column[r.name] = 0;
  for (size_t round = 0; round < topology.resources.size(); ++round) {
    for (const auto& b : topology.bindings) {
      column[b.to] = std::max(column[b.to], column[b.from] + 1);
    }
  }
  std::map<int, std::vector<const bus::TopologyDescription::Resource*>> cols;
  for (const auto& r : topology.resources) cols[column[r.name]].push_back(&r);
  size_t rows = 1;
  for (const auto& [c, list] : cols) rows = std::max(rows, list.size());

  constexpr double kBoxW = 130, kBoxH = 34, kColGap = 150, kRowGap = 24;
  constexpr double kMargin = 20;
  std::map<std::string, std::pair<double, double>> at;  // box top-left
  for (const auto& [c, list] : cols) {
    const double offset = (rows - list.size()) * (kBoxH + kRowGap) / 2;
    for (size_t i = 0; i < list.size(); ++i) {
      at[list[i]->name] = {kMargin + c * (kBoxW + kColGap),
                           kMargin + offset + i * (kBoxH + kRowGap)};
    }
  }
  const double width = kMargin * 2 + cols.size() * (kBoxW + kColGap) - kColGap;
  const double height = kMargin * 2 + rows * (kBoxH + kRowGap) - kRowGap;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
      "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
      "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      std::max(width, 200.0), std::max(height, 60.0));
  for (const auto& b : topology.bindings) {
    const auto [fx, fy] = at[b.from];
    const auto [tx, ty] = at[b.to];
    const double x1 = fx + kBoxW, y1 = fy + kBoxH / 2;
    const double x2 = tx, y2 = ty + kBoxH / 2;
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
        "stroke=\"#555\" marker-end=\"url(#arrow)\"/>\n"
        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#444\" "
        "text-anchor=\"middle\">%s / %s</text>\n",
        x1, y1, x2, y2, (x1 + x2) / 2, (y1 + y2) / 2 - 4,
        XmlEscape(bus::FormatFilter(b.filter)), bus::PolicyName(b.policy));
  }
  for (const auto& r : topology.resources) {
    const auto [x, y] = at[r.name];
    absl::StrAppendFormat(
        &svg,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"6\" "
        "fill=\"#eef4fb\" stroke=\"#1f77b4\" stroke-width=\"%d\"%s/>\n",
        x, y, kBoxW, kBoxH, r.durable ? 3 : 1,
        r.remote ? " stroke-dasharray=\"5,3\"" : "");
    absl::StrAppendFormat(&svg,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                          "%s</text>\n",
                          x + kBoxW / 2, y + kBoxH / 2 + 4, XmlEscape(r.name));
  }
  return svg + "</svg>\n";
}

}  // namespace trainbus::report
