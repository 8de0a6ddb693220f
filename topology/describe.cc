#include "topology/describe.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bus/filter.h"

namespace trainbus::topology {
namespace {

std::string Count(size_t n, const char* singular, const char* plural) {
  return absl::StrCat(n, " ", n == 1 ? singular : plural);
}

std::string Local(const std::string& node) { return node.empty() ? "-" : node; }

// Columns padded to their widest cell, two spaces apart.
std::string Table(const std::string& title,
                  const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::string out = absl::StrCat(title, "\n");
  if (rows.empty()) return absl::StrCat(out, "  (none)\n");
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    width[c] = header[c].size();
    for (const auto& row : rows) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text = " ";
    for (size_t c = 0; c < cells.size(); ++c) {
      absl::StrAppend(&text, " ", cells[c]);
      if (c + 1 < cells.size())
        text.append(width[c] - cells[c].size() + 1, ' ');
    }
    return text + "\n";
  };
  out += line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string SourceDetails(const SourceSpec& s) {
  std::vector<std::string> parts;
  if (s.kind == SourceKind::kImageDir) {
    parts.push_back(absl::StrCat("dir=", s.dir));
  } else {
    parts.push_back(absl::StrCat("data_dir=", s.data_dir));
  }
  if (s.kind == SourceKind::kIdxGenerator) {
    parts.push_back(absl::StrCat("epochs=", s.epochs));
    parts.push_back(absl::StrCat("seed=", s.seed));
    if (!s.labels) parts.push_back("unlabelled");
  }
  if (s.first > 0) parts.push_back(absl::StrCat("first=", s.first));
  if (s.limit > 0) parts.push_back(absl::StrCat("limit=", s.limit));
  if (!s.dead_letter.empty()) {
    parts.push_back(absl::StrCat("dead_letter=", s.dead_letter));
  }
  if (s.export_images + s.export_broken > 0) {
    parts.push_back(absl::StrCat("export=", s.export_images, "+",
                                 s.export_broken, " from ", s.data_dir));
  }
  parts.push_back(s.rate > 0 ? absl::StrCat("rate=", s.rate, "/s")
                             : "rate=max");
  return absl::StrJoin(parts, " ");
}

std::string ResourceLog(const bus::ResourceOptions& r) {
  if (!r.durable()) return "-";
  std::string out = r.log_dir;
  if (r.fsync_every > 0) absl::StrAppend(&out, " fsync_every=", r.fsync_every);
  if (r.retention_bytes > 0) {
    absl::StrAppend(&out, " retention_bytes=", r.retention_bytes);
  }
  return out;
}

// DOT identifiers and labels: quoted, with quotes and backslashes escaped
// and line breaks as DOT's \n.
std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string Id(const char* kind, const std::string& name) {
  return Quote(absl::StrCat(kind, ":", name));
}

}  // namespace

std::string Summary(const TopologySpec& spec) {
  return absl::StrJoin({Count(spec.sources.size(), "source", "sources"),
                        Count(spec.resources.size(), "resource", "resources"),
                        Count(spec.bindings.size(), "binding", "bindings"),
                        Count(spec.models.size(), "model", "models"),
                        Count(spec.consumers.size(), "consumer", "consumers"),
                        Count(spec.nodes.size(), "node", "nodes")},
                       ", ");
}

std::string DescribeTable(const TopologySpec& spec) {
  std::string out =
      absl::StrCat("topology ", spec.name.empty() ? "(unnamed)" : spec.name,
                   ": ", Summary(spec), "\n");
  if (!spec.description.empty()) absl::StrAppend(&out, spec.description, "\n");
  std::vector<std::vector<std::string>> rows;
  for (const SourceSpec& s : spec.sources) {
    rows.push_back({s.name, SourceKindName(s.kind), s.output, Local(s.node),
                    SourceDetails(s)});
  }
  out += "\n" +
         Table("SOURCES", {"name", "kind", "output", "node", "details"}, rows);
  rows.clear();
  for (const ResourceSpec& r : spec.resources) {
    rows.push_back({r.options.name, r.options.durable() ? "yes" : "no",
                    absl::StrCat(r.options.max_queue), Local(r.node),
                    ResourceLog(r.options)});
  }
  out += "\n" + Table("RESOURCES",
                      {"name", "durable", "max_queue", "node", "log"}, rows);
  rows.clear();
  for (const BindingSpec& b : spec.bindings) {
    rows.push_back(
        {b.options.from, b.options.to, bus::FormatFilter(b.options.filter),
         bus::PolicyName(b.options.policy), absl::StrCat(b.options.window)});
  }
  out += "\n" +
         Table("BINDINGS", {"from", "to", "filter", "policy", "window"}, rows);
  rows.clear();
  for (const ModelEntry& m : spec.models) {
    rows.push_back({m.name, m.input, m.output, absl::StrCat(m.eval_every),
                    Local(m.node), m.spec_text});
  }
  out += "\n" + Table("MODELS",
                      {"name", "input", "output", "eval_every", "node", "spec"},
                      rows);
  rows.clear();
  for (const ConsumerSpec& c : spec.consumers) {
    rows.push_back({c.name, ConsumerKindName(c.kind),
                    absl::StrJoin(c.inputs, ","), Local(c.node),
                    c.kind == ConsumerKind::kJsonl ? c.path : "-"});
  }
  out += "\n" +
         Table("CONSUMERS", {"name", "kind", "inputs", "node", "path"}, rows);
  rows.clear();
  for (const NodeSpec& n : spec.nodes) {
    rows.push_back({n.name, n.address.empty() ? "(command line)" : n.address});
  }
  out += "\n" + Table("NODES", {"name", "address"}, rows);
  if (spec.registry.has_value()) {
    out += "\n" + Table("REGISTRY", {"dir"}, {{spec.registry->dir}});
  }
  return out;
}

std::string DescribeDot(const TopologySpec& spec) {
  // Every component's declaration line, grouped by the node it is placed on
  // ("" = the process that runs the spec).
  std::map<std::string, std::vector<std::string>> placed;
  for (const SourceSpec& s : spec.sources) {
    placed[s.node].push_back(absl::StrCat(
        Id("source", s.name), " [shape=house, label=",
        Quote(absl::StrCat(s.name, "\n", SourceKindName(s.kind))), "];"));
  }
  for (const ResourceSpec& r : spec.resources) {
    placed[r.node].push_back(absl::StrCat(
        Id("resource", r.options.name), " [shape=cylinder, label=",
        Quote(absl::StrCat("[", r.options.name, "]",
                           r.options.durable() ? "\ndurable" : "")),
        "];"));
  }
  for (const ModelEntry& m : spec.models) {
    placed[m.node].push_back(
        absl::StrCat(Id("model", m.name), " [shape=box, style=rounded, label=",
                     Quote(absl::StrCat(m.name, "\n", m.spec_text)), "];"));
  }
  for (const ConsumerSpec& c : spec.consumers) {
    placed[c.node].push_back(absl::StrCat(
        Id("consumer", c.name), " [shape=note, label=",
        Quote(absl::StrCat(c.name, "\n", ConsumerKindName(c.kind))), "];"));
  }
  std::string out = absl::StrCat(
      "digraph ", Quote(spec.name.empty() ? "topology" : spec.name), " {\n",
      "  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n",
      "  edge [fontname=\"Helvetica\", fontsize=9];\n");
  for (const std::string& line : placed[""])
    absl::StrAppend(&out, "  ", line, "\n");
  size_t cluster = 0;
  for (const NodeSpec& n : spec.nodes) {
    absl::StrAppend(
        &out, "  subgraph cluster_", cluster++, " {\n    label=",
        Quote(absl::StrCat("node ", n.name,
                           n.address.empty() ? "" : " (" + n.address + ")")),
        ";\n    style=dashed;\n");
    for (const std::string& line : placed[n.name]) {
      absl::StrAppend(&out, "    ", line, "\n");
    }
    absl::StrAppend(&out, "  }\n");
  }
  for (const SourceSpec& s : spec.sources) {
    absl::StrAppend(&out, "  ", Id("source", s.name), " -> ",
                    Id("resource", s.output), ";\n");
    if (!s.dead_letter.empty()) {
      absl::StrAppend(&out, "  ", Id("source", s.name), " -> ",
                      Id("resource", s.dead_letter), " [style=dashed];\n");
    }
  }
  for (const BindingSpec& b : spec.bindings) {
    absl::StrAppend(
        &out, "  ", Id("resource", b.options.from), " -> ",
        Id("resource", b.options.to), " [label=",
        Quote(absl::StrCat(bus::FormatFilter(b.options.filter), "\n",
                           bus::PolicyName(b.options.policy))),
        "];\n");
  }
  for (const ModelEntry& m : spec.models) {
    absl::StrAppend(&out, "  ", Id("resource", m.input), " -> ",
                    Id("model", m.name), ";\n  ", Id("model", m.name), " -> ",
                    Id("resource", m.output), ";\n");
    if (!m.predictions.empty()) {
      absl::StrAppend(&out, "  ", Id("model", m.name), " -> ",
                      Id("resource", m.predictions), ";\n");
    }
  }
  for (const ConsumerSpec& c : spec.consumers) {
    for (const std::string& input : c.inputs) {
      absl::StrAppend(&out, "  ", Id("resource", input), " -> ",
                      Id("consumer", c.name), ";\n");
    }
  }
  return out + "}\n";
}

}  // namespace trainbus::topology
