// The public C ABI (tierswap/tierswap.h) on top of tierswap::Backend.
//
// Every function returns 0 or a negative errno and keeps a thread-local message, cleared on
// entry and formatted only on failure: the hot path (store, load, invalidate_page) costs one
// byte store and one branch on top of the backend. Argument checks are the backend's; when it
// refuses, Fail* below works out which argument was wrong and says so with the actual values.
// No C++ exception crosses this interface: the paths that can allocate (open, the stats calls)
// catch everything and turn it into -ENOMEM or -EIO.
//
// Thread-safety: as the backend; every function may be called from any thread, except
// tierswap_close, which must be a handle's last call.
#include <cerrno>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "frontend/backend_factory.h"
#include "frontend/c_api_internal.h"
#include "frontend/config.h"
#include "frontend/stats_export.h"
#include "tiers/quoted.h"
#include "tiers/result.h"
#include "tierswap_version.h"

namespace tierswap::capi {

constinit thread_local char thread_message[kMessageSize] = {};

int Fail(int err, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(thread_message, kMessageSize, format, args);
  va_end(args);
  return err;
}

int ToErrno(Status s) {
  switch (s) {
    case Status::kOk:
      return 0;
    case Status::kNotFound:
      return -ENOENT;
    case Status::kNoSpace:
    case Status::kRejected:  // a tier's "not this page"; for the caller, a rejected store
      return -ENOSPC;
    case Status::kInvalidArgument:
      return -EINVAL;
    case Status::kNotInitialized:
      return -ENODEV;
    case Status::kIoError:
      return -EIO;
    case Status::kNoMemory:
      return -ENOMEM;
  }
  return -EIO;
}

namespace {

using ull = unsigned long long;

[[gnu::cold]] int FailType(const char* fn, unsigned type) {
  return Fail(-EINVAL, "%s: type %u is out of range (types are 0-%u)", fn, type,
              Backend::kMaxTypes - 1);
}

// Explains a kInvalidArgument or kNotInitialized of a page operation. Checks in the order the
// backend does, so the message names the argument it refused.
[[gnu::cold]] int FailPageArgument(const char* fn, const Backend& backend, Status s, unsigned type,
                                   uint64_t offset, const void* page) {
  if (page == nullptr) return Fail(-EINVAL, "%s: page is NULL", fn);
  if (type >= Backend::kMaxTypes) return FailType(fn, type);
  if (s == Status::kNotInitialized) {
    return Fail(-ENODEV,
                "%s: type %u is not initialised (call init first, and again after "
                "invalidate_area)",
                fn, type);
  }
  if (offset >= Backend::kMaxPagesPerType) {
    return Fail(-EINVAL, "%s: offset %llu is out of range (offsets are below %llu)", fn,
                ull{offset}, ull{Backend::kMaxPagesPerType});
  }
  const uint64_t nr_pages = backend.NrPages(type);
  if (nr_pages != 0 && offset >= nr_pages) {
    return Fail(-EINVAL, "%s: offset %llu is beyond the %llu pages of type %u", fn, ull{offset},
                ull{nr_pages}, type);
  }
  // The type was re-initialised with more pages between the call and this check.
  return Fail(ToErrno(s), "%s: invalid argument (type %u, offset %llu)", fn, type, ull{offset});
}

[[gnu::cold]] int FailStore(const char* fn, const Backend& backend, Status s, unsigned type,
                            uint64_t offset, const void* page) {
  switch (s) {
    case Status::kNoSpace: {
      // The engine's reason table says why (placement/backend_stats.h).
      RejectReason why = Backend::LastRejectReason();
      if (why == RejectReason::kNone || why == RejectReason::kBadArgument)
        why = RejectReason::kFull;
      return Fail(-ENOSPC, "%s: rejected, %s (type %u, offset %llu)", fn, InfoOf(why).message, type,
                  ull{offset});
    }
    case Status::kRejected:
      return Fail(-ENOSPC, "%s: rejected, no tier would take page (type %u, offset %llu)", fn, type,
                  ull{offset});
    case Status::kNoMemory:
      return Fail(-ENOMEM,
                  "%s: rejected, index memory for page (type %u, offset %llu) could not be mapped",
                  fn, type, ull{offset});
    case Status::kInvalidArgument:
    case Status::kNotInitialized:
      return FailPageArgument(fn, backend, s, type, offset, page);
    default:
      return Fail(ToErrno(s), "%s: failed with %s (type %u, offset %llu)", fn, StatusName(s), type,
                  ull{offset});
  }
}

[[gnu::cold]] int FailLoad(const char* fn, const Backend& backend, Status s, unsigned type,
                           uint64_t offset, const void* page) {
  switch (s) {
    case Status::kNotFound:
      return Fail(-ENOENT, "%s: no page is held for (type %u, offset %llu)", fn, type, ull{offset});
    case Status::kIoError: {
      const LoadFailure f = Backend::LastLoadFailure();
      const char* tier = f.tier < backend.tier_count() ? backend.tier(f.tier).name().c_str() : "?";
      if (f.checksum) {
        return Fail(-EIO,
                    "%s: the page of (type %u, offset %llu) on tier '%s' failed its checksum: "
                    "the stored copy is corrupt and was not returned (the buffer is zeroed); "
                    "the slot stays held until it is invalidated or stored again",
                    fn, type, ull{offset}, tier);
      }
      return Fail(-EIO,
                  "%s: tier '%s' failed to return the page of (type %u, offset %llu); the buffer "
                  "is zeroed and the slot stays held",
                  fn, tier, type, ull{offset});
    }
    case Status::kInvalidArgument:
    case Status::kNotInitialized:
      return FailPageArgument(fn, backend, s, type, offset, page);
    default:
      return Fail(ToErrno(s), "%s: failed with %s (type %u, offset %llu)", fn, StatusName(s), type,
                  ull{offset});
  }
}

}  // namespace

int Init(const char* fn, Backend& backend, unsigned type, uint64_t nr_pages) {
  const Status s = backend.Init(type, nr_pages);
  if (s == Status::kOk) [[likely]] {
    return 0;
  }
  if (type >= Backend::kMaxTypes) return FailType(fn, type);
  if (nr_pages > Backend::kMaxPagesPerType) {
    return Fail(-EINVAL, "%s: nr_pages %llu for type %u exceeds the limit of %llu pages", fn,
                ull{nr_pages}, type, ull{Backend::kMaxPagesPerType});
  }
  return Fail(ToErrno(s), "%s: failed with %s (type %u, nr_pages %llu)", fn, StatusName(s), type,
              ull{nr_pages});
}

int Store(const char* fn, Backend& backend, unsigned type, uint64_t offset, const void* page) {
  const Status s = backend.Store(type, offset, page);
  if (s == Status::kOk) [[likely]] {
    return 0;
  }
  return FailStore(fn, backend, s, type, offset, page);
}

int Load(const char* fn, Backend& backend, unsigned type, uint64_t offset, void* page,
         bool* exclusive) {
  const Status s = backend.Load(type, offset, page, exclusive);
  if (s == Status::kOk) [[likely]] {
    return 0;
  }
  return FailLoad(fn, backend, s, type, offset, page);
}

void InvalidatePage(const char* fn, Backend& backend, unsigned type, uint64_t offset) {
  if (type >= Backend::kMaxTypes) [[unlikely]] {
    FailType(fn, type);
    return;
  }
  // The backend ignores out-of-range offsets; the check here only serves the message (such an
  // invalidate hints at a caller bug), and costs one load of the type's size.
  const uint64_t nr_pages = backend.NrPages(type);
  const uint64_t limit = nr_pages != 0 ? nr_pages : Backend::kMaxPagesPerType;
  if (offset >= limit) [[unlikely]] {
    Fail(-EINVAL, "%s: offset %llu is beyond the %llu pages of type %u", fn, ull{offset},
         ull{limit}, type);
    return;
  }
  backend.InvalidatePage(type, offset);
}

void InvalidateArea(const char* fn, Backend& backend, unsigned type) {
  if (type >= Backend::kMaxTypes) [[unlikely]] {
    FailType(fn, type);
    return;
  }
  backend.InvalidateArea(type);
}

}  // namespace tierswap::capi

namespace {

using tierswap::Backend;
using tierswap::Config;
using tierswap::Error;
using tierswap::Quoted;
using tierswap::Result;
using tierswap::capi::ClearMessage;
using tierswap::capi::Fail;
using tierswap::capi::ToErrno;

// Reports a cold-path Error, naming the config file when the error text does not already.
[[gnu::cold]] int FailOpen(const char* config_path, const Error& error) {
  const int err = error.code == tierswap::Status::kOk ? -EIO : ToErrno(error.code);
  if (config_path != nullptr && std::strstr(error.message.c_str(), config_path) == nullptr) {
    return Fail(err, "tierswap_open: config file %s: %s", Quoted(config_path, '\'').c_str(),
                error.message.c_str());
  }
  return Fail(err, "tierswap_open: %s", error.message.c_str());
}

int Open(const char* config_path, tierswap_t** out) {
  Config config;
  if (config_path != nullptr) {
    Result<Config> loaded = Config::FromFile(config_path);
    if (!loaded) return FailOpen(config_path, loaded.error());
    config = std::move(loaded).value();
  } else {
    config = Config::Default();
  }
  Result<std::unique_ptr<Backend>> backend = OpenBackend(config);
  if (!backend) return FailOpen(config_path, backend.error());
  // [stats] and $TIERSWAP_STATS_*: a listener or dump file that cannot start fails the open, so
  // a typo in an address or path is not discovered only when the statistics are missing.
  Result<std::unique_ptr<tierswap::StatsService>> stats =
      tierswap::StatsService::Start(**backend, config.stats);
  if (!stats) return FailOpen(config_path, stats.error());
  *out = new tierswap_t{std::move(backend).value(), std::move(stats).value()};
  return 0;
}

}  // namespace

namespace {

// Resolves a tier name for the capacity calls; returns its index or a negative errno (with the
// message set, listing the tiers that exist).
[[gnu::cold]] int TierIndex(const char* fn, const Backend& backend, const char* tier) {
  if (tier == nullptr) return Fail(-EINVAL, "%s: tier is NULL", fn);
  const int t = backend.FindTier(tier);
  if (t >= 0) return t;
  std::string names;
  for (size_t i = 0; i < backend.tier_count(); ++i) {
    if (!names.empty()) names += ", ";
    names += backend.tier(i).name();
  }
  // The name comes from the caller: quoted, so control characters cannot reach a terminal or log.
  return Fail(-ENOENT, "%s: no tier is named %s (tiers: %s)", fn, Quoted(tier, '\'').c_str(),
              names.c_str());
}

// Maps the result of an evacuating call: 0, or the pages that could not be moved (> 0, with a
// message saying why), or a negative errno.
[[gnu::cold]] int Remaining(const char* fn, const char* tier, const Result<uint64_t>& r) {
  if (!r) return Fail(ToErrno(r.error().code), "%s: %s", fn, r.error().message.c_str());
  if (*r == 0) return 0;
  Fail(0,
       "%s: %llu pages of tier '%s' could not be moved: no other tier has room and no "
       "writeback callback is set (tierswap_set_writeback); they stay until invalidated",
       fn, static_cast<unsigned long long>(*r), tier);
  return *r > static_cast<uint64_t>(INT_MAX) ? INT_MAX : static_cast<int>(*r);
}

template <typename F>
int Guarded(const char* fn, F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return Fail(-ENOMEM, "%s: out of memory", fn);
  } catch (const std::exception& e) {
    return Fail(-EIO, "%s: unexpected error: %s", fn, e.what());
  } catch (...) {
    return Fail(-EIO, "%s: unexpected error of unknown type", fn);
  }
}

// The statistics as text (`render`), copied out with snprintf's semantics: returns the length
// of the whole text, writes at most len bytes, NUL-terminated when len > 0.
template <typename Render>
int StatsText(const char* fn, tierswap_t* ts, char* buf, size_t len, Render&& render) {
  if (ts == nullptr) return Fail(-EINVAL, "%s: ts is NULL", fn);
  if (buf == nullptr && len > 0) {
    return Fail(-EINVAL, "%s: buf is NULL but len is %zu", fn, len);
  }
  try {
    const std::string text = render(*ts->backend);
    if (text.size() > static_cast<size_t>(INT_MAX)) {
      return Fail(-EOVERFLOW, "%s: the statistics need %zu bytes, more than %d", fn, text.size(),
                  INT_MAX);
    }
    if (len > 0) {
      const size_t n = text.size() < len - 1 ? text.size() : len - 1;
      std::memcpy(buf, text.data(), n);
      buf[n] = '\0';
    }
    return static_cast<int>(text.size());
  } catch (const std::bad_alloc&) {
    return Fail(-ENOMEM, "%s: out of memory while rendering the statistics", fn);
  } catch (const std::exception& e) {
    return Fail(-EIO, "%s: unexpected error: %s", fn, e.what());
  } catch (...) {
    return Fail(-EIO, "%s: unexpected error of unknown type", fn);
  }
}

}  // namespace

extern "C" {

int tierswap_open(const char* config_path, tierswap_t** out) {
  ClearMessage();
  if (out == nullptr) return Fail(-EINVAL, "tierswap_open: out is NULL");
  *out = nullptr;
  try {
    return Open(config_path, out);
  } catch (const std::bad_alloc&) {
    return Fail(-ENOMEM, "tierswap_open: out of memory while opening the backend");
  } catch (const std::exception& e) {
    return Fail(-EIO, "tierswap_open: unexpected error: %s", e.what());
  } catch (...) {
    return Fail(-EIO, "tierswap_open: unexpected error of unknown type");
  }
}

void tierswap_close(tierswap_t** ts) {
  ClearMessage();
  if (ts == nullptr || *ts == nullptr) return;
  delete *ts;
  *ts = nullptr;
}

// Neither tierswap_errormsg nor tierswap_version clears the message: they cannot fail, and
// reading the message must not erase it.
const char* tierswap_errormsg(void) { return tierswap::capi::thread_message; }

const char* tierswap_version(void) { return TIERSWAP_VERSION; }

int tierswap_init(tierswap_t* ts, unsigned type, uint64_t nr_pages) {
  ClearMessage();
  if (ts == nullptr) [[unlikely]] {
    return Fail(-EINVAL, "tierswap_init: ts is NULL");
  }
  return tierswap::capi::Init("tierswap_init", *ts->backend, type, nr_pages);
}

int tierswap_store(tierswap_t* ts, unsigned type, uint64_t offset, const void* page) {
  ClearMessage();
  if (ts == nullptr) [[unlikely]] {
    return Fail(-EINVAL, "tierswap_store: ts is NULL");
  }
  return tierswap::capi::Store("tierswap_store", *ts->backend, type, offset, page);
}

int tierswap_load(tierswap_t* ts, unsigned type, uint64_t offset, void* page) {
  ClearMessage();
  if (ts == nullptr) [[unlikely]] {
    return Fail(-EINVAL, "tierswap_load: ts is NULL");
  }
  return tierswap::capi::Load("tierswap_load", *ts->backend, type, offset, page, nullptr);
}

void tierswap_invalidate_page(tierswap_t* ts, unsigned type, uint64_t offset) {
  ClearMessage();
  if (ts == nullptr) [[unlikely]] {
    Fail(-EINVAL, "tierswap_invalidate_page: ts is NULL");
    return;
  }
  tierswap::capi::InvalidatePage("tierswap_invalidate_page", *ts->backend, type, offset);
}

void tierswap_invalidate_area(tierswap_t* ts, unsigned type) {
  ClearMessage();
  if (ts == nullptr) [[unlikely]] {
    Fail(-EINVAL, "tierswap_invalidate_area: ts is NULL");
    return;
  }
  tierswap::capi::InvalidateArea("tierswap_invalidate_area", *ts->backend, type);
}

int tierswap_set_tier_capacity(tierswap_t* ts, const char* tier, uint64_t bytes) {
  ClearMessage();
  static constexpr const char* kFn = "tierswap_set_tier_capacity";
  if (ts == nullptr) return Fail(-EINVAL, "%s: ts is NULL", kFn);
  return Guarded(kFn, [&] {
    const int t = TierIndex(kFn, *ts->backend, tier);
    if (t < 0) return t;
    return Remaining(kFn, tier, ts->backend->SetTierCapacity(static_cast<unsigned>(t), bytes));
  });
}

int tierswap_tier_offline(tierswap_t* ts, const char* tier) {
  ClearMessage();
  static constexpr const char* kFn = "tierswap_tier_offline";
  if (ts == nullptr) return Fail(-EINVAL, "%s: ts is NULL", kFn);
  return Guarded(kFn, [&] {
    const int t = TierIndex(kFn, *ts->backend, tier);
    if (t < 0) return t;
    return Remaining(kFn, tier, ts->backend->TierOffline(static_cast<unsigned>(t)));
  });
}

int tierswap_tier_online(tierswap_t* ts, const char* tier) {
  ClearMessage();
  static constexpr const char* kFn = "tierswap_tier_online";
  if (ts == nullptr) return Fail(-EINVAL, "%s: ts is NULL", kFn);
  return Guarded(kFn, [&] {
    const int t = TierIndex(kFn, *ts->backend, tier);
    if (t < 0) return t;
    (void)ts->backend->TierOnline(static_cast<unsigned>(t));
    return 0;
  });
}

int tierswap_set_writeback(tierswap_t* ts, tierswap_writeback_fn fn, void* ctx) {
  ClearMessage();
  if (ts == nullptr) return Fail(-EINVAL, "tierswap_set_writeback: ts is NULL");
  ts->backend->SetWriteback(fn, ctx);
  return 0;
}

int tierswap_freeze(tierswap_t* ts, bool frozen) {
  ClearMessage();
  if (ts == nullptr) return Fail(-EINVAL, "tierswap_freeze: ts is NULL");
  ts->backend->Freeze(frozen);
  return 0;
}

int tierswap_stats_json(tierswap_t* ts, char* buf, size_t len) {
  ClearMessage();
  return StatsText("tierswap_stats_json", ts, buf, len,
                   [](const Backend& b) { return StatsJson(b); });
}

int tierswap_stats_prometheus(tierswap_t* ts, char* buf, size_t len) {
  ClearMessage();
  return StatsText("tierswap_stats_prometheus", ts, buf, len,
                   [](const Backend& b) { return tierswap::StatsPrometheus(b); });
}

}  // extern "C"
