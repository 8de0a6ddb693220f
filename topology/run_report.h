// What a run (topology/runner.h) reports, for people and for programs: the
// summary table, the JSON report, the accuracy curves, and the files a run
// writes (report.json, curves.svg, topology.svg, topology.dot).
//
//   TB_RETURN_IF_ERROR(CheckReportFiles(files));   // before the run
//   TB_ASSIGN_OR_RETURN(RunReport report, RunSpec(spec, options));
//   std::cout << FormatRunReport(report);
//   TB_RETURN_IF_ERROR(WriteReportFiles(report, files));
#ifndef TRAINBUS_TOPOLOGY_RUN_REPORT_H_
#define TRAINBUS_TOPOLOGY_RUN_REPORT_H_

#include <string>

#include "absl/status/status.h"
#include "topology/runner.h"

namespace trainbus::topology {

// A fixed-width table, one row per model, with the samples each refused
// and its warnings under it, and the wall time.
std::string FormatSummaryTable(const RunReport& report);
// Production routing's report: sources, models (with predictions), what
// each consumer received, the aggregate, the dead letters, the bus.
std::string FormatProductionReport(const RunReport& report);
// The one a run prints: production's when the spec has production
// sources, else a blank line and the summary table.
std::string FormatRunReport(const RunReport& report);

// The report as JSON: data_dir, train_samples, test_samples, epochs,
// wall_seconds, then per model name, kind, spec, hyperparameters, steps,
// test_accuracy, samples/s, the accuracy curve, the samples it refused
// (rejected_shape, rejected_label) and its warnings, then the bus; after
// those the spec's name, stopped_models, sources (published, dead
// lettered), consumers (what each received) and dead_letters.
std::string ReportToJson(const RunReport& report);
// Test accuracy against samples seen, one line per model.
std::string CurvesToSvg(const RunReport& report);

// Where a run's results go: a JSON report, and a directory that gets
// report.json, curves.svg, topology.svg and topology.dot. Empty: none.
struct ReportFiles {
  std::string report_json;
  std::string out_dir;
};
// Before the run: creates the directories and checks both can be written,
// so that a run whose results would be lost does not start.
absl::Status CheckReportFiles(const ReportFiles& files);
// After the run: writes every file (each atomically).
absl::Status WriteReportFiles(const RunReport& report,
                              const ReportFiles& files);

}  // namespace trainbus::topology

#endif  // TRAINBUS_TOPOLOGY_RUN_REPORT_H_
