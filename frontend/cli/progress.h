// ProgressBar: the one-line progress display of `tierswap replay` on a terminal.
//
// A long trace replays for minutes; the bar says how far it is, how fast it goes and when it
// will end. It is drawn on stderr only when stderr is a terminal, so pipes, files, CI logs and
// `--json` consumers never see control characters. It redraws at most ten times a second and
// not at all during the first quarter second, so a short replay leaves no trace of it, and it
// erases itself before the report is printed.
//
// How far: a trace read from a file reports the bytes consumed so far (compressed bytes for a
// zstd trace) against the file's size; the total number of operations is then estimated as
// ops x size / consumed. From a pipe the size is unknown and the bar shows a count and a rate.
//
// Thread-safety: owned by the replaying thread.
#ifndef TIERSWAP_FRONTEND_CLI_PROGRESS_H_
#define TIERSWAP_FRONTEND_CLI_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "frontend/replay.h"

namespace tierswap {

class ProgressBar final : public ReplayObserver {
 public:
  // Draws on `fd`. `total_bytes` is the input's size (0: unknown) and `position` returns the
  // bytes of it consumed so far (may be empty when the size is unknown).
  ProgressBar(int fd, uint64_t total_bytes, std::function<uint64_t()> position);
  ~ProgressBar() override;

  // Whether a bar belongs on `fd`: a terminal, and TERM is not "dumb".
  static bool WantedOn(int fd);

  // Checked every 1024 operations; cheap (one clock read) when no redraw is due.
  uint64_t interval_ops() const override { return 1024; }
  Result<void> OnInterval(const ReplayResult& so_far) override;
  Result<void> OnEnd(const ReplayResult& result) override;
  // Erases the bar if one is drawn (after an error, too); safe to call twice.
  void Clear();

  // The text of the bar, at most `width` columns: ops done, the share done and an estimated
  // total when `fraction` is in (0, 1], the rate, and the time left (or elapsed, without a
  // fraction). Pure, for tests.
  static std::string Render(uint64_t ops, double seconds, double fraction, size_t width);

 private:
  size_t TerminalWidth() const;

  const int fd_;
  const uint64_t total_bytes_;
  const std::function<uint64_t()> position_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

// "12.3k", "4.56M": a count with a metric suffix, three significant digits.
std::string ShortCount(double n);
// "0:42", "12:03", "2:01:09".
std::string ClockDuration(double seconds);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CLI_PROGRESS_H_
