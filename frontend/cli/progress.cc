#include "frontend/cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace tierswap {
namespace {

// Redraws at most this often, and not before the replay has run for kFirstDraw.
constexpr auto kRedraw = std::chrono::milliseconds(100);
constexpr double kFirstDrawSeconds = 0.25;

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n <= 0) return;  // a display: nothing to do about a failed write
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string ShortCount(double n) {
  char buf[32];
  if (n < 1000) {
    std::snprintf(buf, sizeof(buf), "%.0f", n);
  } else {
    static constexpr const char* kSuffix[] = {"k", "M", "G", "T"};
    size_t i = 0;
    n /= 1000;
    while (n >= 999.5 && i + 1 < std::size(kSuffix)) n /= 1000, ++i;
    std::snprintf(buf, sizeof(buf),
                  n < 9.995   ? "%.2f%s"
                  : n < 99.95 ? "%.1f%s"
                              : "%.0f%s",
                  n, kSuffix[i]);
  }
  return buf;
}

std::string ClockDuration(double seconds) {
  const auto s = static_cast<uint64_t>(std::max(0.0, std::round(seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  }
  return buf;
}

ProgressBar::ProgressBar(int fd, uint64_t total_bytes, std::function<uint64_t()> position)
    : fd_(fd), total_bytes_(total_bytes), position_(std::move(position)) {}

ProgressBar::~ProgressBar() { Clear(); }

bool ProgressBar::WantedOn(int fd) {
  if (isatty(fd) != 1) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

size_t ProgressBar::TerminalWidth() const {
  winsize ws{};
  if (ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

std::string ProgressBar::Render(uint64_t ops, double seconds, double fraction, size_t width) {
  const double rate = seconds > 0 ? static_cast<double>(ops) / seconds : 0;
  std::string text;
  if (fraction > 0) {
    // A block of input read ahead can put `fraction` at 1 before the last operation: the bar
    // keeps the last percent for the end.
    const double f = std::min(fraction, 0.99);
    const double left = seconds * (1 - f) / f;
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%%", f * 100);
    text = std::string(pct) + "  " + ShortCount(static_cast<double>(ops)) + " / ~" +
           ShortCount(static_cast<double>(ops) / f) + " ops  " + ShortCount(rate) + " ops/s  ETA " +
           ClockDuration(left);
    // The bar gets what is left of the line, up to 40 columns.
    const size_t room = width > text.size() + 4 ? width - text.size() - 4 : 0;
    const size_t bar = std::min<size_t>(room, 40);
    if (bar >= 10) {
      const auto filled = static_cast<size_t>(f * static_cast<double>(bar));
      std::string b = "[" + std::string(filled, '=');
      if (filled < bar) b += ">" + std::string(bar - filled - 1, ' ');
      text = b + "] " + text;
    }
  } else {
    text = ShortCount(static_cast<double>(ops)) + " ops  " + ShortCount(rate) + " ops/s  " +
           ClockDuration(seconds) + " elapsed";
  }
  if (width > 0 && text.size() > width - 1) text.resize(width - 1);
  return text;
}

Result<void> ProgressBar::OnInterval(const ReplayResult& so_far) {
  if (so_far.wall_seconds < kFirstDrawSeconds) return {};
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < kRedraw) return {};
  last_draw_ = now;
  double fraction = 0;
  if (total_bytes_ > 0 && position_) {
    fraction = std::min(1.0, static_cast<double>(position_()) / static_cast<double>(total_bytes_));
  }
  // \r and "erase to the end of the line": the new text may be shorter than the last.
  WriteAll(fd_,
           "\r" + Render(so_far.ops, so_far.wall_seconds, fraction, TerminalWidth()) + "\033[K");
  drawn_ = true;
  return {};
}

Result<void> ProgressBar::OnEnd(const ReplayResult& /*result*/) {
  Clear();
  return {};
}

void ProgressBar::Clear() {
  if (!drawn_) return;
  WriteAll(fd_, "\r\033[K");
  drawn_ = false;
}

}  // namespace tierswap
