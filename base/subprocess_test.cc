#include "base/subprocess.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

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

}  // namespace
}  // namespace trainbus::base
