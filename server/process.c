/* process.c - see process.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "server/process.h"

int gr_process_no_core_dumps(char *why, size_t why_size)
{
    struct rlimit none = { 0, 0 };
    if (setrlimit(RLIMIT_CORE, &none)) {
        snprintf(why, why_size, "cannot turn core dumps off (RLIMIT_CORE): %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
        snprintf(why, why_size, "cannot turn core dumps off (PR_SET_DUMPABLE): %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}
