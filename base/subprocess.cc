#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"

extern char** environ;

namespace trainbus::base {
namespace {

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Milliseconds left until `deadline` for poll(): at least 0, at most an int.
int PollTimeoutMs(absl::Time deadline) {
  const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
  if (ms <= 0) return 0;
  return ms > (1 << 30) ? (1 << 30) : static_cast<int>(ms);
}

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  ExitStatus s;
  if (WIFEXITED(wait_status)) {
    s.exited = true;
    s.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
  }
  return s;
}

std::string ExitStatus::Describe() const {
  if (exited) return absl::StrCat("exited with status ", code);
  const char* name = ::strsignal(signal);
  return absl::StrCat("killed by signal ", signal, " (",
                      name != nullptr ? name : "unknown", ")");
}

absl::StatusOr<Subprocess> Subprocess::Spawn(
    const std::vector<std::string>& argv, SubprocessOptions options) {
  if (argv.empty() || argv[0].empty()) {
    return absl::InvalidArgumentError("Subprocess::Spawn needs a program path");
  }
  Subprocess child;
  child.program_ = argv[0];
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  auto close_all = [&] {
    for (int* fd : {&in[0], &in[1], &out[0], &out[1]}) CloseFd(*fd);
  };
  if ((options.pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) ||
      (options.pipe_stdout && ::pipe2(out, O_CLOEXEC) != 0)) {
    const int err = errno;
    close_all();
    return absl::ResourceExhaustedError(absl::StrCat(
        "cannot create a pipe for '", argv[0], "': ", std::strerror(err)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears O_CLOEXEC on the child's copy; every other pipe end closes.
  if (options.pipe_stdin) {
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  }
  if (options.pipe_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    if (options.stderr_to_stdout) {
      posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
    }
  }
  std::vector<std::string> args = argv;
  std::vector<char*> c_argv;
  for (std::string& a : args) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  const int rc = posix_spawn(&child.pid_, argv[0].c_str(), &actions, nullptr,
                             c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    close_all();
    child.pid_ = -1;
    return absl::FailedPreconditionError(
        absl::StrCat("cannot start '", argv[0], "': ", std::strerror(rc),
                     "; check that the path names an executable"));
  }
  CloseFd(in[0]);
  CloseFd(out[1]);
  child.stdin_fd_ = in[1];
  child.stdout_fd_ = out[0];
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept { *this = std::move(other); }

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    Reset();
    pid_ = std::exchange(other.pid_, -1);
    program_ = std::move(other.program_);
    exit_ = std::exchange(other.exit_, std::nullopt);
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    stdout_buffer_ = std::move(other.stdout_buffer_);
    partial_line_at_eof_ = std::move(other.partial_line_at_eof_);
    stdout_ended_ = std::exchange(other.stdout_ended_, false);
  }
  return *this;
}

Subprocess::~Subprocess() { Reset(); }

void Subprocess::Reset() {
  CloseFd(stdin_fd_);
  CloseFd(stdout_fd_);
  if (pid_ > 0 && !exit_) Kill();
  pid_ = -1;
}

std::optional<ExitStatus> Subprocess::Poll() {
  if (exit_ || pid_ <= 0) return exit_;
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == pid_) exit_ = ExitStatus::FromWaitStatus(status);
  return exit_;
}

absl::StatusOr<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no child to wait for");
  const absl::Time deadline = absl::Now() + timeout;
  // A pidfd becomes readable when the child ends: an exact wait without
  // polling. Kernels before 5.3 lack it; then check every few milliseconds.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  while (!Poll()) {
    if (absl::Now() >= deadline) {
      CloseFd(pidfd);
      return absl::DeadlineExceededError(
          absl::StrCat("'", program_, "' (pid ", pid_, ") still runs after ",
                       absl::FormatDuration(timeout)));
    }
    if (pidfd >= 0) {
      pollfd p = {pidfd, POLLIN, 0};
      ::poll(&p, 1, PollTimeoutMs(deadline));
    } else {
      absl::SleepFor(std::min(absl::Milliseconds(5), deadline - absl::Now()));
    }
  }
  CloseFd(pidfd);
  return *exit_;
}

absl::StatusOr<ExitStatus> Subprocess::WaitOrKill(absl::Duration timeout) {
  absl::StatusOr<ExitStatus> exit = Wait(timeout);
  if (!absl::IsDeadlineExceeded(exit.status())) return exit;
  Kill();
  return absl::DeadlineExceededError(
      absl::StrCat(exit.status().message(), "; killed it"));
}

absl::Status Subprocess::Signal(int signal) {
  if (pid_ <= 0 || exit_) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", program_, "' has already ended"));
  }
  if (::kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat("cannot signal '", program_,
                                            "': ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

ExitStatus Subprocess::Kill() {
  if (exit_) return *exit_;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_ = ExitStatus::FromWaitStatus(status);
  return *exit_;
}

void Subprocess::CloseStdin() { CloseFd(stdin_fd_); }

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Duration timeout) {
  if (stdout_fd_ < 0 && stdout_buffer_.empty() && !stdout_ended_) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", program_, "': stdout is not piped"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (size_t nl = stdout_buffer_.find('\n'); nl != std::string::npos) {
      std::string line = stdout_buffer_.substr(0, nl);
      stdout_buffer_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0) {
      partial_line_at_eof_ = std::exchange(stdout_buffer_, "");
      return absl::OutOfRangeError(
          absl::StrCat("'", program_, "' closed its stdout; partial line: '",
                       partial_line_at_eof_, "'"));
    }
    pollfd p = {stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, PollTimeoutMs(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("'", program_, "' wrote no full line within ",
                       absl::FormatDuration(timeout), "; got '",
                       stdout_buffer_, "' so far"));
    }
    char buf[4096];
    const ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      CloseFd(stdout_fd_);
      stdout_ended_ = true;
    } else {
      stdout_buffer_.append(buf, static_cast<size_t>(n));
    }
  }
}

bool Subprocess::ReadAvailable(std::vector<std::string>* lines) {
  while (true) {
    absl::StatusOr<std::string> line = ReadLine(absl::ZeroDuration());
    if (line.ok()) {
      lines->push_back(*std::move(line));
      continue;
    }
    if (!absl::IsOutOfRange(line.status())) return true;  // nothing more yet
    const std::string& rest = partial_line_at_eof_;
    if (!rest.empty()) lines->push_back(rest);
    return false;
  }
}

SubprocessOptions OutputPiped() {
  SubprocessOptions options;
  options.pipe_stdout = true;
  options.stderr_to_stdout = true;
  return options;
}

absl::StatusOr<ProgramRun> RunProgram(const std::vector<std::string>& argv,
                                      absl::Duration timeout) {
  TB_ASSIGN_OR_RETURN(Subprocess child, Subprocess::Spawn(argv, OutputPiped()));
  const absl::Time deadline = absl::Now() + timeout;
  ProgramRun run;
  while (true) {
    absl::StatusOr<std::string> line = child.ReadLine(deadline - absl::Now());
    if (line.ok()) {
      absl::StrAppend(&run.output, *line, "\n");
      continue;
    }
    if (absl::IsOutOfRange(line.status())) {  // its output has ended
      absl::StrAppend(&run.output, child.partial_line_at_eof());
      break;
    }
    child.Kill();
    return absl::DeadlineExceededError(absl::StrCat(
        "'", argv[0], "' did not finish within ", absl::FormatDuration(timeout),
        "; killed it. Its output so far:\n", run.output));
  }
  // The output has ended; a child that hangs in its shutdown is killed.
  TB_ASSIGN_OR_RETURN(run.exit,
                      child.WaitOrKill(std::max(deadline - absl::Now(),
                                                absl::Seconds(5))));
  return run;
}

}  // namespace trainbus::base
