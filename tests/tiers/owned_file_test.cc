// Tests for OwnedFile (tiers/owned_file.h): the rules every file tierswap writes into is opened
// under. The pmem pool, the nbdkit backing file and the stats dump each test the findings that
// concern them; these cover the rules themselves.

#include "tiers/owned_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_file.h"

namespace tierswap {
namespace {

class OwnedFileTest : public ::testing::Test {
 protected:
  static Result<OwnedFile> OpenAs(const std::string& path, OwnedFileKind kind) {
    OwnedFileOptions o;
    o.path = path;
    o.kind = kind;
    o.text_prefix = kind == OwnedFileKind::kStatsDump ? "{\"ts\":\"" : "";
    return OwnedFile::Open(o);
  }

  // Expects the open to fail with kInvalidArgument and returns its message.
  static std::string Refusal(const std::string& path, OwnedFileKind kind) {
    auto f = OpenAs(path, kind);
    EXPECT_FALSE(f.ok()) << path << " opened";
    if (f.ok()) return "";
    EXPECT_EQ(f.error().code, Status::kInvalidArgument) << f.error().message;
    return f.error().message;
  }

  static void Write(const std::string& path, const std::string& text, mode_t mode = 0600) {
    { std::ofstream(path, std::ios::binary) << text; }
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }

  testing::TempDir tmp_;  // a fresh directory per test, removed afterwards
  const std::string dir_ = tmp_.path();
};

TEST_F(OwnedFileTest, CreatesA0600FileAndRemovesItOnlyIfItIsStillTheSameFile) {
  const std::string path = dir_ + "/f";
  auto f = OpenAs(path, OwnedFileKind::kSwapBacking);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_TRUE(f->created());
  EXPECT_FALSE(f->had_header());
  EXPECT_NE(f->owner_id(), 0u);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Someone renamed it away and put another file at the name: that one stays.
  ASSERT_EQ(rename(path.c_str(), (dir_ + "/moved").c_str()), 0);
  Write(path, "other");
  f->RemoveIfCreated();
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/moved"));
}

TEST_F(OwnedFileTest, ReopensAFileWithItsOwnHeaderButNotAnotherKinds) {
  const std::string path = dir_ + "/f";
  {
    auto f = OpenAs(path, OwnedFileKind::kSwapBacking);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_TRUE(f->WriteHeader(OwnedFile::kHeaderBytes, 8192).ok());
  }
  {
    auto again = OpenAs(path, OwnedFileKind::kSwapBacking);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_TRUE(again->had_header());
    EXPECT_FALSE(again->created());
  }
  const std::string msg = Refusal(path, OwnedFileKind::kPmemPool);
  EXPECT_NE(msg.find("it is a tierswap swap backing file, not a pmem pool"), std::string::npos)
      << msg;
}

TEST_F(OwnedFileTest, ACorruptHeaderIsNotTierswaps) {
  const std::string path = dir_ + "/f";
  {
    auto f = OpenAs(path, OwnedFileKind::kPmemPool);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->WriteHeader(OwnedFile::kHeaderBytes, 0).ok());
  }
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(20);
    io.put('\x7f');  // inside owner_id: the checksum no longer matches
  }
  const std::string msg = Refusal(path, OwnedFileKind::kPmemPool);
  EXPECT_NE(msg.find("no tierswap header"), std::string::npos) << msg;
}

TEST_F(OwnedFileTest, TheLockIsHeldUntilTheOwnerCloses) {
  const std::string path = dir_ + "/f";
  auto first = OpenAs(path, OwnedFileKind::kSwapBacking);
  ASSERT_TRUE(first.ok());
  // Before the header is written the holder is not named, but the file is still refused.
  std::string msg = Refusal(path, OwnedFileKind::kSwapBacking);
  EXPECT_NE(msg.find("another process holds its lock"), std::string::npos) << msg;
  ASSERT_TRUE(first->WriteHeader(OwnedFile::kHeaderBytes, 0).ok());
  msg = Refusal(path, OwnedFileKind::kSwapBacking);
  EXPECT_NE(msg.find("process " + std::to_string(getpid())), std::string::npos) << msg;
  EXPECT_NE(msg.find("owner id " + std::to_string(first->owner_id())), std::string::npos) << msg;
  // Any other open of the file meets the lock, as another process would (flock, not a lock
  // per process).
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_NE(flock(fd, LOCK_EX | LOCK_NB), 0);
  close(fd);
  *first = OwnedFile();
  EXPECT_TRUE(OpenAs(path, OwnedFileKind::kSwapBacking).ok());
}

TEST_F(OwnedFileTest, RefusesWhatItMustNotWriteInto) {
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  EXPECT_NE(Refusal(dir_ + "/fifo", OwnedFileKind::kSwapBacking).find("a FIFO"), std::string::npos);
  ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/link").c_str()), 0);
  EXPECT_NE(Refusal(dir_ + "/link", OwnedFileKind::kSwapBacking).find("symbolic link"),
            std::string::npos);
  Write(dir_ + "/plain", "hello");
  EXPECT_NE(Refusal(dir_ + "/plain", OwnedFileKind::kSwapBacking).find("no tierswap header"),
            std::string::npos);
  Write(dir_ + "/readable", "", 0640);
  EXPECT_NE(Refusal(dir_ + "/readable", OwnedFileKind::kSwapBacking).find("mode 0640"),
            std::string::npos);
  EXPECT_NE(Refusal(dir_ + "/", OwnedFileKind::kSwapBacking).find("names a directory"),
            std::string::npos);
  EXPECT_NE(Refusal("", OwnedFileKind::kSwapBacking).find("empty"), std::string::npos);
  EXPECT_NE(Refusal(dir_ + "/no/such", OwnedFileKind::kSwapBacking).find("is missing"),
            std::string::npos);
  // A character device is refused unless the kind allows one (device DAX).
  EXPECT_NE(Refusal("/dev/null", OwnedFileKind::kSwapBacking).find("a character device"),
            std::string::npos);
}

TEST_F(OwnedFileTest, ATextFileIsRecognisedByItsFirstBytes) {
  const std::string path = dir_ + "/stats.jsonl";
  Write(path, "{\"ts\":\"2026-12-07T00:00:00.000Z\"}\n");
  EXPECT_TRUE(OpenAs(path, OwnedFileKind::kStatsDump).ok());
  Write(path, "");  // rotated with copytruncate: empty again
  EXPECT_TRUE(OpenAs(path, OwnedFileKind::kStatsDump).ok());
  Write(path, "root:x:0:0:root:/root:/bin/bash\n");
  const std::string msg = Refusal(path, OwnedFileKind::kStatsDump);
  EXPECT_NE(msg.find("do not start with '{\"ts\":\"'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tierswap
