/* modelset.h - every bundle of a models directory, loaded together and
 * shared by reference count, so a reload can swap in a new set while
 * requests in flight finish on the one they started with. */
#ifndef GR_MODELSET_H
#define GR_MODELSET_H

#include "model.h"

typedef struct gr_modelset gr_modelset;

/* Loads every immediate subdirectory of dir that holds a manifest.json.
 * On success *out is new with a reference count of 1 (drop it with
 * gr_modelset_release). Fails on the first bundle that does not load, on two
 * bundles with the same name, or on a directory with no bundle at all; err
 * names the bundle. */
gr_status gr_modelset_load(const char *dir, gr_modelset **out, gr_error *err);

/* Called once for each bundle that does not load; err is borrowed for the
 * call. */
typedef void (*gr_modelset_report)(void *arg, const gr_error *err);

/* As gr_modelset_load, but goes on past a bundle that does not load, so
 * every broken bundle is reported (to report, which may be NULL) before it
 * fails; err gets the first problem and how many bundles had one. Running
 * out of memory stops at once. */
gr_status gr_modelset_load_each(const char *dir, gr_modelset_report report, void *arg,
                                gr_modelset **out, gr_error *err);

/* Reference counting; both are thread-safe. release(NULL) is a no-op. */
gr_modelset *gr_modelset_retain(gr_modelset *s);
void gr_modelset_release(gr_modelset *s);

size_t gr_modelset_count(const gr_modelset *s);
/* Borrowed model i, in name order. */
const gr_model *gr_modelset_at(const gr_modelset *s, size_t i);
/* Borrowed model with that name, or NULL. */
const gr_model *gr_modelset_find(const gr_modelset *s, const char *name);

#endif
