#include "frontend/timeline.h"

#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>

namespace tierswap {
namespace {

void AppendFraction(std::string* line, uint64_t part, uint64_t whole) {
  line->push_back(',');
  // An interval without loads has no hit rate: the field stays empty (missing data to plotting
  // tools), rather than a 0 that would read as "every load missed".
  if (whole == 0) return;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", static_cast<double>(part) / static_cast<double>(whole));
  line->append(buf);
}

void AppendUint(std::string* line, uint64_t v) {
  line->push_back(',');
  line->append(std::to_string(v));
}

}  // namespace

std::string ReplayTimeline::Header(const Backend& backend) {
  std::string h = "ops,elapsed_ms,loads,hit_rate";
  for (size_t t = 0; t < backend.tier_count(); ++t)
    h += "," + backend.tier(t).name() + "_loads_frac";
  for (size_t t = 0; t < backend.tier_count(); ++t)
    h += "," + backend.tier(t).name() + "_used_bytes";
  h += ",promotions,demotions";
  return h;
}

Result<std::unique_ptr<ReplayTimeline>> ReplayTimeline::Create(const std::string& path,
                                                               const Backend& backend,
                                                               uint64_t interval_ops) {
  if (interval_ops == 0) {
    return MakeError(Status::kInvalidArgument,
                     "the timeline interval must be at least 1 operation, not 0.");
  }
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    return MakeError(Status::kIoError, "cannot create the timeline file '" + path +
                                           "': " + std::strerror(errno) + ".");
  }
  std::unique_ptr<ReplayTimeline> t(new ReplayTimeline(path, f, backend, interval_ops));
  const std::string header = Header(backend) + "\n";
  if (std::fwrite(header.data(), 1, header.size(), f) != header.size()) {
    return t->WriteError().take_error();
  }
  // The starting point of the first interval: whatever the backend counted before the replay.
  t->last_ = t->Take(ReplayResult{});
  return t;
}

ReplayTimeline::ReplayTimeline(std::string path, std::FILE* file, const Backend& backend,
                               uint64_t interval_ops)
    : path_(std::move(path)), file_(file), backend_(backend), interval_ops_(interval_ops) {}

ReplayTimeline::~ReplayTimeline() {
  if (file_ != nullptr) std::fclose(file_);
}

ReplayTimeline::Sample ReplayTimeline::Take(const ReplayResult& so_far) const {
  Sample s;
  s.ops = so_far.ops;
  s.loads = so_far.loads;
  s.hits = so_far.hits;
  const MoverStats mover = backend_.mover_stats();
  s.promotions = mover.counter(kPromotions);
  s.demotions = mover.counter(kDemotions);
  s.tier_loads.reserve(backend_.tier_count());
  for (size_t t = 0; t < backend_.tier_count(); ++t)
    s.tier_loads.push_back(backend_.tier(t).loads());
  return s;
}

Result<void> ReplayTimeline::WriteError() const {
  return MakeError(Status::kIoError,
                   "cannot write the timeline file '" + path_ + "': " + std::strerror(errno) + ".");
}

Result<void> ReplayTimeline::WriteRow(const ReplayResult& so_far) {
  if (file_ == nullptr) {
    return MakeError(Status::kInvalidArgument,
                     "the timeline file '" + path_ + "' was already closed.");
  }
  Sample now = Take(so_far);
  const uint64_t loads = now.loads - last_.loads;
  line_ = std::to_string(now.ops);
  char ms[32];
  std::snprintf(ms, sizeof(ms), ",%.3f", so_far.wall_seconds * 1e3);
  line_ += ms;
  AppendUint(&line_, loads);
  AppendFraction(&line_, now.hits - last_.hits, loads);
  for (size_t t = 0; t < now.tier_loads.size(); ++t) {
    AppendFraction(&line_, now.tier_loads[t] - last_.tier_loads[t], loads);
  }
  for (size_t t = 0; t < backend_.tier_count(); ++t)
    AppendUint(&line_, backend_.tier(t).used_bytes());
  AppendUint(&line_, now.promotions - last_.promotions);
  AppendUint(&line_, now.demotions - last_.demotions);
  line_.push_back('\n');
  if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) return WriteError();
  last_ = std::move(now);
  ++rows_;
  return {};
}

Result<void> ReplayTimeline::OnInterval(const ReplayResult& so_far) { return WriteRow(so_far); }

Result<void> ReplayTimeline::OnEnd(const ReplayResult& result) {
  if (result.ops > last_.ops || rows_ == 0) {
    Result<void> r = WriteRow(result);
    if (!r) return r;
  }
  std::FILE* f = file_;
  file_ = nullptr;
  const bool failed = std::ferror(f) != 0;
  if (std::fclose(f) != 0 || failed) return WriteError();
  return {};
}

}  // namespace tierswap
