/*
 * A program that uses an installed tierswap the way a third party would: only the installed
 * header and library. Built twice by tests/consumer/run.cmake, once through
 * find_package(tierswap) and once through pkg-config; stores a page, loads it back, and checks
 * that the installed library reports the version it was packaged with.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <tierswap/tierswap.h>

int main(int argc, char **argv) {
  static unsigned char page[TIERSWAP_PAGE_SIZE];
  static unsigned char out[TIERSWAP_PAGE_SIZE];
  tierswap *ts = NULL;
  int rc;

  if (argc > 1 && strcmp(tierswap_version(), argv[1]) != 0) {
    fprintf(stderr, "consumer: library version is %s, expected %s\n", tierswap_version(), argv[1]);
    return 1;
  }
  rc = tierswap_open(NULL, &ts);
  if (rc != 0) {
    fprintf(stderr, "consumer: tierswap_open failed (%d): %s\n", rc, tierswap_errormsg());
    return 1;
  }
  for (size_t i = 0; i < sizeof(page); ++i) page[i] = (unsigned char)(i * 7 + i / 256);
  if ((rc = tierswap_init(ts, 0, 16)) != 0 || (rc = tierswap_store(ts, 0, 3, page)) != 0 ||
      (rc = tierswap_load(ts, 0, 3, out)) != 0) {
    fprintf(stderr, "consumer: round trip failed (%d): %s\n", rc, tierswap_errormsg());
    tierswap_close(&ts);
    return 1;
  }
  if (memcmp(page, out, sizeof(page)) != 0) {
    fprintf(stderr, "consumer: the loaded page differs from the stored one\n");
    tierswap_close(&ts);
    return 1;
  }
  rc = tierswap_load(ts, 0, 4, out);
  tierswap_close(&ts);
  if (rc != -ENOENT) {
    fprintf(stderr, "consumer: load of an empty slot returned %d, expected %d\n", rc, -ENOENT);
    return 1;
  }
  printf("consumer: tierswap %s works\n", tierswap_version());
  return 0;
}
