/*
 * The C ABI from plain C11: proves that tierswap/tierswap.h compiles as C on its own and that
 * libtierswap.so links and works without a C++ client. Exercises the whole lifecycle and a few
 * error codes; prints every failed check and exits non-zero if any failed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <tierswap/tierswap.h>

static int passed;
static int failed;

#define CHECK(cond)                                                                             \
  do {                                                                                          \
    if (cond) {                                                                                 \
      ++passed;                                                                                 \
    } else {                                                                                    \
      ++failed;                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s (message: \"%s\")\n", __FILE__, __LINE__, #cond, \
              tierswap_errormsg());                                                             \
    }                                                                                           \
  } while (0)

/* A page of pseudo-random bytes, distinct per seed, never same-filled. */
static void fill_page(unsigned char *page, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < TIERSWAP_PAGE_SIZE; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    page[i] = (unsigned char)(x >> 24);
  }
}

int main(void) {
  static unsigned char page[TIERSWAP_PAGE_SIZE];
  static unsigned char out[TIERSWAP_PAGE_SIZE];
  static unsigned char expect[TIERSWAP_PAGE_SIZE];
  tierswap *ts = NULL;
  int n;

  CHECK(tierswap_version() != NULL && strchr(tierswap_version(), '.') != NULL);

  CHECK(tierswap_open(NULL, &ts) == 0);
  if (ts == NULL) {
    fprintf(stderr, "tierswap_open failed: %s\n", tierswap_errormsg());
    return 1;
  }
  CHECK(strcmp(tierswap_errormsg(), "") == 0);

  /* Round trip of several pages. */
  CHECK(tierswap_init(ts, 0, 1024) == 0);
  for (uint64_t off = 0; off < 32; ++off) {
    fill_page(page, off);
    CHECK(tierswap_store(ts, 0, off, page) == 0);
  }
  for (uint64_t off = 0; off < 32; ++off) {
    fill_page(expect, off);
    memset(out, 0, sizeof(out));
    CHECK(tierswap_load(ts, 0, off, out) == 0);
    CHECK(memcmp(out, expect, sizeof(out)) == 0);
  }

  /* invalidate_page: the slot misses afterwards and the buffer stays untouched. */
  tierswap_invalidate_page(ts, 0, 5);
  memset(out, 0x77, sizeof(out));
  CHECK(tierswap_load(ts, 0, 5, out) == -ENOENT);
  CHECK(out[0] == 0x77 && out[TIERSWAP_PAGE_SIZE - 1] == 0x77);
  CHECK(strstr(tierswap_errormsg(), "offset 5") != NULL);

  /* Errors. */
  CHECK(tierswap_store(NULL, 0, 0, page) == -EINVAL);
  CHECK(strstr(tierswap_errormsg(), "ts is NULL") != NULL);
  CHECK(tierswap_store(ts, 0, 0, NULL) == -EINVAL);
  CHECK(strstr(tierswap_errormsg(), "page is NULL") != NULL);
  CHECK(tierswap_store(ts, TIERSWAP_MAX_TYPES, 0, page) == -EINVAL);
  CHECK(strstr(tierswap_errormsg(), "type 32") != NULL);
  CHECK(tierswap_store(ts, 0, 1024, page) == -EINVAL);
  CHECK(strstr(tierswap_errormsg(), "offset 1024") != NULL);
  CHECK(tierswap_store(ts, 1, 0, page) == -ENODEV);
  CHECK(strstr(tierswap_errormsg(), "type 1") != NULL);

  /* A successful call clears the message. */
  CHECK(tierswap_store(ts, 0, 0, page) == 0);
  CHECK(strcmp(tierswap_errormsg(), "") == 0);

  /* invalidate_area: the type must be initialised again. */
  tierswap_invalidate_area(ts, 0);
  CHECK(tierswap_store(ts, 0, 0, page) == -ENODEV);
  CHECK(tierswap_init(ts, 0, 0) == 0);
  CHECK(tierswap_load(ts, 0, 0, out) == -ENOENT);

  /* stats_json, snprintf-style. */
  n = tierswap_stats_json(ts, NULL, 0);
  CHECK(n > 0);
  {
    char small[8];
    memset(small, '#', sizeof(small));
    CHECK(tierswap_stats_json(ts, small, 4) == n);
    CHECK(small[0] == '{' && small[3] == '\0' && small[4] == '#');
  }
  {
    char buf[8192];
    CHECK(n < (int)sizeof(buf));
    CHECK(tierswap_stats_json(ts, buf, sizeof(buf)) == n);
    CHECK((int)strlen(buf) == n);
    CHECK(strstr(buf, "\"succ_stores\":") != NULL);
    CHECK(strstr(buf, "\"failed_stores\":") != NULL);
  }
  CHECK(tierswap_stats_json(ts, NULL, 1) == -EINVAL);

  tierswap_close(&ts);
  CHECK(ts == NULL);
  tierswap_close(&ts);
  CHECK(ts == NULL);
  tierswap_close(NULL);

  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
