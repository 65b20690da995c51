/* process.h - what genoriskd and the genorisk CLI do to their own process
 * before they read a model, a token or a genotype. */
#ifndef GR_PROCESS_H
#define GR_PROCESS_H

#include <stddef.h>

/* No core dump of this process, whatever the environment allows: the core
 * file size limit goes to 0, soft and hard (so no child or later code can
 * raise it), and the process is made non-dumpable (PR_SET_DUMPABLE 0),
 * which also stops a core piped to a handler (core_pattern "|...", where the
 * limit does not apply) and keeps other processes of the same user from
 * reading its memory through /proc or ptrace. Returns 0, or -1 with why
 * filled. */
int gr_process_no_core_dumps(char *why, size_t why_size);

#endif
