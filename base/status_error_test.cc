#include "base/status_error.h"

#include <string>

#include "absl/status/status.h"
#include "caf/all.hpp"
#include "gtest/gtest.h"

namespace trainbus::base {
namespace {

TEST(StatusErrorTest, OkIsNoError) {
  EXPECT_FALSE(ToCafError(absl::OkStatus()));
  EXPECT_TRUE(ToStatus(caf::error{}).ok());
  EXPECT_EQ(ErrorToString(caf::error{}), "ok");
}

TEST(StatusErrorTest, RoundTripKeepsCodeAndMessage) {
  for (const absl::Status& s :
       {absl::NotFoundError("resource 'mnist' not declared"),
        absl::AlreadyExistsError("taken"), absl::DataLossError("bad crc"),
        absl::InvalidArgumentError(""), absl::UnavailableError("gone")}) {
    const caf::error e = ToCafError(s);
    EXPECT_TRUE(IsStatusError(e));
    EXPECT_EQ(ToStatus(e), s);
  }
}

TEST(StatusErrorTest, TextNamesTheCode) {
  EXPECT_EQ(ErrorToString(ToCafError(absl::NotFoundError("no 'x'"))),
            "NOT_FOUND: no 'x'");
}

TEST(StatusErrorTest, CafErrorsBecomeUnavailableOrDeadline) {
  const absl::Status timeout = ToStatus(caf::sec::request_timeout);
  EXPECT_EQ(timeout.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(timeout.message(), "caf: request_timeout");
  const absl::Status dead = ToStatus(caf::sec::request_receiver_down);
  EXPECT_EQ(dead.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(dead.message().find("request_receiver_down"), std::string::npos);
  EXPECT_FALSE(IsStatusError(caf::sec::request_timeout));
}

TEST(StatusErrorTest, ActorSystemRendersTheCategory) {
  caf::actor_system_config cfg;
  AddStatusErrors(cfg);
  AddStatusErrors(cfg);  // twice is harmless
  caf::actor_system sys{cfg};
  EXPECT_EQ(sys.render(ToCafError(absl::AlreadyExistsError("dup"))),
            "ALREADY_EXISTS: dup");
}

TEST(StatusErrorTest, ReplyFromAnActorComesBackAsTheSameStatus) {
  caf::actor_system_config cfg;
  AddStatusErrors(cfg);
  caf::actor_system sys{cfg};
  caf::actor a = sys.spawn([]() -> caf::behavior {
    return {[](int) -> caf::result<int> {
      return ToCafError(absl::FailedPreconditionError("not yet"));
    }};
  });
  caf::scoped_actor self{sys};
  absl::Status got = absl::UnknownError("no reply");
  self->request(a, std::chrono::seconds(30), 1)
      .receive([&](int) { got = absl::OkStatus(); },
               [&](caf::error& e) { got = ToStatus(e); });
  EXPECT_EQ(got, absl::FailedPreconditionError("not yet"));
  self->send_exit(a, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace trainbus::base
