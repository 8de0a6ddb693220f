#include "base/subprocess.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace trainbus::base {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(30);

TEST(SubprocessTest, ExitCodesAreReported) {
  absl::StatusOr<Subprocess> ok = Subprocess::Spawn({"/bin/true"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  absl::StatusOr<ExitStatus> exit = ok->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success());

  absl::StatusOr<Subprocess> bad = Subprocess::Spawn({"/bin/false"});
  ASSERT_TRUE(bad.ok()) << bad.status();
  exit = bad->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->success());
  EXPECT_EQ(exit->Describe(), "exited with status 1");
}

TEST(SubprocessTest, WaitHasADeadlineAndKillSaysWhichSignal) {
  absl::StatusOr<Subprocess> child = Subprocess::Spawn({"/bin/sleep", "600"});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<ExitStatus> exit = child->Wait(absl::Milliseconds(20));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(child->Poll().has_value());
  ASSERT_TRUE(child->Signal(SIGTERM).ok());
  exit = child->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_FALSE(exit->exited);
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_EQ(exit->Describe().rfind("killed by signal 15 (", 0), 0u)
      << exit->Describe();
}

TEST(SubprocessTest, DestructorKillsAndReapsARunningChild) {
  pid_t pid = -1;
  {
    absl::StatusOr<Subprocess> child =
        Subprocess::Spawn({"/bin/sleep", "600"});
    ASSERT_TRUE(child.ok()) << child.status();
    pid = child->pid();
    Subprocess moved = std::move(*child);  // the moved-from one owns nothing
    EXPECT_EQ(moved.pid(), pid);
  }
  // Reaped: no zombie is left for us to wait for.
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SubprocessTest, ArgumentsReachTheProgramUnchangedWithoutAShell) {
  // Shell syntax is only text here.
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(
      {"/bin/echo", "a'; touch x; '", "$HOME"}, {.pipe_stdout = true});
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<std::string> line = child->ReadLine(kDeadline);
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_EQ(*line, "a'; touch x; ' $HOME");
  EXPECT_EQ(child->ReadLine(kDeadline).status().code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(child->Wait(kDeadline).ok());
}

TEST(SubprocessTest, PipesBothWaysAndReadLineHasADeadline) {
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(
      {"/bin/cat"}, {.pipe_stdin = true, .pipe_stdout = true});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(child->ReadLine(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  const std::string text = "one\ntwo\n";
  ASSERT_EQ(::write(child->stdin_fd(), text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  EXPECT_EQ(*child->ReadLine(kDeadline), "one");
  EXPECT_EQ(*child->ReadLine(kDeadline), "two");
  child->CloseStdin();  // cat sees EOF and exits
  absl::StatusOr<ExitStatus> exit = child->Wait(kDeadline);
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->success());
}

TEST(SubprocessTest, MissingProgramIsAClearError) {
  absl::StatusOr<Subprocess> child = Subprocess::Spawn({"/no/such/program"});
  ASSERT_FALSE(child.ok());
  EXPECT_NE(child.status().message().find("/no/such/program"),
            absl::string_view::npos);
}

TEST(SubprocessTest, WaitOrKillKillsAndReapsAChildPastItsDeadline) {
  absl::StatusOr<Subprocess> sleeper = Subprocess::Spawn({"/bin/sleep", "60"});
  ASSERT_TRUE(sleeper.ok()) << sleeper.status();
  const pid_t pid = sleeper->pid();
  absl::StatusOr<ExitStatus> exit = sleeper->WaitOrKill(absl::Milliseconds(200));
  EXPECT_EQ(exit.status().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(sleeper->exit_status().has_value());  // reaped
  EXPECT_EQ(sleeper->exit_status()->ShellCode(), 128 + SIGKILL);
  EXPECT_NE(::kill(pid, 0), 0) << "pid " << pid << " still exists";
}

TEST(SubprocessTest, ReadAvailableNeverBlocksAndKeepsThePartialLastLine) {
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(
      {"/bin/sh", "-c", "echo one; echo two >&2; printf three"}, OutputPiped());
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->Wait(kDeadline).ok());  // all of it is in the pipe now
  std::vector<std::string> lines;
  EXPECT_FALSE(child->ReadAvailable(&lines));  // and then the end
  EXPECT_EQ(lines, (std::vector<std::string>{"one", "two", "three"}));
  lines.clear();
  EXPECT_FALSE(child->ReadAvailable(&lines));  // the end stays the end
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(child->ReadLine(kDeadline).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(RunProgramTest, CollectsBothStreamsAndTheExitCode) {
  absl::StatusOr<ProgramRun> run =
      RunProgram({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, kDeadline);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->output, "out\nerr\n");
  EXPECT_EQ(run->exit.ShellCode(), 3);
}

TEST(RunProgramTest, KeepsALastLineWithoutNewline) {
  absl::StatusOr<ProgramRun> run =
      RunProgram({"/bin/sh", "-c", "printf 'one\\n{\"json\":1}'"}, kDeadline);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->output, "one\n{\"json\":1}");
}

TEST(RunProgramTest, AProgramPastItsDeadlineIsKilledAndItsOutputKept) {
  absl::StatusOr<ProgramRun> run = RunProgram(
      {"/bin/sh", "-c", "echo started; exec sleep 60"}, absl::Milliseconds(300));
  EXPECT_EQ(run.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(run.status().message().find("started"), absl::string_view::npos)
      << run.status();
}

}  // namespace
}  // namespace trainbus::base
