/* common.h - what the libFuzzer harnesses of tests/fuzz/ share: paths into
 * the repository, in-memory files, temporary model bundles whose files are
 * links to in-memory files, and a model work-out with invariant checks.
 *
 * Harnesses never print; a broken invariant is reported by gr_fuzz_fail,
 * which aborts so that libFuzzer (or the replay driver) records a crash. */
#ifndef GR_FUZZ_COMMON_H
#define GR_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "core/model.h"

/* The harness entry points (libFuzzer's names). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes why on stderr and aborts: an invariant does not hold. */
_Noreturn void gr_fuzz_fail(const char *why);

/* Silences htslib; called once by every harness. */
void gr_fuzz_quiet(void);

/* The repository path rel (e.g. "models/cad-pgs-demo") as a static string
 * (GR_FUZZ_ROOT, set by mk/fuzz.mk, is the repository root). */
const char *gr_fuzz_path(const char *rel);

/* Loads the bundle at repository path rel; fails the harness if it does not load. */
gr_model *gr_fuzz_model(const char *rel);

/* A new in-memory file (memfd); fails the harness when none can be made. */
int gr_fuzz_memfd(const char *name);
/* Replaces the whole content of memfd fd with data. */
void gr_fuzz_memfd_set(int fd, const void *data, size_t size);

/* A new temporary directory (under $TMPDIR, else /tmp) that is removed with
 * everything put in it by the functions below when the process exits. */
const char *gr_fuzz_tmpdir(void);
/* A new directory name inside dir (one of gr_fuzz_tmpdir's), removed with it. */
const char *gr_fuzz_subdir(const char *dir, const char *name);
/* Puts a file name into dir with the given bytes. */
void gr_fuzz_put(const char *dir, const char *name, const void *data, size_t size);
/* Puts a copy of repository file rel into dir under name. */
void gr_fuzz_put_copy(const char *dir, const char *name, const char *rel);
/* Makes dir/name a link to memfd fd, so opening it reads what fd holds. */
void gr_fuzz_put_link(const char *dir, const char *name, int fd);

/* A temporary bundle directory: manifest.json for format, task and
 * genome build; the artifact, named artifact, a link to memfd artifact_fd;
 * features.tsv a link to memfd features_fd when that is >= 0, else a copy of
 * repository file features_rel, else absent. Returns the directory. */
const char *gr_fuzz_bundle(const char *format, const char *task, const char *build,
                           const char *artifact, int artifact_fd, const char *features_rel,
                           int features_fd);

/* Loads the bundle in dir and, when it loads, works and frees the model.
 * GR_ENOMEM fails the harness: inputs are small, so it would stand for
 * another problem (jansson, for one, says NULL for invalid UTF-8 too). */
void gr_fuzz_try_load(const char *dir);

/* The body of the model.json loader harnesses: data is the model.json of a
 * bundle of this format whose manifest and features.tsv (repository path)
 * are fixed, loaded once as a classifier and once as a regressor (links and
 * objectives need one or the other). Sets itself up on the first call, so
 * the replay driver, which skips LLVMFuzzerInitialize, works too. */
int gr_fuzz_model_json(const char *format, const char *features_rel, const uint8_t *data,
                       size_t size);

/* Works a loaded model: predictions on a few fixed dosage vectors with
 * attributions, feature lookups, the model's JSON description. Fails the
 * harness when a valid input is refused, when a score is not finite, when a
 * feature id does not name its own feature, when SHAP values do not add up,
 * or when the API cannot render the result. */
void gr_fuzz_exercise_model(const gr_model *m);

#endif
