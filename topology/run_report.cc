#include "topology/run_report.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "actors/topology/components.h"
#include "base/file.h"
#include "base/status_macros.h"
#include "kernels/nn/model.h"
#include "report/json_text.h"
#include "report/svg_chart.h"
#include "report/topology_svg.h"

namespace trainbus::topology {

std::string FormatSummaryTable(const RunReport& report) {
  std::string out = absl::StrFormat(
      "%-8s %-8s %9s %8s %9s %9s %10s %8s  %s\n", "model", "kind", "params",
      "steps", "test_acc", "preq_acc", "samples/s", "train_s", "spec");
  for (const actors::ModelSummary& m : report.models) {
    absl::StrAppendFormat(
        &out, "%-8s %-8s %9d %8d %9.4f %9.4f %10.0f %8.1f  %s%s\n", m.name,
        m.arch, m.parameters, m.steps, m.test_accuracy, m.prequential_accuracy,
        m.samples_per_second, m.train_seconds, m.spec,
        m.error.empty() ? "" : "  ERROR: " + m.error);
  }
  for (const actors::ModelSummary& m : report.models) {
    out += actors::SummaryNotes(m.name, m.rejected_shape, m.rejected_label,
                                m.warnings);
  }
  absl::StrAppendFormat(&out, "wall time %.1f s for %d samples x %d epoch(s)\n",
                        report.wall_seconds, report.train_samples,
                        report.epochs);
  return out;
}

namespace {

// The shortest decimal that reads back as `f` (0.01f is 0.01, not
// 0.009999999776): what the spec said.
double ShortestDecimal(float f) {
  for (int digits = 6; digits < 9; ++digits) {
    const double d = std::stod(absl::StrFormat("%.*g", digits, f));
    if (static_cast<float>(d) == f) return d;
  }
  return f;
}

report::Json HyperparametersJson(const std::string& spec_text) {
  report::Json out = report::Json::object();
  if (absl::StatusOr<nn::ModelSpec> spec = nn::ParseModelSpec(spec_text);
      spec.ok()) {
    out["optimizer"] = spec->optimizer;
    out["learning_rate"] = ShortestDecimal(spec->learning_rate);
    out["batch_size"] = spec->batch_size;
    out["hidden"] = spec->hidden;
  }
  return out;
}

report::Json ModelJson(const actors::ModelSummary& m) {
  report::Json out = {
      {"name", m.name},
      {"kind", m.arch},
      {"spec", m.spec},
      {"hyperparameters", HyperparametersJson(m.spec)},
      {"parameters", m.parameters},
      {"steps", m.steps},
      {"samples", m.samples},
      {"test_accuracy", m.test_accuracy},
      {"prequential_accuracy", m.prequential_accuracy},
      {"train_samples_per_second", m.samples_per_second},
      {"train_seconds", m.train_seconds},
  };
  if (!m.error.empty()) out["error"] = m.error;
  out["curve"] = report::Json::array();
  for (const actors::CurvePoint& p : m.curve) {
    out["curve"].push_back({{"step", p.step},
                            {"samples", p.samples},
                            {"test_accuracy", p.test_accuracy},
                            {"prequential_accuracy", p.prequential_accuracy},
                            {"loss", p.loss}});
  }
  // After every older field, so that readers by position keep working.
  out["rejected_shape"] = m.rejected_shape;
  out["rejected_label"] = m.rejected_label;
  out["warnings"] = m.warnings;
  if (!m.stopped.empty()) out["stopped"] = m.stopped;
  return out;
}

report::Json FateJson(const Fate& f) {
  report::Json copies = report::Json::array();
  for (const Fate::Copy& c : f.copies) {
    copies.push_back({{"at", c.point}, {"from", c.donor}, {"spec", c.spec}});
  }
  report::Json out = {{"model", f.model}, {"initial_spec", f.initial_spec}};
  out["pruned_at"] = f.pruned_at == 0 ? report::Json() : report::Json(f.pruned_at);
  if (f.pruned_at != 0) out["pruned_accuracy"] = f.pruned_accuracy;
  out["copies"] = std::move(copies);
  return out;
}

report::Json ResourceJson(const bus::ResourceMetrics& r) {
  report::Json subscriptions = report::Json::array();
  for (const bus::SubscriptionMetrics& s : r.subscriptions) {
    subscriptions.push_back({{"name", s.name},
                             {"policy", s.policy},
                             {"delivered", s.delivered},
                             {"filtered", s.filtered},
                             {"dropped", s.dropped}});
  }
  return {{"resource", r.name},
          {"published", r.published},
          {"blocked", r.blocked},
          {"subscriptions", std::move(subscriptions)}};
}

}  // namespace

std::string ReportToJson(const RunReport& report) {
  report::Json models = report::Json::array();
  for (const actors::ModelSummary& m : report.models)
    models.push_back(ModelJson(m));
  report::Json resources = report::Json::array();
  for (const bus::ResourceMetrics& r : report.bus) {
    resources.push_back(ResourceJson(r));
  }
  report::Json doc = {{"data_dir", report.data_dir},
                      {"train_samples", report.train_samples},
                      {"test_samples", report.test_samples},
                      {"epochs", report.epochs},
                      {"wall_seconds", report.wall_seconds},
                      {"models", std::move(models)},
                      {"bus", std::move(resources)}};
  // After every older field, so that readers by position keep working.
  doc["name"] = report.name;
  doc["stopped_models"] = report.stopped_models;
  doc["sources"] = report::Json::array();
  for (const SourceReport& src : report.sources) {
    doc["sources"].push_back({{"name", src.name},
                              {"kind", SourceKindName(src.kind)},
                              {"published", src.published},
                              {"dead_lettered", src.dead_lettered}});
  }
  doc["consumers"] = report::Json::array();
  for (const actors::ConsumerStats& c : report.consumers) {
    report::Json& j = doc["consumers"].emplace_back();
    j["name"] = c.name;
    j["predictions"] = c.predictions;
    j["metrics"] = c.metrics;
    j["samples"] = c.samples;
    j["errors"] = c.errors;
  }
  doc["dead_letters"] = report::Json::array();
  for (const DeadLetter& d : report.dead_letters) {
    doc["dead_letters"].push_back(
        {{"seq", d.seq}, {"path", d.path}, {"error", d.error}});
  }
  if (!report.population.empty()) {
    doc["population"] = report::Json::array();
    for (const Fate& f : report.population) {
      doc["population"].push_back(FateJson(f));
    }
  }
  return report::ToJsonText(doc) + "\n";
}

std::string CurvesToSvg(const RunReport& report) {
  report::LineChart chart;
  chart.title = "held-out accuracy while training";
  chart.x_label = "training samples seen";
  chart.y_label = "test accuracy";
  for (const actors::ModelSummary& m : report.models) {
    report::LineChart::Series s;
    s.name = absl::StrCat(m.name, " (", m.arch, ")");
    for (const actors::CurvePoint& p : m.curve) {
      s.points.emplace_back(static_cast<double>(p.samples), p.test_accuracy);
    }
    chart.series.push_back(std::move(s));
  }
  return chart.ToSvg();
}

absl::Status CheckReportFiles(const ReportFiles& files) {
  if (!files.report_json.empty()) {
    absl::Status s = base::CheckFileWritable(files.report_json);
    if (!s.ok()) return actors::PrefixStatus("--report_json", s);
  }
  if (!files.out_dir.empty()) {
    absl::Status s = base::CheckDirectoryWritable(files.out_dir);
    if (!s.ok()) return actors::PrefixStatus("--out_dir", s);
  }
  return absl::OkStatus();
}

absl::Status WriteReportFiles(const RunReport& report,
                              const ReportFiles& files) {
  const std::string json = ReportToJson(report);
  if (!files.report_json.empty()) {
    TB_RETURN_IF_ERROR(base::WriteFileAtomically(files.report_json, json));
  }
  if (files.out_dir.empty()) return absl::OkStatus();
  const std::string& dir = files.out_dir;
  for (const auto& [name, text] :
       {std::pair<const char*, std::string>{"report.json", json},
        {"curves.svg", CurvesToSvg(report)},
        {"topology.svg", report::TopologyToSvg(report.topology)},
        {"topology.dot", report.topology.ToDot()}}) {
    TB_RETURN_IF_ERROR(
        base::WriteFileAtomically(absl::StrCat(dir, "/", name), text));
  }
  return absl::OkStatus();
}

namespace {

uint64_t Published(const RunReport& r, SourceKind kind) {
  uint64_t n = 0;
  for (const SourceReport& s : r.sources) n += s.kind == kind ? s.published : 0;
  return n;
}

}  // namespace

std::string FormatProductionReport(const RunReport& r) {
  std::string out;
  absl::StrAppendFormat(
      &out,
      "\n== sources\ntraining: %d labelled samples; live: %d replayed test "
      "samples, %d images from %s, %d dead letters\n",
      r.train_samples, Published(r, SourceKind::kTestReplay),
      Published(r, SourceKind::kImageDir), r.image_dir, r.dead_letters.size());
  out += "\n== models\n";
  absl::StrAppendFormat(&out, "%-8s %-8s %8s %8s %11s %9s  %s\n", "model",
                        "kind", "steps", "trained", "predictions", "test_acc",
                        "spec");
  for (const actors::ModelSummary& m : r.models) {
    absl::StrAppendFormat(&out, "%-8s %-8s %8d %8d %11d %9.4f  %s%s\n", m.name,
                          m.arch, m.steps, m.samples, m.predictions,
                          m.test_accuracy, m.spec,
                          m.error.empty() ? "" : "  ERROR: " + m.error);
  }
  out += "\n== what each consumer received\n";
  for (const actors::ConsumerStats& s : r.consumers) {
    absl::StrAppend(&out, actors::FormatConsumerStats(s), "\n");
  }
  if (!r.jsonl_path.empty()) {
    absl::StrAppend(&out, "JSON lines written to ", r.jsonl_path, "\n");
  }
  out += "\n== aggregator (live predictions)\n";
  out += r.aggregate ? actors::FormatAggregateReport(*r.aggregate) : "(none)\n";
  out += "\n== dead letters\n";
  if (r.dead_letters.empty()) out += "(none)\n";
  for (const DeadLetter& d : r.dead_letters) {
    absl::StrAppendFormat(&out, "#%d %s: %s\n", d.seq, d.path, d.error);
  }
  out += "\n== bus\n";
  out += bus::FormatMetricsTable(r.bus);
  absl::StrAppendFormat(&out, "wall time %.1f s\n", r.wall_seconds);
  return out;
}

std::string FormatRunReport(const RunReport& report) {
  if (report.production) return FormatProductionReport(report);
  std::string out = "\n" + FormatSummaryTable(report);
  if (!report.population.empty()) {
    absl::StrAppend(&out, "\npopulation:\n", FormatFates(report.population));
  }
  return out;
}

}  // namespace trainbus::topology
