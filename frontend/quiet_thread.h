// StartQuietThread: a thread of tierswap's own inside someone else's process (the statistics
// listener, the dump writer) starts with every signal blocked, so that the embedding process's
// signal handlers keep running on its own threads, as it expects.
//
// Thread-safety: call from any thread; the calling thread's mask is restored before return.
#ifndef TIERSWAP_FRONTEND_QUIET_THREAD_H_
#define TIERSWAP_FRONTEND_QUIET_THREAD_H_

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

namespace tierswap {

// Runs `fn` on a new thread with every signal blocked. Throws std::system_error as std::thread.
template <typename Fn>
std::thread StartQuietThread(Fn&& fn) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  std::thread t;
  try {
    t = std::thread(std::forward<Fn>(fn));
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return t;
}

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_QUIET_THREAD_H_
