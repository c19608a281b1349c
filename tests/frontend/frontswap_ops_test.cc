// Tests of the frontswap plugin face, driven the way a guest module drives it: dlopen() the
// library, look up tierswap_frontswap_ops, and call only through the table.
//
// The table is backed by one process-wide backend, opened on first use from $TIERSWAP_CONFIG.
// So that each scenario gets a fresh instance opened from its own environment, every scenario
// runs in a forked child (as a death test would). GoogleTest assertions inside the child print
// their failures there; the child's exit status carries the verdict to the parent.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

// Only the header: this binary does not link the library, it loads it.
#include "frontend/include/tierswap/tierswap.h"
#include "tests/support/temp_file.h"
#include "tests/support/test_pages.h"

namespace {

using TempConfig = tierswap::testing::TempFile;

using Page = std::array<unsigned char, TIERSWAP_PAGE_SIZE>;

// Random bytes, never same-filled, distinct per seed.
using tierswap::testing::PatternPage;

// What a guest module gets from the library: the table, and the message function.
struct Plugin {
  const struct tierswap_frontswap_ops* ops = nullptr;
  const char* (*errormsg)() = nullptr;

  std::string Message() const { return errormsg(); }
};

// Loads the library as a module would. Fails the current test if it cannot.
Plugin LoadPlugin() {
  Plugin plugin;
  void* lib = dlopen(TIERSWAP_LIBRARY_PATH, RTLD_NOW | RTLD_LOCAL);
  EXPECT_NE(lib, nullptr) << "dlopen(" << TIERSWAP_LIBRARY_PATH << "): " << dlerror();
  if (lib == nullptr) return plugin;
  using GetOps = const struct tierswap_frontswap_ops* (*)();
  auto get_ops = reinterpret_cast<GetOps>(dlsym(lib, "tierswap_frontswap_ops"));
  EXPECT_NE(get_ops, nullptr) << dlerror();
  plugin.errormsg = reinterpret_cast<const char* (*)()>(dlsym(lib, "tierswap_errormsg"));
  EXPECT_NE(plugin.errormsg, nullptr) << dlerror();
  if (get_ops != nullptr) plugin.ops = get_ops();
  return plugin;
}

constexpr const char* kExclusiveConfig =
    "[backend]\n"
    "exclusive_loads = true\n"
    "[[tier]]\n"
    "name = \"dram\"\n"
    "kind = \"dram\"\n"
    "capacity = \"16MiB\"\n";

// Runs `scenario` in a forked child with $TIERSWAP_CONFIG set to `config` (nullptr: unset),
// against a freshly loaded plugin, and expects the child to report no failure.
void RunInChild(const char* config, const std::function<void(const Plugin&)>& scenario) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    if (config == nullptr) {
      unsetenv("TIERSWAP_CONFIG");
    } else {
      setenv("TIERSWAP_CONFIG", config, 1);
    }
    const Plugin plugin = LoadPlugin();
    if (plugin.ops != nullptr && plugin.errormsg != nullptr) scenario(plugin);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid) << std::strerror(errno);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died (signal " << WTERMSIG(status) << ")";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's failures are printed above";
}

TEST(FrontswapOpsTest, TableIsCompleteAndStable) {
  // Looking the table up does not open the backend, so this may run in the parent.
  const Plugin plugin = LoadPlugin();
  ASSERT_NE(plugin.ops, nullptr);
  EXPECT_NE(plugin.ops->init, nullptr);
  EXPECT_NE(plugin.ops->store, nullptr);
  EXPECT_NE(plugin.ops->load, nullptr);
  EXPECT_NE(plugin.ops->invalidate_page, nullptr);
  EXPECT_NE(plugin.ops->invalidate_area, nullptr);
  EXPECT_EQ(LoadPlugin().ops, plugin.ops);
}

TEST(FrontswapOpsTest, StoreLoadRoundTripOfSeveralPages) {
  RunInChild(nullptr, [](const Plugin& p) {
    p.ops->init(0);
    p.ops->init(3);
    EXPECT_EQ(p.Message(), "");
    for (unsigned long off = 0; off < 50; ++off) {
      const Page page = PatternPage(off);
      ASSERT_EQ(p.ops->store(0, off, page.data()), 0) << p.Message();
      const Page other = PatternPage(500 + off);
      ASSERT_EQ(p.ops->store(3, off * 1000, other.data()), 0) << p.Message();
    }
    for (unsigned long off = 0; off < 50; ++off) {
      Page out;
      bool exclusive = true;
      ASSERT_EQ(p.ops->load(0, off, out.data(), &exclusive), 0) << p.Message();
      EXPECT_EQ(out, PatternPage(off)) << "offset " << off;
      EXPECT_FALSE(exclusive);
      ASSERT_EQ(p.ops->load(3, off * 1000, out.data(), nullptr), 0) << p.Message();
      EXPECT_EQ(out, PatternPage(500 + off)) << "type 3 offset " << off * 1000;
    }
  });
}

TEST(FrontswapOpsTest, DuplicateStoreReplacesThePage) {
  RunInChild(nullptr, [](const Plugin& p) {
    p.ops->init(1);
    const Page a = PatternPage(1), b = PatternPage(2);
    ASSERT_EQ(p.ops->store(1, 42, a.data()), 0) << p.Message();
    ASSERT_EQ(p.ops->store(1, 42, b.data()), 0) << p.Message();
    Page out;
    ASSERT_EQ(p.ops->load(1, 42, out.data(), nullptr), 0) << p.Message();
    EXPECT_EQ(out, b);
  });
}

TEST(FrontswapOpsTest, InvalidatePageDropsOnlyThatPage) {
  RunInChild(nullptr, [](const Plugin& p) {
    p.ops->init(0);
    const Page a = PatternPage(3), b = PatternPage(4);
    ASSERT_EQ(p.ops->store(0, 1, a.data()), 0) << p.Message();
    ASSERT_EQ(p.ops->store(0, 2, b.data()), 0) << p.Message();
    p.ops->invalidate_page(0, 1);
    EXPECT_EQ(p.Message(), "");
    Page out;
    out.fill(0x33);
    EXPECT_EQ(p.ops->load(0, 1, out.data(), nullptr), -ENOENT);
    EXPECT_EQ(out[0], 0x33) << "a failed load wrote to the buffer";
    EXPECT_EQ(p.Message(), "frontswap load: no page is held for (type 0, offset 1)");
    ASSERT_EQ(p.ops->load(0, 2, out.data(), nullptr), 0) << p.Message();
    EXPECT_EQ(out, b);
  });
}

TEST(FrontswapOpsTest, InvalidateAreaDropsEveryPageUntilInitAgain) {
  RunInChild(nullptr, [](const Plugin& p) {
    p.ops->init(2);
    p.ops->init(4);
    for (unsigned long off = 0; off < 8; ++off) {
      const Page page = PatternPage(off);
      ASSERT_EQ(p.ops->store(2, off, page.data()), 0) << p.Message();
      ASSERT_EQ(p.ops->store(4, off, page.data()), 0) << p.Message();
    }
    p.ops->invalidate_area(2);
    Page out;
    EXPECT_EQ(p.ops->load(2, 0, out.data(), nullptr), -ENODEV);
    EXPECT_NE(p.Message().find("type 2 is not initialised"), std::string::npos) << p.Message();
    EXPECT_EQ(p.ops->store(2, 0, out.data()), -ENODEV);
    // Other types are untouched.
    ASSERT_EQ(p.ops->load(4, 7, out.data(), nullptr), 0) << p.Message();
    EXPECT_EQ(out, PatternPage(7));

    p.ops->init(2);
    for (unsigned long off = 0; off < 8; ++off) {
      EXPECT_EQ(p.ops->load(2, off, out.data(), nullptr), -ENOENT) << "offset " << off;
    }
    const Page page = PatternPage(99);
    EXPECT_EQ(p.ops->store(2, 0, page.data()), 0) << p.Message();
  });
}

TEST(FrontswapOpsTest, BadArgumentsAreRefusedWithMessages) {
  RunInChild(nullptr, [](const Plugin& p) {
    const Page page = PatternPage(5);
    Page out;
    p.ops->init(32);
    EXPECT_EQ(p.Message(), "frontswap init: type 32 is out of range (types are 0-31)");
    EXPECT_EQ(p.ops->store(40, 0, page.data()), -EINVAL);
    EXPECT_EQ(p.Message(), "frontswap store: type 40 is out of range (types are 0-31)");
    EXPECT_EQ(p.ops->store(6, 0, page.data()), -ENODEV);
    EXPECT_NE(p.Message().find("frontswap store: type 6 is not initialised"), std::string::npos)
        << p.Message();
    p.ops->init(6);
    EXPECT_EQ(p.ops->store(6, 0, nullptr), -EINVAL);
    EXPECT_EQ(p.Message(), "frontswap store: page is NULL");
    bool exclusive = true;
    EXPECT_EQ(p.ops->load(6, 0, nullptr, &exclusive), -EINVAL);
    EXPECT_EQ(p.Message(), "frontswap load: page is NULL");
    EXPECT_FALSE(exclusive);
    EXPECT_EQ(p.ops->store(6, 1ul << 32, page.data()), -EINVAL);
    EXPECT_NE(p.Message().find("offset 4294967296"), std::string::npos) << p.Message();
    p.ops->invalidate_area(77);
    EXPECT_EQ(p.Message(), "frontswap invalidate_area: type 77 is out of range (types are 0-31)");
    // And a good call clears the message.
    EXPECT_EQ(p.ops->store(6, 0, page.data()), 0) << p.Message();
    EXPECT_EQ(p.Message(), "");
    ASSERT_EQ(p.ops->load(6, 0, out.data(), nullptr), 0) << p.Message();
    EXPECT_EQ(out, page);
  });
}

TEST(FrontswapOpsTest, EmptyConfigVariableMeansTheDefaultConfig) {
  RunInChild("", [](const Plugin& p) {
    p.ops->init(0);
    EXPECT_EQ(p.Message(), "");
    const Page page = PatternPage(6);
    EXPECT_EQ(p.ops->store(0, 0, page.data()), 0) << p.Message();
    Page out;
    bool exclusive = true;
    ASSERT_EQ(p.ops->load(0, 0, out.data(), &exclusive), 0) << p.Message();
    EXPECT_EQ(out, page);
    EXPECT_FALSE(exclusive);
  });
}

TEST(FrontswapOpsTest, ExclusiveLoadsConfigDropsThePageOnLoad) {
  TempConfig config(kExclusiveConfig);
  RunInChild(config.path().c_str(), [](const Plugin& p) {
    p.ops->init(0);
    EXPECT_EQ(p.Message(), "");
    const Page a = PatternPage(7);
    const Page zero{};  // same-filled pages are dropped the same way
    ASSERT_EQ(p.ops->store(0, 10, a.data()), 0) << p.Message();
    ASSERT_EQ(p.ops->store(0, 11, zero.data()), 0) << p.Message();

    Page out;
    bool exclusive = false;
    ASSERT_EQ(p.ops->load(0, 10, out.data(), &exclusive), 0) << p.Message();
    EXPECT_EQ(out, a);
    EXPECT_TRUE(exclusive);
    exclusive = true;
    EXPECT_EQ(p.ops->load(0, 10, out.data(), &exclusive), -ENOENT) << "the page was kept";
    EXPECT_FALSE(exclusive);

    out.fill(0xEE);
    ASSERT_EQ(p.ops->load(0, 11, out.data(), nullptr), 0) << p.Message();  // NULL is allowed
    EXPECT_EQ(out, zero);
    EXPECT_EQ(p.ops->load(0, 11, out.data(), nullptr), -ENOENT);
  });
}

TEST(FrontswapOpsTest, MissingConfigFileMakesStoreAndLoadEnodevWithTheReason) {
  const std::string path =
      (std::filesystem::temp_directory_path() / "tierswap-frontswap-no-such.toml").string();
  std::filesystem::remove(path);
  RunInChild(path.c_str(), [&path](const Plugin& p) {
    p.ops->init(0);  // does nothing, but says why
    EXPECT_NE(p.Message().find(path), std::string::npos) << p.Message();
    const Page page = PatternPage(8);
    EXPECT_EQ(p.ops->store(0, 0, page.data()), -ENODEV);
    EXPECT_NE(p.Message().find("frontswap store: "), std::string::npos) << p.Message();
    EXPECT_NE(p.Message().find(path), std::string::npos) << p.Message();
    Page out;
    out.fill(0x44);
    bool exclusive = true;
    EXPECT_EQ(p.ops->load(0, 0, out.data(), &exclusive), -ENODEV);
    EXPECT_NE(p.Message().find(path), std::string::npos) << p.Message();
    EXPECT_FALSE(exclusive);
    EXPECT_EQ(out[0], 0x44);
    // The failure is remembered, not retried into a different answer.
    EXPECT_EQ(p.ops->store(0, 0, page.data()), -ENODEV);
    p.ops->invalidate_page(0, 0);
    p.ops->invalidate_area(0);
    EXPECT_NE(p.Message().find(path), std::string::npos) << p.Message();
  });
}

TEST(FrontswapOpsTest, InvalidConfigMakesStoreEnodevNamingTheKey) {
  TempConfig config("[backend]\nexclusive_load = true\n");  // a typo: the key is unknown
  RunInChild(config.path().c_str(), [&config](const Plugin& p) {
    const Page page = PatternPage(9);
    EXPECT_EQ(p.ops->store(0, 0, page.data()), -ENODEV);
    EXPECT_NE(p.Message().find(config.path()), std::string::npos) << p.Message();
    EXPECT_NE(p.Message().find("exclusive_load"), std::string::npos) << p.Message();
  });
}

// A config that nests 100,000 levels deep crashed the process inside the TOML parser (exit 139)
// when named by $TIERSWAP_CONFIG. The child must live and say why the backend is missing.
TEST(FrontswapOpsTest, DeeplyNestedConfigIsRefusedNotACrash) {
  std::string header = "[a";
  for (int i = 1; i < 100000; ++i) header += ".a";
  TempConfig config(header + "]\n");
  RunInChild(config.path().c_str(), [](const Plugin& p) {
    const Page page = PatternPage(10);
    EXPECT_EQ(p.ops->store(0, 0, page.data()), -ENODEV);
    EXPECT_NE(p.Message().find("nests deeper than 16 levels"), std::string::npos) << p.Message();
  });
}

TEST(FrontswapOpsTest, FirstCallsFromManyThreadsShareOneBackend) {
  RunInChild(nullptr, [](const Plugin& p) {
    constexpr unsigned kThreads = 8;
    constexpr unsigned long kPages = 64;
    // Every thread's first call races to open the backend; all must see the same one.
    std::atomic<int> go{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (go.load(std::memory_order_acquire) == 0) {
        }
        Page out;
        // Type t is not initialised yet: -ENODEV, whichever thread opened the backend.
        if (p.ops->load(t, 0, out.data(), nullptr) != -ENODEV) ++failures;
      });
    }
    go.store(1, std::memory_order_release);
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);

    // Pages stored from other threads are visible here: one process-wide backend.
    for (unsigned t = 0; t < kThreads; ++t) p.ops->init(t);
    threads.clear();
    for (unsigned t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (unsigned long off = 0; off < kPages; ++off) {
          const Page page = PatternPage(t * kPages + off);
          if (p.ops->store(t, off, page.data()) != 0) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    for (unsigned t = 0; t < kThreads; ++t) {
      for (unsigned long off = 0; off < kPages; ++off) {
        Page out;
        ASSERT_EQ(p.ops->load(t, off, out.data(), nullptr), 0) << p.Message();
        EXPECT_EQ(out, PatternPage(t * kPages + off)) << "type " << t << " offset " << off;
      }
    }
  });
}

}  // namespace
