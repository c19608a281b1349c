// PageCorpus: real page contents for trace replay, loaded from a file of raw 4 KiB pages.
//
// Generated pages exercise the store/load path, but compression and same-filled detection
// behave differently on real memory. A corpus file holds pages back to back (page k at byte
// k * 4096), plain or zstd-compressed; a trace's `S <type> <offset> @k` stores page k of it.
// Corpora are small (the bundled one, examples/pages/, is 4,096 pages = 16 MiB), so the whole
// corpus is held in memory and a page is a pointer away on the replay path.
//
// Thread-safety: immutable after Load; any number of threads may read pages.
#ifndef TIERSWAP_FRONTEND_PAGE_CORPUS_H_
#define TIERSWAP_FRONTEND_PAGE_CORPUS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "frontend/zstd_input.h"
#include "tiers/page.h"
#include "tiers/result.h"

namespace tierswap {

class PageCorpus {
 public:
  // Refuses files larger than this once decoded: a corpus is meant to fit in memory with room
  // to spare for the tiers it is replayed into.
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{1} << 30;

  PageCorpus() = default;

  // Loads a corpus file ("-" reads standard input). Errors: unreadable or corrupt input, an
  // empty file, a size that is not a multiple of 4096, more than `max_bytes` of pages.
  static Result<PageCorpus> Load(const std::string& path, uint64_t max_bytes = kDefaultMaxBytes);
  // Loads from an open stream (tests, embedders); same checks as Load.
  static Result<PageCorpus> Load(InputStream& in, uint64_t max_bytes = kDefaultMaxBytes);

  uint64_t page_count() const { return bytes_.size() / kPageSize; }
  // Page k (k < page_count()), 4096 bytes.
  const unsigned char* page(uint64_t k) const { return bytes_.data() + k * kPageSize; }
  // The name of the file it came from, for messages.
  const std::string& source() const { return source_; }

 private:
  std::vector<unsigned char> bytes_;
  std::string source_;
};

}  // namespace tierswap

#endif  // TIERSWAP_FRONTEND_PAGE_CORPUS_H_
