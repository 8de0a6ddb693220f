#include "report/topology_svg.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/svg_chart.h"  // XmlEscape

namespace trainbus::report {
namespace {

// Text widths are estimated (no font metrics in a standalone file): a bit
// generous for sans-serif, so labels stay inside their boxes.
constexpr double kTitleChar = 7.4, kSubChar = 6.0, kLabelChar = 5.8;
constexpr double kMargin = 16, kRowGap = 14, kMinColGap = 70;
constexpr double kGroupPad = 12, kGroupHeader = 22;

struct Style {
  const char* fill;
  const char* stroke;
  double radius;
};

Style StyleOf(const std::string& kind) {
  if (kind == "source") return {"#e8f5e9", "#2e7d32", 0};
  if (kind == "resource") return {"#eef4fb", "#1f77b4", 3};
  if (kind == "model") return {"#fff3e0", "#ef6c00", 12};
  if (kind == "consumer") return {"#f3e5f5", "#6a1b9a", 0};
  if (kind == "controller") return {"#fce4ec", "#c2185b", 12};
  return {"#f5f5f5", "#555555", 0};
}

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

struct Layout {
  std::vector<int> column;  // per node
  std::vector<int> band;    // per node: 0 local, k + 1 for groups[k]
  std::vector<Box> box;     // per node
  std::vector<Box> band_box;
  std::map<std::string, size_t> index;            // node id -> index
  std::vector<std::pair<size_t, size_t>> edges;  // valid (from, to) indices
  double width = 0, height = 0;
};

double BoxWidth(const TopologyGraph::Node& n) {
  return std::max(100.0, std::max(n.title.size() * kTitleChar,
                                  n.subtitle.size() * kSubChar) + 18);
}
double BoxHeight(const TopologyGraph::Node& n) {
  return n.subtitle.empty() ? 26 : 40;
}

// Longest path from the roots; a cycle (which specs refuse) is cut after
// |V| rounds instead of looping.
std::vector<int> Columns(size_t n,
                         const std::vector<std::pair<size_t, size_t>>& edges) {
  std::vector<int> column(n, 0);
  for (size_t round = 0; round < n; ++round) {
    bool changed = false;
    for (const auto& [from, to] : edges) {
      if (column[to] < column[from] + 1 && column[from] + 1 < int(n)) {
        column[to] = column[from] + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return column;
}

Layout Place(const TopologyGraph& g) {
  Layout l;
  const size_t n = g.nodes.size();
  std::map<std::string, size_t>& index = l.index;
  for (size_t i = 0; i < n; ++i) index.emplace(g.nodes[i].id, i);
  for (const auto& e : g.edges) {
    auto from = index.find(e.from), to = index.find(e.to);
    if (from == index.end() || to == index.end()) continue;
    l.edges.emplace_back(from->second, to->second);
  }
  l.column = Columns(n, l.edges);
  std::map<std::string, int> band_of;
  for (size_t k = 0; k < g.groups.size(); ++k) band_of[g.groups[k].id] = k + 1;
  const size_t bands = g.groups.size() + 1;
  int columns = 1;
  l.band.resize(n);
  for (size_t i = 0; i < n; ++i) {
    auto it = band_of.find(g.nodes[i].group);
    l.band[i] = it == band_of.end() ? 0 : it->second;
    columns = std::max(columns, l.column[i] + 1);
  }
  // cell[band][column]: the nodes stacked there, top to bottom.
  std::vector<std::vector<std::vector<size_t>>> cell(
      bands, std::vector<std::vector<size_t>>(columns));
  for (size_t i = 0; i < n; ++i) cell[l.band[i]][l.column[i]].push_back(i);
  // One barycentre sweep, left to right: a node sits near the mean row of
  // what feeds it, which removes most crossings of a fan-out.
  std::vector<double> rank(n, 0);
  for (int c = 0; c < columns; ++c) {
    for (size_t b = 0; b < bands; ++b) {
      std::vector<size_t>& list = cell[b][c];
      std::vector<double> key(n, 0);
      for (size_t pos = 0; pos < list.size(); ++pos) {
        double sum = 0;
        int count = 0;
        for (const auto& [from, to] : l.edges) {
          if (to == list[pos] && l.column[from] < c) {
            sum += rank[from];
            ++count;
          }
        }
        key[list[pos]] = count > 0 ? sum / count : b * 1e6 + pos;
      }
      std::stable_sort(list.begin(), list.end(),
                       [&](size_t a, size_t z) { return key[a] < key[z]; });
      for (size_t pos = 0; pos < list.size(); ++pos) {
        rank[list[pos]] = b * 1e6 + pos;
      }
    }
  }
  // Column widths, and gaps wide enough for the labels leaving a column.
  std::vector<double> col_w(columns, 0), gap(columns, kMinColGap);
  for (size_t i = 0; i < n; ++i) {
    col_w[l.column[i]] = std::max(col_w[l.column[i]], BoxWidth(g.nodes[i]));
  }
  for (const auto& e : g.edges) {
    auto from = index.find(e.from);
    if (from == index.end() || e.label.empty()) continue;
    double& w = gap[l.column[from->second]];
    w = std::max(w, e.label.size() * kLabelChar + 30);
  }
  const bool boxed = !g.groups.empty();
  const double pad = boxed ? kGroupPad : 0, header = boxed ? kGroupHeader : 0;
  std::vector<double> col_x(columns);
  double x = kMargin + pad;
  for (int c = 0; c < columns; ++c) {
    col_x[c] = x;
    x += col_w[c] + gap[c];
  }
  const double content_right = x - gap[columns - 1];
  // Bands stacked top to bottom, each as tall as its tallest cell.
  l.box.resize(n);
  l.band_box.resize(bands);
  double y = kMargin;
  for (size_t b = 0; b < bands; ++b) {
    double inner = 0;
    std::vector<double> cell_h(columns, 0);
    for (int c = 0; c < columns; ++c) {
      for (size_t i : cell[b][c]) cell_h[c] += BoxHeight(g.nodes[i]) + kRowGap;
      if (!cell[b][c].empty()) cell_h[c] -= kRowGap;
      inner = std::max(inner, cell_h[c]);
    }
    if (b == 0 && inner == 0 && boxed) {
      l.band_box[b] = {};  // nothing runs unplaced: no local box
      continue;
    }
    inner = std::max(inner, boxed ? 20.0 : 0.0);
    double left = content_right, right = kMargin + pad;
    for (int c = 0; c < columns; ++c) {
      double at = y + header + (inner - cell_h[c]) / 2;
      for (size_t i : cell[b][c]) {
        l.box[i] = {col_x[c], at, col_w[c], BoxHeight(g.nodes[i])};
        l.box[i].x += (col_w[c] - BoxWidth(g.nodes[i])) / 2;
        l.box[i].w = BoxWidth(g.nodes[i]);
        at += BoxHeight(g.nodes[i]) + kRowGap;
        left = std::min(left, l.box[i].x);
        right = std::max(right, l.box[i].x + l.box[i].w);
      }
    }
    if (left > right) {  // an empty node: a small box of its own
      left = kMargin + pad;
      right = left + 160;
    }
    const double label_w =
        (b == 0 ? g.local_label.size() : g.groups[b - 1].label.size()) *
        kTitleChar;
    right = std::max(right, left + label_w);
    l.band_box[b] = {left - pad, y, right - left + 2 * pad,
                     header + inner + pad};
    y += l.band_box[b].h + (boxed ? kRowGap : 0);
  }
  l.width = kMargin;
  for (const Box& b : l.band_box) l.width = std::max(l.width, b.x + b.w);
  for (const Box& b : l.box) l.width = std::max(l.width, b.x + b.w);
  l.width += kMargin;
  l.height = y + kMargin;
  return l;
}

// Control points of the edge from box a to box z: left to right, or, for an
// edge that goes back (a cycle), a loop below both.
std::vector<std::pair<double, double>> Curve(const Box& a, const Box& z) {
  const double x0 = a.x + a.w, y0 = a.y + a.h / 2;
  const double x3 = z.x, y3 = z.y + z.h / 2;
  if (x3 > x0) {
    const double dx = (x3 - x0) / 2;
    return {{x0, y0}, {x0 + dx, y0}, {x3 - dx, y3}, {x3, y3}};
  }
  const double below = std::max(a.y + a.h, z.y + z.h) + 40;
  return {{x0, y0}, {x0 + 60, below}, {x3 - 60, below}, {x3, y3}};
}

void AppendEdge(const TopologyGraph::Edge& e, const Box& a, const Box& z,
                std::string* svg) {
  const auto p = Curve(a, z);
  absl::StrAppendFormat(
      svg,
      "<g class=\"edge\"><title>%s -&gt; %s</title>"
      "<path d=\"M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"none\" "
      "stroke=\"#666\" stroke-width=\"1.2\"%s marker-end=\"url(#arrow)\"/>",
      XmlEscape(e.from), XmlEscape(e.to), p[0].first, p[0].second,
      p[1].first, p[1].second, p[2].first, p[2].second, p[3].first,
      p[3].second, e.dashed ? " stroke-dasharray=\"5,3\"" : "");
  if (!e.label.empty()) {
    // The curve's midpoint, B(1/2) = (P0 + 3 P1 + 3 P2 + P3) / 8.
    const double mx = (p[0].first + 3 * p[1].first + 3 * p[2].first +
                       p[3].first) / 8;
    const double my = (p[0].second + 3 * p[1].second + 3 * p[2].second +
                       p[3].second) / 8;
    const double w = e.label.size() * kLabelChar + 6;
    absl::StrAppendFormat(
        svg,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
        "fill=\"white\" fill-opacity=\"0.85\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#333\" "
        "text-anchor=\"middle\">%s</text>",
        mx - w / 2, my - 8, w, mx, my + 3.5, XmlEscape(e.label));
  }
  *svg += "</g>\n";
}

void AppendNode(const TopologyGraph::Node& n, const Box& b, std::string* svg) {
  const Style s = StyleOf(n.kind);
  absl::StrAppendFormat(
      svg,
      "<g class=\"node %s\"><title>%s</title>"
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
      "rx=\"%.0f\" fill=\"%s\" stroke=\"%s\" stroke-width=\"1.5\"/>",
      XmlEscape(n.kind), XmlEscape(n.id), b.x, b.y, b.w, b.h, s.radius, s.fill,
      s.stroke);
  if (n.emphasis) {
    absl::StrAppendFormat(svg,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                          "height=\"%.1f\" rx=\"%.0f\" fill=\"none\" "
                          "stroke=\"%s\" stroke-width=\"1\"/>",
                          b.x + 3, b.y + 3, b.w - 6, b.h - 6,
                          std::max(0.0, s.radius - 3), s.stroke);
  }
  const double cx = b.x + b.w / 2;
  absl::StrAppendFormat(svg,
                        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                        "font-weight=\"bold\">%s</text>",
                        cx, b.y + 17, XmlEscape(n.title));
  if (!n.subtitle.empty()) {
    absl::StrAppendFormat(svg,
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                          "font-size=\"10\" fill=\"#444\">%s</text>",
                          cx, b.y + 32, XmlEscape(n.subtitle));
  }
  *svg += "</g>\n";
}

}  // namespace

std::string TopologyToSvg(const TopologyGraph& g) {
  const Layout l = Place(g);
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
      "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
      "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
      "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" "
      "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">"
      "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#666\"/></marker></defs>\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      l.width, l.height, l.width, l.height);
  if (!g.groups.empty()) {
    for (size_t b = 0; b < l.band_box.size(); ++b) {
      const Box& box = l.band_box[b];
      if (box.w == 0) continue;
      const std::string& label = b == 0 ? g.local_label : g.groups[b - 1].label;
      absl::StrAppendFormat(
          &svg,
          "<g class=\"group\"><title>%s</title>"
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
          "rx=\"6\" fill=\"%s\" stroke=\"#999\" stroke-dasharray=\"6,3\"/>"
          "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" fill=\"#555\">"
          "%s</text></g>\n",
          XmlEscape(label), box.x, box.y, box.w, box.h,
          b == 0 ? "#fafafa" : "#f4f7f4", box.x + 8, box.y + 15,
          XmlEscape(label));
    }
  }
  for (const auto& e : g.edges) {
    auto from = l.index.find(e.from), to = l.index.find(e.to);
    if (from == l.index.end() || to == l.index.end()) continue;
    AppendEdge(e, l.box[from->second], l.box[to->second], &svg);
  }
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    AppendNode(g.nodes[i], l.box[i], &svg);
  }
  return svg + "</svg>\n";
}

}  // namespace trainbus::report
