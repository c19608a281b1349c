// Config: everything a backend is opened with, as a documented struct with defaults inline.
//
// Filled from one place: a TOML file (docs/config.md documents every key; examples/ has
// files), or Config::Default() when no file is given. The loader refuses unknown keys, wrong
// types and impossible values with a message that names the file, the line and the key, so a
// typo never silently falls back to a default.
//
// Thread-safety: a plain value type.
#ifndef TIERSWAP_FRONTEND_CONFIG_H_
#define TIERSWAP_FRONTEND_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "placement/backend_options.h"
#include "tiers/result.h"
#include "tiers/tier.h"

namespace tierswap {

// One [[tier]] table. Tiers are listed fastest first; with no placement policy, a store goes to
// the first tier in this order that has room.
struct TierConfig {
  std::string name;                 // unique, [A-Za-z0-9_.-]{1,32}
  TierKind kind = TierKind::kDram;  // kind = "dram" | "numa" | "pmem" | "compressed"
  uint64_t capacity_bytes = 0;      // capacity = "256MiB": required, at least 4 KiB
  bool prefault = true;             // touch every frame at open (dram, pmem, compressed)

  // kind = "numa" (required), and kind = "compressed" with backing = "numa" (required there).
  int node = -1;
  // kind = "pmem": "anon", a file on a DAX filesystem, a device-DAX path, or an ordinary file.
  std::string path;
  bool persist = false;  // kind = "pmem": make every accepted store durable before it returns
  // Keep a checksum of every page and verify it on every load (tiers/page_checksum.h); a page
  // that fails is reported (-EIO), never returned. Default: [backend] checksum.
  bool checksum = false;

  // kind = "compressed".
  std::string codec = "lz4";              // "lz4" | "zstd"
  int level = 1;                          // zstd level 1..19; lz4 acceleration 1..65537
  std::string backing = "dram";           // "dram" (local memory) | "numa" (on `node`)
  double max_compressed_fraction = 0.75;  // pages compressing worse are declined

  // Any kind: slower media emulated on top (read_latency_ns, write_latency_ns, bandwidth_mbps).
  TierEmulation emulation;

  int line = 0;  // line of the [[tier]] header, for later error messages
};

// [placement] (the engine's PlacementOptions, and where the table was).
struct PlacementConfig : PlacementOptions {
  int line = 0;
};

// [[quota]] (the engine's QuotaOptions, and where the table was).
struct QuotaConfig : QuotaOptions {
  int line = 0;
};

// [stats]: how statistics leave the process.
struct StatsConfig {
  std::string listen;         // "127.0.0.1:9464": serve /metrics and /stats.json ("" = off)
  bool allow_remote = false;  // permit a listen address that is not loopback
  std::string dump_file;      // append a timestamped JSON line every dump_interval_ms
  uint64_t dump_interval_ms = 10'000;
  bool latency_histograms = true;  // time every tier load and store (per-tier histograms)
  // Where each came from, for messages in the config's own "<file>:<line>: " form (0: not
  // given in a file).
  std::string source;
  int line = 0;  // the [stats] table
  int listen_line = 0;
  int dump_file_line = 0;
  int dump_interval_line = 0;
};

struct Config {
  // [backend]
  bool exclusive_loads = false;  // a successful load also drops the page (frontswap exclusive)
  bool scrub_on_free = false;    // zero a page's memory in its tier when it is freed or moved
  bool checksum = false;         // default of every [[tier]]'s `checksum`

  StatsConfig stats;

  PlacementConfig placement;
  std::vector<QuotaConfig> quotas;  // at most one per type

  std::vector<TierConfig> tiers;     // at least one, at most 31
  std::string source = "<default>";  // the file it came from, for messages

  // One DRAM tier named "dram" of kDefaultDramBytes.
  static constexpr uint64_t kDefaultDramBytes = 256ull << 20;
  static Config Default();

  // Parses a TOML file. Errors name the file, line and key.
  static Result<Config> FromFile(const std::string& path);
  // Parses TOML text; `source_name` stands for the file in messages.
  static Result<Config> FromString(std::string_view toml, std::string_view source_name);
};

// Parses a size: an integer with an optional unit B, KiB, MiB, GiB or TiB ("256MiB", "4096",
// "1 GiB"); TOML integers are bytes. Errors say what was wrong with the text.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_CONFIG_H_
