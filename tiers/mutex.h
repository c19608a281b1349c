// Mutex, MutexLock and CondVar: std::mutex and std::condition_variable with clang's
// thread-safety annotations (tiers/thread_annotations.h), so that -Wthread-safety can check
// every GUARDED_BY member and REQUIRES function. libstdc++'s own types carry no annotations, so
// every mutex in tierswap is one of these (leveldb's port::Mutex and abseil's Mutex are the
// models). Each call is an inline forward to the standard type: no cost over std::mutex.
//
//   Mutex mu_;
//   uint64_t n_ GUARDED_BY(mu_);
//   void Add() { MutexLock lock(&mu_); ++n_; }
//
// Waiting: CondVar::Wait and WaitUntil take the Mutex the caller holds, and take no predicate
// (a predicate lambda would be analysed without the lock); callers loop on their condition:
//   while (!stop_ && cv_.WaitUntil(&mu_, deadline)) {}
//
// Thread-safety: as the standard types. Not copyable or movable. Errors: std::mutex::lock
// throws only on a deadlock it detects or a system error; both are bugs and end the process
// (the calls are noexcept).
#ifndef TIERSWAP_TIERS_MUTEX_H_
#define TIERSWAP_TIERS_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "tiers/thread_annotations.h"

namespace tierswap {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() noexcept ACQUIRE() { mu_.lock(); }
  void Unlock() noexcept RELEASE() { mu_.unlock(); }
  // True (and held) if the mutex was free.
  bool TryLock() noexcept TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Tells the analysis that the caller holds the mutex, where it cannot see the acquisition
  // (a lambda run under the caller's lock). Checks nothing at run time.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds a Mutex from construction to the end of the scope.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) noexcept ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

class CondVar {
 public:
  using Clock = std::chrono::steady_clock;

  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu`, waits for a Signal (or a spurious wake-up), takes `mu` again.
  void Wait(Mutex* mu) noexcept REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // the caller still holds mu
  }
  // As Wait, but returns by `deadline` at the latest. False when it returned because the
  // deadline passed; true when woken before it (which may be spurious: re-check the condition).
  bool WaitUntil(Mutex* mu, Clock::time_point deadline) noexcept REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool woken = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return woken;
  }

  // Wakes one waiter / all waiters. The caller need not hold the mutex.
  void Signal() noexcept { cv_.notify_one(); }
  void SignalAll() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace tierswap

#endif  // TIERSWAP_TIERS_MUTEX_H_
