#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trainbus::report {

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                   "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// A "nice" tick step (1, 2 or 5 times a power of ten) for about n ticks.
double TickStep(double span, int n) {
  if (!(span > 0)) return 1;
  const double raw = span / n;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return mag * (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10);
}

}  // namespace

std::string LineChart::ToSvg(int width, int height) const {
  const double left = 70, right = 170, top = 40, bottom = 50;
  const double pw = width - left - right, ph = height - top - bottom;
  double x0 = std::numeric_limits<double>::max(), x1 = -x0;
  double y0 = x0, y1 = -x0;
  for (const Series& s : series) {
    for (const auto& [x, y] : s.points) {
      x0 = std::min(x0, x), x1 = std::max(x1, x);
      y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (x1 == x0) x1 = x0 + 1;
  // Pad the y range a little and snap it to the tick grid.
  const double ystep = TickStep(std::max(y1 - y0, 1e-6), 6);
  y0 = std::floor(y0 / ystep) * ystep;
  y1 = std::ceil(y1 / ystep) * ystep;
  if (y1 == y0) y1 = y0 + ystep;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%f\" y=\"24\" font-size=\"16\" text-anchor=\"middle\">%s"
      "</text>\n",
      width, height, left + pw / 2, XmlEscape(title));
  for (double y = y0; y <= y1 + ystep / 2; y += ystep) {
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%f\" y1=\"%f\" x2=\"%f\" y2=\"%f\" stroke=\"#ddd\"/>"
        "<text x=\"%f\" y=\"%f\" text-anchor=\"end\">%g</text>\n",
        left, py(y), left + pw, py(y), left - 6, py(y) + 4, y);
  }
  const double xstep = TickStep(x1 - x0, 8);
  for (double x = std::ceil(x0 / xstep) * xstep; x <= x1; x += xstep) {
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%f\" y1=\"%f\" x2=\"%f\" y2=\"%f\" stroke=\"#eee\"/>"
        "<text x=\"%f\" y=\"%f\" text-anchor=\"middle\">%g</text>\n",
        px(x), top, px(x), top + ph, px(x), top + ph + 16, x);
  }
  absl::StrAppendFormat(
      &svg,
      "<rect x=\"%f\" y=\"%f\" width=\"%f\" height=\"%f\" fill=\"none\" "
      "stroke=\"#333\"/>\n"
      "<text x=\"%f\" y=\"%f\" text-anchor=\"middle\">%s</text>\n"
      "<text transform=\"translate(16,%f) rotate(-90)\" "
      "text-anchor=\"middle\">%s</text>\n",
      left, top, pw, ph, left + pw / 2, top + ph + 38.0, XmlEscape(x_label),
      top + ph / 2, XmlEscape(y_label));
  size_t most_points = 0;
  for (const Series& s : series) most_points = std::max(most_points, s.points.size());
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const char* color = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string path;
    for (const auto& [x, y] : s.points) {
      absl::StrAppendFormat(&path, "%s%.1f,%.1f ", path.empty() ? "" : "",
                            px(x), py(y));
    }
    // Markers when every series has few enough points to tell apart (a
    // one-point series would otherwise not show at all).
    if (most_points <= 60) {
      for (const auto& [x, y] : s.points) {
        absl::StrAppendFormat(&svg,
                              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                              "fill=\"%s\"/>\n",
                              px(x), py(y), color);
      }
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
        "points=\"%s\"/>\n"
        "<line x1=\"%f\" y1=\"%f\" x2=\"%f\" y2=\"%f\" stroke=\"%s\" "
        "stroke-width=\"3\"/><text x=\"%f\" y=\"%f\">%s</text>\n",
        color, path, left + pw + 12, top + 10 + 20.0 * i, left + pw + 32,
        top + 10 + 20.0 * i, color, left + pw + 38, top + 14 + 20.0 * i,
        XmlEscape(s.name));
  }
  return svg + "</svg>\n";
}

}  // namespace trainbus::report
