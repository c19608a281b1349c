/*
 * tierswap: a frontswap-compatible far-memory backend. Public C ABI.
 *
 * A guest (or kernel module, or host-side swap device) that is about to write a cold 4 KiB page
 * to swap first offers it to tierswap. tierswap either accepts it, and then returns exactly those
 * bytes on load, or rejects it, and the page goes to the swap device instead.
 *
 * Conventions:
 *  1. Every function that can fail returns 0 or a negative errno:
 *       -ENOSPC  a store was rejected: no tier has room (write the page to the swap device)
 *       -ENOENT  a load missed: the slot holds no page
 *       -EINVAL  a bad argument: NULL handle or buffer, type >= 32, offset >= nr_pages
 *       -ENODEV  the type was not initialised (or its area was invalidated since)
 *       -EIO     a tier failed to return a page it holds, or the page failed its checksum
 *                (a tier with `checksum = true`); the page stays held, and is counted
 *       -ENOMEM  memory for bookkeeping could not be obtained
 *  2. Every failure also sets a message for the calling thread, a sentence that names the
 *     problem, returned by tierswap_errormsg(). Each call clears it on entry. The pointer stays
 *     valid until this thread's next tierswap call.
 *  3. A page is always 4096 bytes. `type` is a swap area (0..31, frontswap's MAX_SWAPFILES);
 *     `offset` is the slot within it.
 *  4. Ownership: tierswap_open creates a handle, tierswap_close destroys it and sets the
 *     caller's pointer to NULL (safe to call twice, and on NULL). Pages are copied in and out:
 *     tierswap never keeps a pointer to a caller's buffer.
 *  5. Thread-safety: every function may be called concurrently from any thread on the same
 *     handle, except tierswap_close, which must be the handle's last call.
 *  6. The store/load contract (Documentation/vm/frontswap.rst):
 *       - after a successful store(t, o), load(t, o) returns identical bytes until
 *         invalidate_page(t, o), invalidate_area(t) or the next store to (t, o);
 *       - a store to an occupied slot either succeeds and replaces the page, or fails AND the
 *         old page is dropped: stale data is never returned;
 *       - a load that misses (-ENOENT) leaves the caller's buffer untouched; after -EIO (a tier
 *         could not return the page, or its checksum did not match) the buffer is zeroed: it
 *         never holds bytes that might pass for the page.
 *  7. No C++ exception ever crosses this interface.
 */
#ifndef TIERSWAP_TIERSWAP_H_
#define TIERSWAP_TIERSWAP_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TIERSWAP_PAGE_SIZE 4096
#define TIERSWAP_MAX_TYPES 32

/* The handle. C code may spell it `tierswap_t` or, as it always could, `tierswap`. In C++,
 * `tierswap` names the library's namespace, so C++ code spells the handle `tierswap_t`. (Only a
 * pointer to it crosses the interface, and C linkage does not encode parameter types: both
 * spellings are the same ABI.) */
#ifdef __cplusplus
typedef struct tierswap_t_ tierswap_t;
#else
typedef struct tierswap tierswap_t;
typedef struct tierswap tierswap;
#endif

/* Opens a backend from a TOML config file (docs/config.md); NULL: the built-in default config
 * (one DRAM tier of 256 MiB). On success *out is the new handle. The config's [stats] table and
 * $TIERSWAP_STATS_FILE / $TIERSWAP_STATS_INTERVAL start the statistics listener and dump file;
 * if either cannot start (a non-loopback address without allow_remote, a port in use, a file
 * that cannot be opened), the open fails with the reason. */
int tierswap_open(const char *config_path, tierswap_t **out);

/* Closes *ts and sets *ts = NULL. NULL-safe: does nothing for ts == NULL or *ts == NULL. */
void tierswap_close(tierswap_t **ts);

/* The calling thread's message for its last failed call; "" when the last call succeeded. */
const char *tierswap_errormsg(void);

/* Prepares swap type `type` for stores, with `nr_pages` slots (0 = unknown). Re-initialising a
 * type drops the pages it held. */
int tierswap_init(tierswap_t *ts, unsigned type, uint64_t nr_pages);

/* Offers a copy of `page` (4096 bytes) for slot (type, offset). 0: accepted. -ENOSPC: rejected;
 * any page the slot held is dropped. The buffer may be reused as soon as this returns. */
int tierswap_store(tierswap_t *ts, unsigned type, uint64_t offset, const void *page);

/* Copies the page of (type, offset) into `page` (4096 bytes). 0: copied. -ENOENT: not held,
 * `page` untouched. With exclusive loads configured, a successful load also drops the page. */
int tierswap_load(tierswap_t *ts, unsigned type, uint64_t offset, void *page);

/* Drops the page of (type, offset); a no-op when none is held. Never sleeps. */
void tierswap_invalidate_page(tierswap_t *ts, unsigned type, uint64_t offset);

/* Drops every page of `type`; the type must be initialised again before it accepts stores. */
void tierswap_invalidate_area(tierswap_t *ts, unsigned type);

/* Writes the statistics as one JSON object (docs/stats.md) into buf, like snprintf: returns the
 * length the whole object needs (excluding the terminating NUL), and writes at most len bytes,
 * NUL-terminated when len > 0. buf may be NULL when len is 0. < 0 on error. */
int tierswap_stats_json(tierswap_t *ts, char *buf, size_t len);

/* The same statistics in the Prometheus text exposition format, version 0.0.4 (docs/stats.md,
 * "Exports"), with tierswap_stats_json's snprintf semantics. A backend opened with [stats] listen
 * also serves them over HTTP at /metrics. */
int tierswap_stats_prometheus(tierswap_t *ts, char *buf, size_t len);

/* ---- Dynamic capacity and availability (control calls; they may take a while) ---------- */

/* Writes a page that no tier can hold any more to the guest's swap device: called during
 * tierswap_set_tier_capacity and tierswap_tier_offline, on the caller's thread, without any
 * tierswap lock held. Returns 0 when the page was written (tierswap then drops its copy, unless
 * the slot was stored again meanwhile), anything else to keep the page. */
typedef int (*tierswap_writeback_fn)(void *ctx, unsigned type, uint64_t offset, const void *page);

/* Lets tier `tier` hold at most `bytes` (up to its configured capacity) and moves pages off it
 * until it does: to other tiers, else to the writeback callback. Returns 0 when the tier is
 * within its new capacity; a positive count of pages that could not be moved (no room anywhere
 * and no callback; they stay until invalidated; see tierswap_errormsg()); or a negative errno
 * (-ENOENT no such tier, -EINVAL bytes above the configured capacity). */
int tierswap_set_tier_capacity(tierswap_t *ts, const char *tier, uint64_t bytes);

/* Stops placing pages on `tier` and drains it like tierswap_set_tier_capacity(ts, tier, 0).
 * Pages still on it keep loading. Same returns. */
int tierswap_tier_offline(tierswap_t *ts, const char *tier);

/* Places pages on `tier` again, up to its configured capacity. */
int tierswap_tier_online(tierswap_t *ts, const char *tier);

/* Sets (or, with fn == NULL, removes) the writeback callback. */
int tierswap_set_writeback(tierswap_t *ts, tierswap_writeback_fn fn, void *ctx);

/* While frozen, every store is rejected with -ENOSPC (and the slot's old page is dropped, as for
 * any rejected store); loads and invalidations work as usual. */
int tierswap_freeze(tierswap_t *ts, bool frozen);

/* The library's version, "MAJOR.MINOR.PATCH". */
const char *tierswap_version(void);

/* ---- Plugin face for a guest module ------------------------------------------------------- */

/* Mirrors Linux's final struct frontswap_ops (6.5). */
struct tierswap_frontswap_ops {
  void (*init)(unsigned type);
  int (*store)(unsigned type, unsigned long offset, const void *page);
  int (*load)(unsigned type, unsigned long offset, void *page, bool *exclusive);
  void (*invalidate_page)(unsigned type, unsigned long offset);
  void (*invalidate_area)(unsigned type);
};

/* The operations table, backed by one process-wide backend opened on first use from the TOML
 * file named by $TIERSWAP_CONFIG, or the default config when it is unset or empty. If that open
 * fails, init does nothing and store/load return -ENODEV with the reason in
 * tierswap_errormsg(). load sets *exclusive to true when the backend dropped its copy. */
const struct tierswap_frontswap_ops *tierswap_frontswap_ops(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TIERSWAP_TIERSWAP_H_ */
