/*
 * swap_workload: the guest swap test's workload (scripts/guest-swap-test.sh). Built on the host,
 * run inside the lab's guest (scripts/lab) in a memory cgroup far smaller than its working set, so
 * that the guest kernel swaps most of it out and back in.
 *
 *   swap_workload --mib N [--passes P] [--seed S]
 *
 * Pass 1 writes every 4 KiB page of an N MiB anonymous mapping with content derived from
 * (seed, page number, generation). Each middle pass checks every page against the generation
 * it last wrote and rewrites it with the next one (so pages are swapped in and dirtied again);
 * the last pass checks every page. Every byte is compared, not only a digest. Alongside, the
 * workload keeps a checksum of the content it wrote in the final generation, computed as it
 * writes, and at the end recomputes it from memory: the two must agree.
 *
 * Page content: the first 1536 bytes are pseudo-random, the rest a slowly varying counter, so
 * a page compresses to roughly 40% (comparable to ordinary anonymous memory, and never a
 * same-filled page that a swap backend could keep as metadata only).
 *
 * Output: one line per pass, then a summary line starting with "WORKLOAD" with key=value pairs
 * (pages, passes, bad_pages, checksum_ok, seconds), which the test script parses. Exit status: 0
 * when every page and the checksum are right, 1 otherwise, 2 on bad arguments or no memory.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

enum { kPageSize = 4096, kWords = kPageSize / 8, kRandomWords = 192 };

static uint64_t Mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t Word(uint64_t seed, uint64_t page, uint64_t gen, unsigned j) {
  if (j < kRandomWords) return Mix(seed ^ Mix(page * 0x100000001b3ULL + gen) ^ j);
  return (page << 32) | (gen << 16) | (j / 16); /* runs of 16 equal words */
}

static void Fill(uint64_t* p, uint64_t seed, uint64_t page, uint64_t gen) {
  for (unsigned j = 0; j < kWords; ++j) p[j] = Word(seed, page, gen, j);
}

/* Returns 1 when the page holds exactly generation `gen`. */
static int Check(const uint64_t* p, uint64_t seed, uint64_t page, uint64_t gen) {
  for (unsigned j = 0; j < kWords; ++j) {
    if (p[j] != Word(seed, page, gen, j)) return 0;
  }
  return 1;
}

/* A page's contribution to the checksum: position-dependent, so swapped pages are caught. */
static uint64_t PageSum(const uint64_t* p, uint64_t page) {
  uint64_t h = Mix(page);
  for (unsigned j = 0; j < kWords; ++j) h = Mix(h ^ p[j]);
  return h;
}

static double Now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int Usage(const char* msg) {
  fprintf(stderr, "swap_workload: %s\nusage: swap_workload --mib N [--passes P>=2] [--seed S]\n",
          msg);
  return 2;
}

int main(int argc, char** argv) {
  uint64_t mib = 0, passes = 3, seed = 1;
  for (int i = 1; i < argc; i += 2) {
    if (i + 1 >= argc) return Usage("every option takes a value");
    char* end;
    const uint64_t v = strtoull(argv[i + 1], &end, 0);
    if (*argv[i + 1] == '\0' || *end != '\0') return Usage("option values are integers");
    if (strcmp(argv[i], "--mib") == 0) {
      mib = v;
    } else if (strcmp(argv[i], "--passes") == 0) {
      passes = v;
    } else if (strcmp(argv[i], "--seed") == 0) {
      seed = v;
    } else {
      return Usage("unknown option");
    }
  }
  if (mib == 0) return Usage("--mib must be given and positive");
  if (passes < 2) return Usage("--passes must be at least 2 (write, then check)");

  const uint64_t pages = mib * 1024 * 1024 / kPageSize;
  unsigned char* mem =
      mmap(NULL, pages * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    perror("swap_workload: mmap");
    return 2;
  }
  /* 4 KiB pages only: a transparent huge page would be swapped (or split) as a whole. */
  madvise(mem, pages * kPageSize, MADV_NOHUGEPAGE);

  const double start = Now();
  uint64_t bad_pages = 0, expected_sum = 0, read_sum = 0;
  for (uint64_t pass = 1; pass <= passes; ++pass) {
    const double pass_start = Now();
    uint64_t bad = 0;
    for (uint64_t i = 0; i < pages; ++i) {
      uint64_t* p = (uint64_t*)(mem + i * kPageSize);
      if (pass > 1 && !Check(p, seed, i, pass - 1)) {
        if (bad < 5) {
          fprintf(stderr,
                  "swap_workload: pass %" PRIu64 ": page %" PRIu64
                  " does not hold generation %" PRIu64 "\n",
                  pass, i, pass - 1);
        }
        ++bad;
      }
      if (pass < passes) {
        Fill(p, seed, i, pass);
        if (pass == passes - 1) expected_sum += PageSum(p, i);
      } else {
        read_sum += PageSum(p, i); /* in the same pass: no extra round of swap-ins */
      }
    }
    bad_pages += bad;
    printf("swap_workload: pass %" PRIu64 "/%" PRIu64 " (%s): %" PRIu64 " bad pages, %.2f s\n",
           pass, passes,
           pass == 1       ? "write"
           : pass < passes ? "check+rewrite"
                           : "check",
           bad, Now() - pass_start);
    fflush(stdout);
  }
  const int checksum_ok = read_sum == expected_sum;
  const double seconds = Now() - start;
  printf("WORKLOAD pages=%" PRIu64 " mib=%" PRIu64 " passes=%" PRIu64 " bad_pages=%" PRIu64
         " checksum=%016" PRIx64 " checksum_ok=%d seconds=%.2f\n",
         pages, mib, passes, bad_pages, read_sum, checksum_ok, seconds);
  return bad_pages == 0 && checksum_ok ? 0 : 1;
}
