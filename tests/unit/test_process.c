/* test_process.c - the process hardening genoriskd and the CLI apply before
 * they read anything: no core dump, by limit and by the dumpable flag. */
#include <criterion/criterion.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "server/process.h"

Test(process, core_dumps_are_off_by_limit_and_flag)
{
    /* as permissive as this process may be first */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_CORE, &rl), 0);
    cr_assert_eq(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    char why[200] = "";
    cr_assert_eq(gr_process_no_core_dumps(why, sizeof why), 0, "%s", why);
    cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
    cr_assert_eq(rl.rlim_cur, 0);
    cr_assert_eq(rl.rlim_max, 0, "the hard limit still allows a core: %llu",
                 (unsigned long long)rl.rlim_max);
    cr_assert_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}
