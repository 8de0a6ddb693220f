// One way to start a child process: argv only (no shell, so no quoting and
// no injection), optional pipes to its stdin and stdout, waits that have a
// deadline, and a destructor that kills and reaps a child still running, so
// no path leaves a zombie or an orphan behind.
//
//   absl::StatusOr<base::Subprocess> child =
//       base::Subprocess::Spawn({"/proc/self/exe", "runner", "--max_tasks=1"});
//   if (!child.ok()) return child.status();
//   absl::StatusOr<base::ExitStatus> exit = child->Wait(absl::Seconds(30));
//   if (!exit.ok()) ...;              // DeadlineExceeded: still running
//   if (!exit->success()) std::cerr << exit->Describe();  // "killed by ..."
#ifndef TRAINBUS_BASE_SUBPROCESS_H_
#define TRAINBUS_BASE_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace trainbus::base {

// How a child ended: exit(code) or a signal.
struct ExitStatus {
  bool exited = false;  // true: `code` holds the exit code; false: `signal`
  int code = 0;
  int signal = 0;

  static ExitStatus FromWaitStatus(int wait_status);
  bool success() const { return exited && code == 0; }
  // "exited with status 3", "killed by signal 9 (Killed)".
  std::string Describe() const;
  // As a shell reports it: the exit code, or 128 + the signal.
  int ShellCode() const { return exited ? code : 128 + signal; }
};

struct SubprocessOptions {
  bool pipe_stdin = false;   // stdin_fd() writes to the child's stdin
  bool pipe_stdout = false;  // ReadLine() reads the child's stdout
  bool stderr_to_stdout = false;  // with pipe_stdout: stderr joins the pipe
};

// stdout and stderr through one pipe, in the order the child wrote them.
SubprocessOptions OutputPiped();

class Subprocess {
 public:
  // argv[0] is the program's path (not searched in $PATH). The child
  // inherits the environment, stderr and, unless piped, stdin and stdout.
  static absl::StatusOr<Subprocess> Spawn(const std::vector<std::string>& argv,
                                          SubprocessOptions options = {});

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kills (SIGKILL) and reaps the child if it still runs; closes the pipes.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::string& program() const { return program_; }
  // The exit status once the child has been reaped, else nullopt.
  const std::optional<ExitStatus>& exit_status() const { return exit_; }

  // Reaps the child if it has ended, without blocking.
  std::optional<ExitStatus> Poll();
  // Waits up to `timeout` for the child to end. DeadlineExceeded if it is
  // still running then (it keeps running; the destructor kills it).
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);
  // Waits up to `timeout`; past it kills and reaps the child and returns
  // DeadlineExceeded (so no caller can leave it running).
  absl::StatusOr<ExitStatus> WaitOrKill(absl::Duration timeout);
  // Sends `signal` (if the child has not been reaped yet).
  absl::Status Signal(int signal);
  // SIGKILL, then reaps: returns how the child ended.
  ExitStatus Kill();

  // Our end of the child's stdin (-1 unless piped). CloseStdin sends EOF.
  int stdin_fd() const { return stdin_fd_; }
  void CloseStdin();
  // The next line of the child's stdout, without the newline.
  // DeadlineExceeded after `timeout`; OutOfRange when the child closed its
  // stdout first (the message holds any partial line).
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);
  // Appends the complete lines that are ready now, without blocking. False
  // once the child closed its stdout (any partial last line is appended).
  bool ReadAvailable(std::vector<std::string>* lines);
  // Once ReadLine returned OutOfRange: what the child wrote after its last
  // newline ("" if nothing).
  const std::string& partial_line_at_eof() const {
    return partial_line_at_eof_;
  }
  // Our end of the stdout pipe (-1 once closed), for poll() over several.
  int stdout_fd() const { return stdout_fd_; }

 private:
  Subprocess() = default;
  void Reset();

  pid_t pid_ = -1;
  std::string program_;
  std::optional<ExitStatus> exit_;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string stdout_buffer_;  // read, not yet returned by ReadLine
  std::string partial_line_at_eof_;  // after the last newline, at EOF
  bool stdout_ended_ = false;        // the child closed its stdout
};

// A program run to its end: what it printed (stdout and stderr) and how it
// ended.
struct ProgramRun {
  std::string output;
  ExitStatus exit;
};

// Runs `argv` to its end, reading its output as it comes. Past `timeout`
// the child is killed and reaped, and the error holds its output so far.
absl::StatusOr<ProgramRun> RunProgram(const std::vector<std::string>& argv,
                                      absl::Duration timeout);

}  // namespace trainbus::base

#endif  // TRAINBUS_BASE_SUBPROCESS_H_
