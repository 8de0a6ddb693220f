#include "amqp/url.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trainbus::amqp {
namespace {

using ::testing::HasSubstr;

TEST(BrokerUrl, ReadsEveryPart) {
  absl::StatusOr<BrokerUrl> url =
      ParseBrokerUrl("amqp://alice:s3cret@10.0.0.7:5673/training");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "s3cret");
  EXPECT_EQ(url->host, "10.0.0.7");
  EXPECT_EQ(url->port, 5673);
  EXPECT_EQ(url->vhost, "training");
  EXPECT_EQ(url->Redacted(), "amqp://alice@10.0.0.7:5673/training");
}

TEST(BrokerUrl, MissingPartsTakeRabbitMqDefaults) {
  absl::StatusOr<BrokerUrl> url = ParseBrokerUrl("amqp://broker");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->user, "guest");
  EXPECT_EQ(url->password, "guest");
  EXPECT_EQ(url->port, 5672);
  EXPECT_EQ(url->vhost, "/");
  // The default vhost round-trips through its escaped form.
  absl::StatusOr<BrokerUrl> again = ParseBrokerUrl(url->Redacted());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->vhost, "/");
}

TEST(BrokerUrl, EmptyPathIsTheDefaultVhost) {
  absl::StatusOr<BrokerUrl> url = ParseBrokerUrl("amqp://guest:guest@h:1/");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(url->vhost, "/");
}

TEST(BrokerUrl, RefusesWhatItCannotUse) {
  EXPECT_THAT(ParseBrokerUrl("amqps://h/").status().message(),
              HasSubstr("TLS"));
  EXPECT_THAT(ParseBrokerUrl("http://h/").status().message(),
              HasSubstr("must start with amqp://"));
  EXPECT_THAT(ParseBrokerUrl("amqp://h:notaport/").status().message(),
              HasSubstr("not an AMQP URL"));
  EXPECT_FALSE(ParseBrokerUrl("amqp://").ok());
}

}  // namespace
}  // namespace trainbus::amqp
