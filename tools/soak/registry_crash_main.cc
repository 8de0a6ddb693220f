// registry_crash: the crash loop's writer and checker (tools/soak/crash_loop.sh).
//
//   registry_crash write DIR JOURNAL SEED [READY_FILE]
//                                           loop writes until killed; creates
//                                           READY_FILE before the first
//   registry_crash drain DIR JOURNAL        finish every task killed writers left
//   registry_crash check DIR JOURNAL [--final]
//                                           exit 1 when anything is lost or corrupt
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "tools/soak/registry_crash.h"

namespace {

constexpr char kUsage[] =
    "usage: registry_crash write DIR JOURNAL SEED [READY_FILE] | drain DIR "
    "JOURNAL | "
    "check DIR JOURNAL [--final]\n";

int Fail(const absl::Status& s) {
  std::cerr << "registry_crash: " << s.message() << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) {
    std::cerr << kUsage;
    return 2;
  }
  trainbus::soak::WriterOptions w;
  w.registry_dir = args[1];
  w.journal = args[2];
  if (args[0] == "write" && (args.size() == 4 || args.size() == 5)) {
    if (args.size() == 5) w.ready_file = args[4];
    if (!absl::SimpleAtoi(args[3], &w.seed)) {
      std::cerr << "registry_crash: SEED '" << args[3] << "' is not a number\n"
                << kUsage;
      return 2;
    }
    return Fail(trainbus::soak::RunWriter(w));
  }
  if (args[0] == "drain" && args.size() == 3) {
    w.seed = 999999;
    absl::Status s = trainbus::soak::DrainTasks(w, absl::Seconds(30));
    return s.ok() ? 0 : Fail(s);
  }
  const bool final = args.size() == 4 && args[3] == "--final";
  if (args[0] == "check" && (args.size() == 3 || final)) {
    absl::StatusOr<trainbus::soak::CheckReport> r =
        trainbus::soak::CheckRegistry(w.registry_dir, w.journal, final);
    if (!r.ok()) return Fail(r.status());
    std::cout << trainbus::soak::FormatReport(*r);
    return r->problems.empty() ? 0 : 1;
  }
  std::cerr << kUsage;
  return 2;
}
