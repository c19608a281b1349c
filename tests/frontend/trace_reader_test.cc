// Tests for the trace parser (every malformed-line class, with its line number) and for the
// input layer under it: plain and zstd text, from memory, files and pipes.
#include "frontend/trace_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "frontend/zstd_input.h"

namespace tierswap {
namespace {

std::string Compress(const std::string& text, int level = 3) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  const size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), level);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(n);
  return out;
}

// Parses `text` as a whole trace; returns the operations or the first error.
Result<std::vector<TraceOp>> ReadAll(std::string data, std::string name = "t.trace") {
  TraceReader reader(InputStream::FromMemory(std::move(data), std::move(name)));
  std::vector<TraceOp> ops;
  for (;;) {
    TraceOp op;
    Result<bool> r = reader.Next(&op);
    if (!r) return r.take_error();
    if (!*r) return ops;
    ops.push_back(op);
  }
}

// The error message for a trace whose only bad line is the last one of `text`.
std::string ErrorOf(const std::string& text) {
  Result<std::vector<TraceOp>> r = ReadAll(text);
  if (r.ok()) return "(no error)";
  return r.error().message;
}

TEST(TraceReaderTest, ParsesEveryOperationWithItsFields) {
  Result<std::vector<TraceOp>> r = ReadAll(
      "N 3 1024\n"
      "S 3 17\n"
      "S 3 18 @42\n"
      "L 3 17\n"
      "I 3 18\n"
      "A 3\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const std::vector<TraceOp>& ops = *r;
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(ops[0].kind, TraceOpKind::kInit);
  EXPECT_EQ(ops[0].type, 3u);
  EXPECT_EQ(ops[0].nr_pages, 1024u);
  EXPECT_EQ(ops[1].kind, TraceOpKind::kStore);
  EXPECT_EQ(ops[1].offset, 17u);
  EXPECT_FALSE(ops[1].page_ref.has_value());
  EXPECT_EQ(ops[2].kind, TraceOpKind::kStore);
  ASSERT_TRUE(ops[2].page_ref.has_value());
  EXPECT_EQ(*ops[2].page_ref, 42u);
  EXPECT_EQ(ops[3].kind, TraceOpKind::kLoad);
  EXPECT_EQ(ops[3].offset, 17u);
  EXPECT_EQ(ops[4].kind, TraceOpKind::kInvalidatePage);
  EXPECT_EQ(ops[4].offset, 18u);
  EXPECT_EQ(ops[5].kind, TraceOpKind::kInvalidateArea);
  EXPECT_EQ(ops[5].type, 3u);
  for (size_t i = 0; i < ops.size(); ++i) EXPECT_EQ(ops[i].line, i + 1);
  EXPECT_EQ(ops[2].ToString(), "S 3 18 @42");
  EXPECT_EQ(ops[0].ToString(), "N 3 1024");
  EXPECT_EQ(ops[5].ToString(), "A 3");
}

TEST(TraceReaderTest, SkipsCommentsAndBlankLinesButCountsThemInLineNumbers) {
  Result<std::vector<TraceOp>> r = ReadAll(
      "# tierswap trace v1\n"
      "\n"
      "   \t \n"
      "N 0 0   # unknown size\n"
      "#S 0 1\n"
      "S\t0\t1#no blank before the comment\r\n"
      "L 0 1");  // the last line has no newline
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].line, 4u);
  EXPECT_EQ((*r)[0].nr_pages, 0u);
  EXPECT_EQ((*r)[1].line, 6u);
  EXPECT_EQ((*r)[1].offset, 1u);
  EXPECT_EQ((*r)[2].line, 7u);
}

TEST(TraceReaderTest, EmptyInputHasNoOperations) {
  Result<std::vector<TraceOp>> r = ReadAll("");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(TraceReaderTest, RejectsUnknownOperationWithLineNumber) {
  EXPECT_EQ(ErrorOf("N 0 8\n# c\nX 0 1\n"),
            "t.trace:3: unknown operation 'X'; expected N, S, L, I or A (see "
            "docs/trace-format.md).");
  EXPECT_NE(ErrorOf("s 0 1\n").find("t.trace:1: unknown operation 's'"), std::string::npos);
  EXPECT_NE(ErrorOf("Store 0 1\n").find("t.trace:1: unknown operation 'Store'"), std::string::npos);
}

TEST(TraceReaderTest, RejectsMissingFieldsNamingWhatTheOperationNeeds) {
  EXPECT_EQ(ErrorOf("N 0 8\nS 1\n"), "t.trace:2: 'S' needs <type> <offset> [@k], got 1 field.");
  EXPECT_EQ(ErrorOf("N 0\n"), "t.trace:1: 'N' needs <type> <nr_pages>, got 1 field.");
  EXPECT_EQ(ErrorOf("L\n"), "t.trace:1: 'L' needs <type> <offset>, got 0 fields.");
  EXPECT_EQ(ErrorOf("\n\nI 4\n"), "t.trace:3: 'I' needs <type> <offset>, got 1 field.");
  EXPECT_EQ(ErrorOf("A\n"), "t.trace:1: 'A' needs <type>, got 0 fields.");
}

TEST(TraceReaderTest, RejectsExtraFieldsWithLineNumber) {
  EXPECT_EQ(ErrorOf("N 0 8 9\n"), "t.trace:1: 'N' needs <type> <nr_pages>, got 3 fields.");
  EXPECT_EQ(ErrorOf("L 0 1 2\n"), "t.trace:1: 'L' needs <type> <offset>, got 3 fields.");
  EXPECT_EQ(ErrorOf("A 0 1\n"), "t.trace:1: 'A' needs <type>, got 2 fields.");
  EXPECT_EQ(ErrorOf("S 0 1 @2 @3\n"), "t.trace:1: 'S' needs <type> <offset> [@k], got 4 fields.");
  EXPECT_EQ(ErrorOf("S 0 1 @2 3 4 5 6\n"),
            "t.trace:1: 'S' needs <type> <offset> [@k], got 7 fields.");
}

TEST(TraceReaderTest, RejectsNonNumericFields) {
  EXPECT_EQ(ErrorOf("S x 1\n"), "t.trace:1: <type> must be a decimal number, got 'x'.");
  EXPECT_EQ(ErrorOf("S 0 0x10\n"), "t.trace:1: <offset> must be a decimal number, got '0x10'.");
  EXPECT_EQ(ErrorOf("N 0 1e3\n"), "t.trace:1: <nr_pages> must be a decimal number, got '1e3'.");
  EXPECT_EQ(ErrorOf("L 0 +5\n"), "t.trace:1: <offset> must be a decimal number, got '+5'.");
}

TEST(TraceReaderTest, RejectsNegativeNumbers) {
  EXPECT_EQ(ErrorOf("L 0 -1\n"), "t.trace:1: <offset> must not be negative, got '-1'.");
  EXPECT_EQ(ErrorOf("A -3\n"), "t.trace:1: <type> must not be negative, got '-3'.");
}

TEST(TraceReaderTest, RejectsNumbersThatOverflowSixtyFourBits) {
  EXPECT_EQ(ErrorOf("L 0 18446744073709551616\n"),
            "t.trace:1: <offset> '18446744073709551616' is too large: it does not fit in 64 "
            "bits.");
  Result<std::vector<TraceOp>> max = ReadAll("L 0 18446744073709551615\n");
  ASSERT_TRUE(max.ok()) << max.error().message;
  EXPECT_EQ((*max)[0].offset, UINT64_MAX);
  EXPECT_NE(ErrorOf("S 0 1 @99999999999999999999\n").find("t.trace:1: page reference"),
            std::string::npos);
}

TEST(TraceReaderTest, RejectsTypeOutOfRange) {
  EXPECT_EQ(ErrorOf("N 31 8\nN 32 8\n"),
            "t.trace:2: <type> 32 is out of range: swap types are 0 to 31.");
  EXPECT_EQ(ErrorOf("A 4294967296\n"),
            "t.trace:1: <type> 4294967296 is out of range: swap types are 0 to 31.");
}

TEST(TraceReaderTest, RejectsNrPagesBeyondWhatATypeCanHave) {
  ASSERT_TRUE(ReadAll("N 0 4294967296\n").ok());
  EXPECT_EQ(ErrorOf("N 0 4294967297\n"),
            "t.trace:1: <nr_pages> 4294967297 is more than a swap type can have (4294967296).");
}

TEST(TraceReaderTest, RejectsBadPageReferenceSyntax) {
  const char* kBad[] = {"@", "@x", "@-1", "@1x", "7", "@@1", "@+1"};
  for (const char* ref : kBad) {
    const std::string msg = ErrorOf(std::string("N 0 8\nS 0 1 ") + ref + "\n");
    EXPECT_EQ(msg, std::string("t.trace:2: bad page reference '") + ref +
                       "': expected '@' followed by a page number, as in @12.")
        << ref;
  }
}

TEST(TraceReaderTest, RejectsPageReferenceOnOperationsOtherThanStore) {
  EXPECT_EQ(ErrorOf("L 0 1 @3\n"),
            "t.trace:1: 'L' does not take a page reference '@3'; only 'S' (store) lines do.");
  EXPECT_EQ(ErrorOf("N 0 8\nI 0 1 @3\n"),
            "t.trace:2: 'I' does not take a page reference '@3'; only 'S' (store) lines do.");
  EXPECT_EQ(ErrorOf("A 0 @3\n"),
            "t.trace:1: 'A' does not take a page reference '@3'; only 'S' (store) lines do.");
  EXPECT_EQ(ErrorOf("N 0 8 @3\n"),
            "t.trace:1: 'N' does not take a page reference '@3'; only 'S' (store) lines do.");
}

TEST(TraceReaderTest, BinaryGarbageIsQuotedReadably) {
  const std::string msg = ErrorOf(std::string("\x7f"
                                              "ELF\x01\x02",
                                              6) +
                                  " 1\n");
  EXPECT_EQ(msg.rfind("t.trace:1: unknown operation '\\x7fELF\\x01\\x02'", 0), 0u) << msg;
}

TEST(TraceReaderTest, RejectsOverlongLineWithItsNumber) {
  std::string text = "N 0 8\n# " + std::string(InputStream::kDefaultMaxLine, 'x') + "\n";
  const std::string msg = ErrorOf(text);
  EXPECT_EQ(msg.rfind("t.trace:2: the line is longer than 65536 bytes", 0), 0u) << msg;
}

TEST(TraceReaderTest, ReadsZstdCompressedTrace) {
  const std::string text = "# compressed\nN 1 64\nS 1 5 @7\nL 1 5\n";
  auto in = InputStream::FromMemory(Compress(text), "t.trace.zst");
  TraceReader reader(std::move(in));
  TraceOp op;
  std::vector<TraceOp> ops;
  for (;;) {
    Result<bool> r = reader.Next(&op);
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (!*r) break;
    ops.push_back(op);
  }
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[1].kind, TraceOpKind::kStore);
  EXPECT_EQ(*ops[1].page_ref, 7u);
  EXPECT_EQ(ops[2].line, 4u);
}

TEST(TraceReaderTest, ZstdErrorsNameTheLineOfTheDecompressedText) {
  const std::string msg = ErrorOf(Compress("N 0 8\nS 0 1\nL 0 1 2\n"));
  EXPECT_EQ(msg, "t.trace:3: 'L' needs <type> <offset>, got 3 fields.");
}

// Many lines, so that lines straddle the reader's 128 KiB blocks, compressed in two frames (as
// `cat a.zst b.zst` makes).
TEST(TraceReaderTest, ReadsLargeMultiFrameZstdTraceAcrossBlockBoundaries) {
  std::string first, second;
  const int kLines = 60000;
  for (int i = 0; i < kLines; ++i) {
    std::string& part = i < kLines / 2 ? first : second;
    part += "S " + std::to_string(i % 32) + " " + std::to_string(i * 7919ull) + "\n";
  }
  Result<std::vector<TraceOp>> r = ReadAll(Compress(first) + Compress(second, 19));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), static_cast<size_t>(kLines));
  for (int i = 0; i < kLines; ++i) {
    ASSERT_EQ((*r)[i].type, static_cast<unsigned>(i % 32)) << i;
    ASSERT_EQ((*r)[i].offset, i * 7919ull) << i;
    ASSERT_EQ((*r)[i].line, static_cast<uint64_t>(i + 1)) << i;
  }
}

TEST(TraceReaderTest, ReportsTruncatedZstdTrace) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "L 0 " + std::to_string(i) + "\n";
  std::string z = Compress(text);
  z.resize(z.size() / 2);
  Result<std::vector<TraceOp>> r = ReadAll(z, "cut.trace.zst");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'cut.trace.zst' ends in the middle of a zstd frame"),
            std::string::npos)
      << r.error().message;
}

TEST(TraceReaderTest, ReportsCorruptZstdData) {
  std::string z = Compress("N 0 8\nS 0 1\n");
  // A second frame whose header sets the reserved bit of the frame header descriptor.
  z.append(std::string("\x28\xb5\x2f\xfd\x08\x00", 6) + "garbage after the first frame");
  Result<std::vector<TraceOp>> r = ReadAll(z, "bad.zst");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'bad.zst' holds corrupt zstd data"), std::string::npos)
      << r.error().message;
}

// A pipe fed a few bytes at a time, as stdin is from `zstd -dc | ...` or a slow producer: the
// zstd magic arrives split across reads.
TEST(TraceReaderTest, ReadsStdinLikePipeInSmallPieces) {
  for (const bool compress : {false, true}) {
    const std::string text = "N 2 0\nS 2 9 @1\nL 2 9\nA 2\n";
    const std::string data = compress ? Compress(text) : text;
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    std::thread writer([&] {
      for (size_t i = 0; i < data.size(); i += 3) {
        const size_t n = std::min<size_t>(3, data.size() - i);
        EXPECT_EQ(write(fds[1], data.data() + i, n), static_cast<ssize_t>(n));
        std::this_thread::yield();
      }
      close(fds[1]);
    });
    TraceReader reader(InputStream::FromFd(fds[0], "<stdin>", /*owned=*/true));
    std::vector<TraceOp> ops;
    TraceOp op;
    for (;;) {
      Result<bool> r = reader.Next(&op);
      ASSERT_TRUE(r.ok()) << r.error().message;
      if (!*r) break;
      ops.push_back(op);
    }
    writer.join();
    ASSERT_EQ(ops.size(), 4u) << "compressed=" << compress;
    EXPECT_EQ(ops[3].kind, TraceOpKind::kInvalidateArea);
    EXPECT_EQ(reader.name(), "<stdin>");
  }
}

TEST(TraceReaderTest, OpensFilesAndNamesThemInErrors) {
  char path[] = "/tmp/trace_reader_testXXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "N 0 8\nS 0 1\nQ\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);

  Result<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  TraceOp op;
  ASSERT_TRUE((*reader)->Next(&op).ok());
  ASSERT_TRUE((*reader)->Next(&op).ok());
  Result<bool> bad = (*reader)->Next(&op);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind(std::string(path) + ":3: unknown operation 'Q'", 0), 0u)
      << bad.error().message;
  unlink(path);

  Result<std::unique_ptr<TraceReader>> missing = TraceReader::Open("/nonexistent/x.trace");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message,
            "cannot open '/nonexistent/x.trace' for reading: No such file or directory.");
}

TEST(TraceReaderTest, ReadsTheBundledMalformedTraceUpToItsBadLine) {
  const char* src = std::getenv("TIERSWAP_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "needs TIERSWAP_SOURCE_DIR (set by ctest)";
  const std::string path = std::string(src) + "/examples/traces/malformed.trace";
  Result<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  TraceOp op;
  int good = 0;
  for (;;) {
    Result<bool> r = (*reader)->Next(&op);
    if (!r) {
      EXPECT_EQ(r.error().message, path + ":8: <type> 40 is out of range: swap types are 0 to 31.");
      break;
    }
    ASSERT_TRUE(*r) << "the malformed trace parsed without error";
    ++good;
  }
  EXPECT_EQ(good, 2);
}

TEST(InputStreamTest, ReadReturnsDecodedBytesOfCompressedInput) {
  std::string data(300000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 31) >> 7);
  auto in = InputStream::FromMemory(Compress(data), "blob.zst");
  std::string got;
  char buf[7777];
  for (;;) {
    Result<size_t> n = in->Read(buf, sizeof(buf));
    ASSERT_TRUE(n.ok()) << n.error().message;
    if (*n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_TRUE(in->compressed());
  EXPECT_EQ(got, data);
}

TEST(InputStreamTest, ShortPlainInputIsNotMistakenForZstd) {
  auto in = InputStream::FromMemory("\x28\xb5", "short");
  char buf[8];
  Result<size_t> n = in->Read(buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_FALSE(in->compressed());
}

}  // namespace
}  // namespace tierswap
