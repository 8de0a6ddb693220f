// Data guarded by an absl::Mutex, handed between threads every way our code
// does it (MutexLock, Await, AwaitWithTimeout, CondVar::WaitWithTimeout,
// ReaderMutexLock). Passes under every config; under --config=tsan it is
// the check that //third_party:tsan_support makes Debian's uninstrumented
// absl::Mutex visible to ThreadSanitizer (without it, TSan reports each
// hand-over below as a data race and the test fails).
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace {

struct Shared {
  absl::Mutex mu;
  absl::CondVar changed;
  std::map<int, int> counts;  // guarded by mu
  bool done = false;          // guarded by mu
};

void Count(Shared& s, int n) {
  for (int i = 0; i < n; ++i) {
    absl::MutexLock lock(&s.mu);
    ++s.counts[i % 7];
  }
}

TEST(TsanSupport, TwoWritersUnderOneMutex) {
  Shared s;
  std::thread a([&] { Count(s, 500); });
  std::thread b([&] { Count(s, 500); });
  a.join();
  b.join();
  absl::ReaderMutexLock lock(&s.mu);
  int total = 0;
  for (const auto& [key, count] : s.counts) total += count;
  EXPECT_EQ(total, 1000);
}

TEST(TsanSupport, AwaitSeesWhatTheOtherThreadWrote) {
  Shared s;
  std::thread writer([&] {
    Count(s, 100);
    absl::MutexLock lock(&s.mu);
    s.done = true;
  });
  {
    absl::MutexLock lock(&s.mu);
    ASSERT_TRUE(s.mu.AwaitWithTimeout(absl::Condition(&s.done),
                                      absl::Seconds(60)));
    ++s.counts[0];
  }
  writer.join();
  absl::MutexLock lock(&s.mu);
  s.mu.Await(absl::Condition(&s.done));
  EXPECT_EQ(s.counts[0], 100 / 7 + 1 + 1);
}

TEST(TsanSupport, CondVarWaitSeesWhatTheOtherThreadWrote) {
  Shared s;
  std::thread writer([&] {
    Count(s, 100);
    absl::MutexLock lock(&s.mu);
    s.done = true;
    s.changed.SignalAll();
  });
  {
    absl::MutexLock lock(&s.mu);
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (!s.done && absl::Now() < deadline) {
      s.changed.WaitWithTimeout(&s.mu, absl::Seconds(1));
    }
    ASSERT_TRUE(s.done);
    ++s.counts[1];
  }
  writer.join();
  absl::MutexLock lock(&s.mu);
  EXPECT_EQ(s.counts[1], 100 / 7 + 1 + 1);
}

}  // namespace
