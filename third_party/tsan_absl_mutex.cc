// ThreadSanitizer annotations for Debian's uninstrumented absl::Mutex, linked
// into every binary under --config=tsan only (see third_party/BUILD).
//
// Debian builds libabsl_synchronization.so without -fsanitize=thread, so the
// annotations Abseil's own mutex.cc would make under TSan are compiled out:
// its lock is atomics and futexes TSan cannot see, and every field guarded by
// an absl::Mutex is reported as a race. The inline constructor in mutex.h
// (compiled into our instrumented objects) already announces the mutex with
// __tsan_mutex_create. This file defines the out-of-line members our code
// calls, so those calls land here: each tells TSan what the real function
// (found with dlsym(RTLD_NEXT)) is about to do or has done, with the
// annotations of <sanitizer/tsan_interface.h>. The .so calls its own
// exported members through the PLT, so they land here too: a call made
// while a wrapper of this thread runs the real function (AwaitWithTimeout
// calls AwaitWithDeadline) goes straight through, and one made from the .so
// on its own (absl::Notification's lock) is annotated like ours. Not seen:
// absl::Notification's fast path (an atomic flag inside the .so), so data
// handed over by a Notification alone would be reported; ours is only a stop
// flag (serving/watcher.h).
//
// Await and CondVar::Wait are annotated as a writer's unlock and relock: our
// code never waits while holding a reader lock.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#define TB_STRINGIFY_INNER(x) #x
#define TB_STRINGIFY(x) TB_STRINGIFY_INNER(x)

namespace {

using absl::Condition;
using absl::CondVar;
using absl::Duration;
using absl::Mutex;
using absl::Time;

constexpr unsigned kRead = __tsan_mutex_read_lock;
constexpr unsigned kTry = __tsan_mutex_try_lock;

// The next definition after this binary's of absl::<tail>, where `tail` is
// the rest of the mangled name after the inline namespace, e.g.
// "5Mutex4LockEv" for absl::Mutex::Lock().
template <typename F>
F Next(const char* tail) {
  static const char* ns = TB_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name =
      "_ZN4absl" + std::to_string(std::strlen(ns)) + ns + tail;
  void* f = ::dlsym(RTLD_NEXT, name.c_str());
  if (f == nullptr) {
    std::fprintf(stderr,
                 "tsan_absl_mutex: %s is not in libabsl_synchronization; "
                 "update third_party/tsan_absl_mutex.cc for this Abseil\n",
                 name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(f);
}

// True while this thread runs a real function from one of the wrappers.
thread_local bool inside_real = false;

// Runs the real function `call`, marked as inside it.
template <typename Call>
auto Inside(Call call) {
  inside_real = true;
  auto result = call();
  inside_real = false;
  return result;
}

// The lock is being given up for a wait; `reacquire` waits and takes it
// back (always, whatever it returns).
template <typename Wait>
auto Waiting(Mutex* mu, Wait reacquire) {
  if (inside_real) return reacquire();
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
  auto result = Inside(reacquire);
  __tsan_mutex_post_lock(mu, 0, 0);
  return result;
}

// Takes `mu` in `flags` mode through `lock` (which always takes it).
template <typename Lock>
auto Taking(Mutex* mu, unsigned flags, Lock lock) {
  if (inside_real) return lock();
  __tsan_mutex_pre_lock(mu, flags);
  auto result = Inside(lock);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

// Tries `mu` in `flags` mode through `try_lock`.
template <typename TryLock>
bool Trying(Mutex* mu, unsigned flags, TryLock try_lock) {
  if (inside_real) return try_lock();
  __tsan_mutex_pre_lock(mu, flags | kTry);
  const bool ok = Inside(try_lock);
  __tsan_mutex_post_lock(
      mu, flags | kTry | (ok ? 0 : __tsan_mutex_try_lock_failed), 0);
  return ok;
}

// Gives `mu` up in `flags` mode through `unlock`.
template <typename Unlock>
void Releasing(Mutex* mu, unsigned flags, Unlock unlock) {
  if (inside_real) return (void)unlock();
  __tsan_mutex_pre_unlock(mu, flags);
  Inside(unlock);
  __tsan_mutex_post_unlock(mu, flags);
}

using Plain = void (*)(Mutex*);
using When = void (*)(Mutex*, const Condition&);
using WhenFor = bool (*)(Mutex*, const Condition&, Duration);
using WhenUntil = bool (*)(Mutex*, const Condition&, Time);

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static const auto real = Next<Plain>("5MutexD2Ev");
  if (!inside_real) __tsan_mutex_destroy(this, 0);
  real(this);
}

void Mutex::Lock() {
  static const auto real = Next<Plain>("5Mutex4LockEv");
  Taking(this, 0, [&] { return real(this), 0; });
}

void Mutex::ReaderLock() {
  static const auto real = Next<Plain>("5Mutex10ReaderLockEv");
  Taking(this, kRead, [&] { return real(this), 0; });
}

bool Mutex::TryLock() {
  static const auto real = Next<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  return Trying(this, 0, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static const auto real = Next<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  return Trying(this, kRead, [&] { return real(this); });
}

void Mutex::Unlock() {
  static const auto real = Next<Plain>("5Mutex6UnlockEv");
  Releasing(this, 0, [&] { return real(this), 0; });
}

void Mutex::ReaderUnlock() {
  static const auto real = Next<Plain>("5Mutex12ReaderUnlockEv");
  Releasing(this, kRead, [&] { return real(this), 0; });
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Next<When>("5Mutex8LockWhenERKNS0_9ConditionE");
  Taking(this, 0, [&] { return real(this, cond), 0; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real =
      Next<When>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Taking(this, kRead, [&] { return real(this, cond), 0; });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Next<WhenFor>(
      "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Taking(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond,
                                      Duration timeout) {
  static const auto real = Next<WhenFor>(
      "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Taking(this, kRead, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Next<WhenUntil>(
      "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Taking(this, 0, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Next<WhenUntil>(
      "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Taking(this, kRead, [&] { return real(this, cond, deadline); });
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Next<When>("5Mutex5AwaitERKNS0_9ConditionE");
  Waiting(this, [&] { return real(this, cond), 0; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static const auto real = Next<WhenFor>(
      "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Waiting(this, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static const auto real = Next<WhenUntil>(
      "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Waiting(this, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Next<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  Waiting(mu, [&] { return real(this, mu), 0; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static const auto real = Next<bool (*)(CondVar*, Mutex*, Duration)>(
      "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return Waiting(mu, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static const auto real = Next<bool (*)(CondVar*, Mutex*, Time)>(
      "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return Waiting(mu, [&] { return real(this, mu, deadline); });
}

ABSL_NAMESPACE_END
}  // namespace absl
