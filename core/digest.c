/* digest.c - see digest.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "digest.h"
#include "internal.h"
#include "sha256.h"

static int listed_before(const char *const *files, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (!strcmp(files[j], files[i]))
            return 1;
    return 0;
}

gr_status gr_bundle_digest(const char *dir, const char *const *files, size_t n, char *hex,
                           gr_error *err)
{
    gr_status st = GR_OK;
    gr_sha256_ctx all, one;
    uint8_t d[32];
    gr_sha256_init(&all);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (!*files[i])
            continue;
        char *path = gr_path_join(dir, files[i]);
        if (!path)
            return gr_error_set(err, GR_ENOMEM, dir, 0, NULL, "out of memory");
        if (listed_before(files, i) || (stat(path, &sb) != 0 && errno == ENOENT)) {
            free(path);
            continue;
        }
        gr_sha256_init(&one);
        st = gr_sha256_file(path, &one, err);
        free(path);
        if (st)
            return st;
        gr_sha256_final(&one, d);
        gr_sha256_update(&all, files[i], strlen(files[i]) + 1);
        gr_sha256_update(&all, d, sizeof d);
    }
    gr_sha256_final(&all, d);
    gr_sha256_hex(d, hex);
    return st;
}
