// The frontswap plugin face: tierswap_frontswap_ops(), a table shaped like Linux's struct
// frontswap_ops, for a guest module that registers it and calls it from its swap paths.
//
// A frontswap backend has no handle: the kernel calls init(type) on swapon and then store/load
// with (type, offset) only. So the table's functions share one process-wide backend, opened on
// the first call of any of them from the TOML file named by $TIERSWAP_CONFIG (unset or empty:
// the default config), with the statistics service its [stats] table and $TIERSWAP_STATS_*
// ask for. If that open fails, the reason is kept: init does nothing and store/load return
// -ENODEV, each leaving the reason in tierswap_errormsg(), so a guest that falls back to its
// swap device can still say why.
//
// Thread-safety: every function may be called from any thread, the first ones concurrently:
// the open runs exactly once (a function-local static, whose initialisation C++ serialises),
// and afterwards each call reads one pointer and goes straight to the backend.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>
#include <utility>

#include "frontend/c_api_internal.h"
#include "frontend/backend_factory.h"
#include "frontend/config.h"
#include "frontend/stats_service.h"
#include "tiers/result.h"

namespace tierswap {
namespace {

// The process-wide backend, or why there is none. The reason is a fixed buffer so that
// recording it cannot throw.
struct ProcessBackend {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<StatsService> stats;  // [stats] and $TIERSWAP_STATS_*, reading `backend`
  char error[capi::kMessageSize] = {};  // set when backend is null
};

void OpenFromEnvironment(ProcessBackend* p) {
  const char* path = std::getenv("TIERSWAP_CONFIG");
  const bool from_file = path != nullptr && path[0] != '\0';
  try {
    Result<Config> config = from_file ? Config::FromFile(path) : Result<Config>(Config::Default());
    if (!config) {
      std::snprintf(p->error, sizeof(p->error), "$TIERSWAP_CONFIG: %s",
                    config.error().message.c_str());
      return;
    }
    Result<std::unique_ptr<Backend>> backend = OpenBackend(*config);
    if (!backend) {
      std::snprintf(p->error, sizeof(p->error), "config %s: %s", from_file ? path : "<default>",
                    backend.error().message.c_str());
      return;
    }
    // As tierswap_open: statistics that were asked for and cannot start fail the open.
    Result<std::unique_ptr<StatsService>> stats = StatsService::Start(**backend, config->stats);
    if (!stats) {
      std::snprintf(p->error, sizeof(p->error), "config %s: %s", from_file ? path : "<default>",
                    stats.error().message.c_str());
      return;
    }
    p->backend = std::move(backend).value();
    p->stats = std::move(stats).value();
  } catch (const std::bad_alloc&) {
    std::snprintf(p->error, sizeof(p->error), "out of memory while opening the backend");
  } catch (const std::exception& e) {
    std::snprintf(p->error, sizeof(p->error), "unexpected error while opening the backend: %s",
                  e.what());
  } catch (...) {
    std::snprintf(p->error, sizeof(p->error),
                  "unexpected error of unknown type while opening the backend");
  }
}

// Opened once; C++ runs a function-local static's initialiser exactly once even when the first
// calls race, and makes the others wait for it. nullptr only if the struct itself could not be
// allocated.
//
// Intentionally leaked, never destroyed: a guest's swap paths may still call store/load from
// other threads while the process runs its static destructors at exit, and a destroyed backend
// would turn those calls into use-after-free. The operating system reclaims the memory at exit
// anyway. (The pointer stays reachable, so leak checkers do not report it.)
const ProcessBackend* Instance() {
  static const ProcessBackend* const instance = [] {
    auto* p = new (std::nothrow) ProcessBackend;
    if (p != nullptr) OpenFromEnvironment(p);
    return p;
  }();
  return instance;
}

// The backend, or nullptr after setting the calling thread's message to why there is none.
Backend* BackendOrFail(const char* fn) {
  const ProcessBackend* p = Instance();
  if (p == nullptr || p->backend == nullptr) [[unlikely]] {
    capi::Fail(-ENODEV, "%s: tierswap's backend could not be opened: %s", fn,
               p == nullptr ? "out of memory" : p->error);
    return nullptr;
  }
  return p->backend.get();
}

void OpsInit(unsigned type) {
  capi::ClearMessage();
  Backend* b = BackendOrFail("frontswap init");
  if (b == nullptr) return;
  // frontswap's init cannot fail; a bad type leaves only the message (store will say more).
  (void)capi::Init("frontswap init", *b, type, 0);
}

int OpsStore(unsigned type, unsigned long offset, const void* page) {
  capi::ClearMessage();
  Backend* b = BackendOrFail("frontswap store");
  if (b == nullptr) return -ENODEV;
  return capi::Store("frontswap store", *b, type, offset, page);
}

int OpsLoad(unsigned type, unsigned long offset, void* page, bool* exclusive) {
  capi::ClearMessage();
  if (exclusive != nullptr) *exclusive = false;
  Backend* b = BackendOrFail("frontswap load");
  if (b == nullptr) return -ENODEV;
  return capi::Load("frontswap load", *b, type, offset, page, exclusive);
}

void OpsInvalidatePage(unsigned type, unsigned long offset) {
  capi::ClearMessage();
  Backend* b = BackendOrFail("frontswap invalidate_page");
  if (b == nullptr) return;
  capi::InvalidatePage("frontswap invalidate_page", *b, type, offset);
}

void OpsInvalidateArea(unsigned type) {
  capi::ClearMessage();
  Backend* b = BackendOrFail("frontswap invalidate_area");
  if (b == nullptr) return;
  capi::InvalidateArea("frontswap invalidate_area", *b, type);
}

constexpr struct tierswap_frontswap_ops kOps = {
    .init = OpsInit,
    .store = OpsStore,
    .load = OpsLoad,
    .invalidate_page = OpsInvalidatePage,
    .invalidate_area = OpsInvalidateArea,
};

}  // namespace
}  // namespace tierswap

extern "C" const struct tierswap_frontswap_ops* tierswap_frontswap_ops(void) {
  return &tierswap::kOps;
}
