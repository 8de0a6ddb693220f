#include "report/prometheus_testing.h"

#include <unistd.h>

#include "absl/time/time.h"
#include "base/subprocess.h"
#include "gtest/gtest.h"

namespace trainbus::report {

constexpr char kPromtool[] = "/usr/bin/promtool";

std::string CheckWithPromtool(const std::string& text, int* code) {
  auto child = base::Subprocess::Spawn(
      {kPromtool, "check", "metrics"},
      {.pipe_stdin = true, .pipe_stdout = true, .stderr_to_stdout = true});
  if (!child.ok()) {
    ADD_FAILURE() << child.status()
                  << " (install Debian's prometheus: tools/setup.sh)";
    return "";
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n =
        ::write(child->stdin_fd(), text.data() + written, text.size() - written);
    if (n <= 0) break;
    written += n;
  }
  child->CloseStdin();
  std::string output;
  while (true) {
    absl::StatusOr<std::string> line = child->ReadLine(absl::Seconds(60));
    if (!line.ok()) break;  // EOF (or the deadline, caught by WaitOrKill)
    output += *line + "\n";
  }
  absl::StatusOr<base::ExitStatus> exit = child->WaitOrKill(absl::Seconds(60));
  EXPECT_TRUE(exit.ok()) << exit.status();
  *code = exit.ok() ? exit->ShellCode() : -1;
  return output;
}

}  // namespace trainbus::report
