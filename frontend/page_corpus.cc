#include "frontend/page_corpus.h"

#include <utility>

namespace tierswap {

Result<PageCorpus> PageCorpus::Load(const std::string& path, uint64_t max_bytes) {
  Result<std::unique_ptr<InputStream>> in = InputStream::Open(path);
  if (!in) return in.take_error();
  return Load(**in, max_bytes);
}

Result<PageCorpus> PageCorpus::Load(InputStream& in, uint64_t max_bytes) {
  PageCorpus corpus;
  corpus.source_ = in.name();
  std::vector<unsigned char>& bytes = corpus.bytes_;
  // Read a page-sized multiple at a time; the vector grows geometrically, so a 35 MB corpus
  // costs a few dozen reallocations at most.
  constexpr size_t kChunk = 64 * kPageSize;
  size_t len = 0;
  for (;;) {
    if (bytes.size() - len < kChunk) bytes.resize(len + kChunk + len / 2);
    Result<size_t> n = in.Read(bytes.data() + len, bytes.size() - len);
    if (!n) return n.take_error();
    if (*n == 0) break;
    len += *n;
    if (len > max_bytes) {
      return MakeError(Status::kInvalidArgument,
                       "page corpus '" + corpus.source_ + "' is larger than " +
                           std::to_string(max_bytes) +
                           " bytes; a corpus must fit comfortably in memory.");
    }
  }
  bytes.resize(len);
  bytes.shrink_to_fit();
  if (len == 0) {
    return MakeError(Status::kInvalidArgument, "page corpus '" + corpus.source_ +
                                                   "' is empty; it must hold 4096-byte pages.");
  }
  if (len % kPageSize != 0) {
    return MakeError(Status::kInvalidArgument,
                     "page corpus '" + corpus.source_ + "' is " + std::to_string(len) +
                         " bytes, not a multiple of the 4096-byte page size (" +
                         std::to_string(len / kPageSize) + " whole pages and " +
                         std::to_string(len % kPageSize) + " bytes left over).");
  }
  return corpus;
}

}  // namespace tierswap
