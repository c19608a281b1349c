// ReplayTimeline: a CSV of how a replay went, one row per interval of operations.
//
// The replay report gives totals; a timeline shows what happened in between: how the hit rate
// moved, which tier answered the loads, how each tier filled up and when the mover moved pages.
// `tierswap replay --timeline FILE` writes one, `tierswap plot --occupancy FILE` draws it.
// Columns (docs/cli.md):
//   ops,elapsed_ms,loads,hit_rate,<tier>_loads_frac...,<tier>_used_bytes...,promotions,demotions
// ops and elapsed_ms are cumulative; loads, hit_rate, the loads fractions and the mover counts
// cover the interval that ends at the row; used bytes are the tier's occupancy at the row.
// A row is written every interval_ops operations and once at the end for a partial interval.
//
// Thread-safety: owned by the replaying thread. It reads the backend's counters while the
// mover thread may move pages, so a row is a sample, not a consistent cut.
#ifndef TIERSWAP_FRONTEND_TIMELINE_H_
#define TIERSWAP_FRONTEND_TIMELINE_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "placement/backend.h"
#include "frontend/replay.h"
#include "tiers/result.h"

namespace tierswap {

class ReplayTimeline final : public ReplayObserver {
 public:
  static constexpr uint64_t kDefaultIntervalOps = 1000;

  // Creates (or truncates) `path` and writes the header, naming the backend's tiers. The
  // backend must outlive the timeline. Errors name the path.
  static Result<std::unique_ptr<ReplayTimeline>> Create(const std::string& path,
                                                        const Backend& backend,
                                                        uint64_t interval_ops);
  ~ReplayTimeline() override;
  ReplayTimeline(const ReplayTimeline&) = delete;
  ReplayTimeline& operator=(const ReplayTimeline&) = delete;

  // The CSV header line (without '\n') for `backend`'s tiers.
  static std::string Header(const Backend& backend);

  uint64_t interval_ops() const override { return interval_ops_; }
  // Appends the row of the interval ending now.
  Result<void> OnInterval(const ReplayResult& so_far) override;
  // Appends the row of a last, partial interval (if any), then flushes and closes the file.
  Result<void> OnEnd(const ReplayResult& result) override;

  const std::string& path() const { return path_; }
  uint64_t rows() const { return rows_; }

 private:
  ReplayTimeline(std::string path, std::FILE* file, const Backend& backend, uint64_t interval_ops);
  // Reads the counters the next row is a difference of.
  struct Sample {
    uint64_t ops = 0, loads = 0, hits = 0;
    uint64_t promotions = 0, demotions = 0;
    std::vector<uint64_t> tier_loads;
  };
  Sample Take(const ReplayResult& so_far) const;
  Result<void> WriteRow(const ReplayResult& so_far);
  Result<void> WriteError() const;

  std::string path_;
  std::FILE* file_;
  const Backend& backend_;
  const uint64_t interval_ops_;
  Sample last_;
  uint64_t rows_ = 0;
  std::string line_;  // reused for each row
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_TIMELINE_H_
