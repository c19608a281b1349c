// The C ABI's insides, shared by c_api.cc (the handle API) and frontswap_ops.cc (the plugin
// face): the handle struct, the calling thread's message, and the Status → errno mapping with
// messages that name the problem.
//
// Both faces report the same way: every entry clears the calling thread's message (one byte
// store), and only a failure formats one, so a successful store or load never touches snprintf.
// The message buffer is thread_local: a failure in one thread never shows in another.
//
// Not installed; the public contract is frontend/include/tierswap/tierswap.h.
#ifndef TIERSWAP_FRONTEND_C_API_INTERNAL_H_
#define TIERSWAP_FRONTEND_C_API_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "frontend/stats_service.h"
#include "placement/backend.h"
#include "tiers/status.h"
#include "tierswap/tierswap.h"

// What tierswap_open returns. Owns the backend and its statistics service ([stats]: listener,
// dump file); destroyed by tierswap_close. Members are destroyed in reverse order, so the
// service, which reads the backend, stops before the backend goes.
struct tierswap_t_ {
  std::unique_ptr<tierswap::Backend> backend;
  std::unique_ptr<tierswap::StatsService> stats;
};

namespace tierswap::capi {

inline constexpr size_t kMessageSize = 512;

// The calling thread's message; "" after a successful call. constinit lets other translation
// units use it without a TLS initialisation wrapper call.
extern constinit thread_local char thread_message[kMessageSize];

// Called on entry of every ABI function that can fail.
inline void ClearMessage() { thread_message[0] = '\0'; }

// Formats the calling thread's message and returns `err` (a negative errno), so a failure is
// one `return Fail(...)`.
[[gnu::cold, gnu::format(printf, 2, 3)]] int Fail(int err, const char* format, ...);

// The negative errno for a non-kOk Status (convention 1 of tierswap.h).
int ToErrno(Status s);

// Store/Load/InvalidatePage/InvalidateArea/Init with argument checks and messages, shared by
// both faces. `fn` names the caller in messages ("tierswap_store", "frontswap store").
// `backend` must not be null.
int Init(const char* fn, Backend& backend, unsigned type, uint64_t nr_pages);
int Store(const char* fn, Backend& backend, unsigned type, uint64_t offset, const void* page);
int Load(const char* fn, Backend& backend, unsigned type, uint64_t offset, void* page,
         bool* exclusive);
void InvalidatePage(const char* fn, Backend& backend, unsigned type, uint64_t offset);
void InvalidateArea(const char* fn, Backend& backend, unsigned type);

}  // namespace tierswap::capi

#endif  // TIERSWAP_FRONTEND_C_API_INTERNAL_H_
