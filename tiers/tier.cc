#include "tiers/tier.h"

#include <cstring>

namespace tierswap {
namespace {

// Why this thread's last failed Load/MoveOut failed (Tier::LastFailureWasChecksum). Written only
// on failure paths.
thread_local bool t_last_failure_was_checksum = false;

}  // namespace

Result<void> Tier::EnableChecksums() {
  const std::string what = "tier '" + name_ + "'";
  if (sums_ != nullptr) return {};
  const uint64_t slots = DoHandleSpace();
  if (slots == 0) {
    return MakeError(Status::kInvalidArgument,
                     what + " (kind " + TierKindName(kind_) + ") cannot keep page checksums.");
  }
  if (stored_pages() != 0) {
    return MakeError(Status::kInvalidArgument,
                     what + ": checksums must be enabled before the tier holds pages.");
  }
  auto sums = PageChecksums::Create(slots, what);
  if (!sums) return sums.take_error();
  sums_ = std::move(sums).value();
  return {};
}

bool Tier::LastFailureWasChecksum() { return t_last_failure_was_checksum; }

Status Tier::LoadFailed(Status /*s*/) {
  // Whatever the tier's own reason (a handle it does not know, memory for a decompression), the
  // page cannot be returned: the contract is kIoError.
  t_last_failure_was_checksum = false;
  return Status::kIoError;
}

Status Tier::ChecksumMismatch(void* page) {
  t_last_failure_was_checksum = true;
  counters_.Add(kChecksumFailures);
  // The bytes failed their check: the caller must not get them even if it ignores the status.
  std::memset(page, 0, kPageSize);
  return Status::kIoError;
}

void Tier::ExportStats(StatsSink& sink) const {
  sink.Text("name", name_);
  sink.Text("kind", TierKindName(kind_));
  sink.Gauge("capacity_bytes", capacity_bytes());
  sink.Gauge("used_bytes", used_bytes());
  sink.Gauge("stored_pages", stored_pages());
  sink.Counter("stores", stores());
  sink.Counter("overwrites", counters_.Sum(kOverwrites));
  sink.Counter("store_rejects", counters_.Sum(kStoreRejects));
  sink.Counter("loads", counters_.Sum(kLoads));
  sink.Counter("load_errors", counters_.Sum(kLoadErrors));
  sink.Counter("frees", counters_.Sum(kFrees));
  sink.Gauge("limit_bytes", limit_bytes());
  sink.Gauge("metadata_bytes", MetadataBytes());
  sink.Gauge("checksum", sums_ != nullptr ? 1 : 0);
  sink.Counter("checksum_failures", counters_.Sum(kChecksumFailures));
  sink.Gauge("scrub_on_free", scrub_on_free_ ? 1 : 0);
  if (timed_) {
    sink.Histogram("load_latency_ns", load_latency_.Snapshot());
    sink.Histogram("store_latency_ns", store_latency_.Snapshot());
  }
  if (emulated_) {
    sink.Gauge("emulated_read_latency_ns", emulation_.read_latency_ns);
    sink.Gauge("emulated_write_latency_ns", emulation_.write_latency_ns);
    sink.Gauge("emulated_bandwidth_mbps", emulation_.bandwidth_mbps);
    sink.Counter("raw_store_ns", uint64_t(TicksToNs(counters_.Sum(kRawStoreTicks))));
    sink.Counter("injected_store_ns", uint64_t(TicksToNs(counters_.Sum(kInjectedStoreTicks))));
    sink.Counter("raw_load_ns", uint64_t(TicksToNs(counters_.Sum(kRawLoadTicks))));
    sink.Counter("injected_load_ns", uint64_t(TicksToNs(counters_.Sum(kInjectedLoadTicks))));
  }
  DoExportStats(sink);
}

void Tier::SetEmulation(const TierEmulation& emulation) {
  emulation_ = emulation;
  emulated_ = emulation.enabled();
  if (!emulated_) return;
  read_ticks_ = NsToTicks(emulation.read_latency_ns);
  write_ticks_ = NsToTicks(emulation.write_latency_ns);
  // 4096 bytes at bandwidth_mbps * 10^6 bytes/s = 4096 * 1000 / mbps nanoseconds.
  transfer_ticks_ = emulation.bandwidth_mbps == 0
                        ? 0
                        : NsToTicks(4096.0 * 1000.0 / double(emulation.bandwidth_mbps));
}

void Tier::Emulate(uint64_t start, uint64_t latency_ticks, size_t raw_counter) {
  // Fenced: the copy must really be over before its time is taken, or the injected latency
  // would overlap its tail and the operation would cost less than configured.
  const uint64_t raw = TscNowAfter() - start;
  const uint64_t target = latency_ticks + (raw > transfer_ticks_ ? raw : transfer_ticks_);
  SpinUntil(start + target);
  counters_.Add(raw_counter, raw);
  // kInjected* directly follows its kRaw* counter.
  counters_.Add(raw_counter + 1, target - raw);
}

void Tier::SpinUntilEmulated(uint64_t start, uint64_t latency_ticks) const {
  const uint64_t raw = TscNowAfter() - start;
  SpinUntil(start + latency_ticks + (raw > transfer_ticks_ ? raw : transfer_ticks_));
}

Status Tier::EmulatedStore(const void* page, TierHandle* handle, uint64_t hint, uint64_t start) {
  // An emulated operation reads the clock anyway, so every one is recorded, not a sample.
  if (start == 0) start = TscNow();
  const Status s = StoreChecked(page, hint, handle);
  if (s != Status::kOk) {
    counters_.Add(kStoreRejects);
    return s;
  }
  Emulate(start, write_ticks_, kRawStoreTicks);
  counters_.Add(kStores);
  if (timed_) store_latency_.Record(ElapsedNs(start));
  return s;
}

Status Tier::EmulatedLoad(TierHandle handle, void* page, uint64_t start) {
  if (start == 0) start = TscNow();  // as in EmulatedStore: every operation is recorded
  const Status s = LoadChecked(handle, page);
  if (s != Status::kOk) {
    counters_.Add(kLoadErrors);
    return s;
  }
  Emulate(start, read_ticks_, kRawLoadTicks);
  counters_.Add(kLoads);
  if (timed_) load_latency_.Record(ElapsedNs(start));
  return s;
}

}  // namespace tierswap
