// nbdkit-tierswap-plugin.so: serves a SwapDevice (swap_device.h) over NBD, so that a guest's
// swap disk (virtio-blk -> QEMU's NBD client -> nbdkit) keeps its pages in tierswap, with the
// pages tierswap rejects in a backing file. docs/guest-swap.md shows the whole chain.
//
//   nbdkit tierswap [size=]512M [config=FILE] [backing=FILE] [stats=FILE]
//
// Thread model: parallel. nbdkit calls the data callbacks from many threads at once; the device
// locks one page at a time (no device-wide lock). The parameters and the device are
// process-wide state, written only before the first connection and at unload.
//
// Why the device is opened twice: get_ready opens it (then closes it) so that a bad config or
// backing file fails nbdkit's start with a message on the terminal; nbdkit may then fork into
// the background, and tierswap's background threads (the placement mover) do not survive a
// fork, so after_fork opens the device for serving.
//
// Errors: every failure is reported with nbdkit_error (a sentence naming the parameter, file or
// page) and the errno goes to the client via nbdkit_set_error.
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

#include <fcntl.h>
#include <nbdkit-plugin.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "frontend/nbdkit/swap_device.h"

namespace tierswap {
namespace {

struct PluginState {
  SwapDeviceOptions options;
  std::string size_text;   // as given, for messages
  std::string stats_path;  // "" = no statistics file
  bool have_config = false;
  bool have_size = false;
  bool have_backing = false;
  std::unique_ptr<SwapDevice> device;
};

PluginState& State() {
  static PluginState state;
  return state;
}

// An absolute path (nbdkit changes directory to / when it forks); nbdkit_absolute_path
// reports its own error.
bool AbsolutePath(const char* key, const char* value, std::string* out) {
  if (*value == '\0') {
    nbdkit_error("%s= needs a file name", key);
    return false;
  }
  char* abs = nbdkit_absolute_path(value);
  if (abs == nullptr) return false;
  *out = abs;
  std::free(abs);
  return true;
}

int Config(const char* key, const char* value) {
  PluginState& st = State();
  auto once = [key](bool* seen) {
    if (*seen) {
      nbdkit_error("parameter '%s' is given twice", key);
      return false;
    }
    *seen = true;
    return true;
  };
  if (std::strcmp(key, "config") == 0) {
    if (!once(&st.have_config)) return -1;
    char* real = realpath(value, nullptr);
    if (real == nullptr) {
      nbdkit_error("config=%s: cannot use this tierswap config file: %s", value,
                   std::strerror(errno));
      return -1;
    }
    st.options.config_path = real;
    std::free(real);
    return 0;
  }
  if (std::strcmp(key, "size") == 0) {
    if (!once(&st.have_size)) return -1;
    const int64_t size = nbdkit_parse_size(value);  // reports its own error
    if (size < 0) return -1;
    if (size == 0 || size % static_cast<int64_t>(SwapDevice::kPageSize) != 0) {
      nbdkit_error(
          "size=%s: the device size must be a positive multiple of 4096 bytes (one swap "
          "page); %lld is not",
          value, static_cast<long long>(size));
      return -1;
    }
    st.options.size = static_cast<uint64_t>(size);
    st.size_text = value;
    return 0;
  }
  if (std::strcmp(key, "backing") == 0) {
    if (!once(&st.have_backing)) return -1;
    return AbsolutePath(key, value, &st.options.backing_path) ? 0 : -1;
  }
  if (std::strcmp(key, "stats") == 0) {
    if (!st.stats_path.empty()) {
      nbdkit_error("parameter 'stats' is given twice");
      return -1;
    }
    return AbsolutePath(key, value, &st.stats_path) ? 0 : -1;
  }
  nbdkit_error(
      "unknown parameter '%s' (the tierswap plugin takes config, size, backing and stats; "
      "see nbdkit tierswap --help)",
      key);
  return -1;
}

int ConfigComplete() {
  if (!State().have_size) {
    nbdkit_error("the device size is missing: give size=SIZE (for example size=512M)");
    return -1;
  }
  return 0;
}

int OpenDevice() {
  PluginState& st = State();
  try {
    Result<std::unique_ptr<SwapDevice>> dev = SwapDevice::Open(st.options);
    if (!dev) {
      nbdkit_error("%s", dev.error().message.c_str());
      return -1;
    }
    st.device = std::move(*dev);
    return 0;
  } catch (const std::exception& e) {
    nbdkit_error("cannot open the tierswap device: %s", e.what());
    return -1;
  }
}

int GetReady() {
  if (OpenDevice() != 0) return -1;
  State().device.reset();
  return 0;
}

int AfterFork() {
  if (OpenDevice() != 0) return -1;
  nbdkit_debug("tierswap: %s serving %s (%llu pages), backing file %s", tierswap_version(),
               State().size_text.c_str(),
               static_cast<unsigned long long>(State().options.size / SwapDevice::kPageSize),
               State().options.backing_path.empty() ? "(unlinked temporary file)"
                                                    : State().options.backing_path.c_str());
  return 0;
}

// Writes the statistics next to their final name, then renames, so a reader never sees half.
// The temporary file gets a fresh name, created exclusively (mkostemp), so nothing planted
// beside the final name (a symbolic link at "<name>.tmp") is followed or written through; the
// rename replaces whatever is at the final name itself, never what a link there points to.
void WriteStats() {
  PluginState& st = State();
  if (st.stats_path.empty() || st.device == nullptr) return;
  Result<std::string> json = st.device->StatsJson();
  if (!json) {
    nbdkit_error("stats=%s: %s", st.stats_path.c_str(), json.error().message.c_str());
    return;
  }
  std::string tmp = st.stats_path + ".XXXXXX";
  const int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) {
    nbdkit_error("stats=%s: cannot create a temporary file beside it: %s", st.stats_path.c_str(),
                 std::strerror(errno));
    return;
  }
  const char* p = json->data();
  size_t left = json->size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
  // 0644: the statistics are counters, meant for monitoring tools that run as other users.
  const bool written = left == 0 && fchmod(fd, 0644) == 0;
  if (close(fd) != 0 || !written || std::rename(tmp.c_str(), st.stats_path.c_str()) != 0) {
    nbdkit_error("stats=%s: cannot write the statistics: %s", st.stats_path.c_str(),
                 std::strerror(errno));
    unlink(tmp.c_str());
  }
}

void Unload() {
  try {
    WriteStats();
  } catch (const std::exception& e) {
    nbdkit_error("stats=%s: %s", State().stats_path.c_str(), e.what());
  }
  State().device.reset();
}

void DumpPlugin() { std::printf("tierswap_version=%s\n", tierswap_version()); }

// One device for every connection: the handle is the device itself.
void* OpenHandle(int /*readonly*/) { return State().device.get(); }

SwapDevice* Dev(void* handle) { return static_cast<SwapDevice*>(handle); }

int64_t GetSize(void* handle) { return static_cast<int64_t>(Dev(handle)->size()); }

int BlockSize(void* /*handle*/, uint32_t* minimum, uint32_t* preferred, uint32_t* maximum) {
  *minimum = 1;  // any request works (partial pages are read, modified and written back)
  *preferred = SwapDevice::kPageSize;
  *maximum = 0xffffffff;
  return 0;
}

int Yes(void* /*handle*/) { return 1; }
int No(void* /*handle*/) { return 0; }

// Reports a data-path failure to nbdkit (log) and the client (errno).
int Report(int err) {
  if (err == 0) return 0;
  nbdkit_error("%s", SwapDevice::LastError());
  nbdkit_set_error(err);
  return -1;
}

int Pread(void* handle, void* buf, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Report(Dev(handle)->Read(buf, count, offset));
}

int Pwrite(void* handle, const void* buf, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Report(Dev(handle)->Write(buf, count, offset));
}

int Trim(void* handle, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Report(Dev(handle)->Trim(count, offset));
}

// NBDKIT_FLAG_FAST_ZERO needs nothing: zeroing never writes more than the two partial pages at
// the ends of the range.
int Zero(void* handle, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Report(Dev(handle)->Zero(count, offset));
}

// Nothing is cached on the way to tierswap or the backing file, and neither outlives the
// process (tierswap's pages are gone when it exits), so there is nothing to make durable.
int Flush(void* /*handle*/, uint32_t /*flags*/) { return 0; }

nbdkit_plugin MakePlugin() {
  nbdkit_plugin p{};
  p.name = "tierswap";
  p.longname = "tierswap far-memory swap device";
  p.version = tierswap_version();
  p.description =
      "A swap disk whose 4 KiB pages live in tierswap (DRAM, far NUMA nodes, pmem, compressed "
      "memory); pages tierswap rejects go to a backing file.";
  p.unload = Unload;
  p.config = Config;
  p.config_complete = ConfigComplete;
  p.config_help =
      "[size=]SIZE      (required) device size, a multiple of 4096, e.g. 512M.\n"
      "config=FILE      tierswap TOML config (docs/config.md); default: one 256 MiB DRAM tier.\n"
      "                 [backend] exclusive_loads must be false.\n"
      "backing=FILE     where pages tierswap rejects are written (same offsets as on the\n"
      "                 device); created sparse if missing, must hold no data if it exists,\n"
      "                 kept after exit. Default: an unlinked temporary file in $TMPDIR\n"
      "                 (else /var/tmp).\n"
      "stats=FILE       at exit, write the device's page counts and tierswap's statistics\n"
      "                 (docs/stats.md) to FILE as one JSON object.";
  p.magic_config_key = "size";
  p.dump_plugin = DumpPlugin;
  p.get_ready = GetReady;
  p.after_fork = AfterFork;
  p.open = OpenHandle;
  p.get_size = GetSize;
  p.block_size = BlockSize;
  p.can_write = Yes;
  p.can_flush = Yes;
  p.can_trim = Yes;
  p.can_zero = Yes;
  p.can_fast_zero = Yes;
  p.can_multi_conn = Yes;  // one device behind every connection, nothing cached per connection
  p.is_rotational = No;
  p.pread = Pread;
  p.pwrite = Pwrite;
  p.trim = Trim;
  p.zero = Zero;
  p.flush = Flush;
  p.errno_is_preserved = 0;  // errors go through nbdkit_set_error
  return p;
}

nbdkit_plugin plugin = MakePlugin();

}  // namespace
}  // namespace tierswap

// NBDKIT_REGISTER_PLUGIN defines the one exported symbol, plugin_init, with C linkage.
using tierswap::plugin;
NBDKIT_REGISTER_PLUGIN(plugin)
