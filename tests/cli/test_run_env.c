/*
** test_run_env.c: the variables that carry `run`'s look at the load across
** its exec of itself (src/cli/process.c) end with the process that uses
** them: DEPTHINDEX_RUN_LOADED, the look's outcome, and the GOMP_SPINCOUNT
** that went with it leave the environment once read, and the outcome is
** still known. A `run` started from within (by a test, a worker's script)
** then looks at the load itself; before, it inherited both, took the
** spin count for the user's choice and the parent's look for its own.
**
** This test plays the process that run's exec started (process.c linked
** in, libgomp loaded as in the program): the environment as settle_openmp
** leaves it, with a spin count no look chooses (4242), then the set-up of
** `run`; then it starts `$DEPTHINDEX run` itself, which must print a spin
** of its own choice (DEPTHINDEX_TEST_SHOW_OMP), not 4242.
**
** usage: test_run_env  (with $DEPTHINDEX, the CLI)
*/
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/cli.h"

int main(void)
{
    const char *cli = getenv("DEPTHINDEX");
    if (!cli) {
        fprintf(stderr, "usage: test_run_env (with $DEPTHINDEX)\n");
        return 2;
    }
    /* libgomp loaded, as in depthindex (which links it) */
    CHECK(omp_get_max_threads() >= 1);
    unsetenv("OMP_WAIT_POLICY");
    setenv("GOMP_SPINCOUNT", "4242", 1);
    setenv("DEPTHINDEX_RUN_LOADED", "1", 1);
    char *argv[] = {"depthindex", "run", NULL};
    di_cli_prepare_process(2, argv);
    CHECK(di_cli_run_loaded());
    CHECKF(getenv("DEPTHINDEX_RUN_LOADED") == NULL, "DEPTHINDEX_RUN_LOADED=%s left for children",
           getenv("DEPTHINDEX_RUN_LOADED"));
    CHECKF(getenv("GOMP_SPINCOUNT") == NULL, "GOMP_SPINCOUNT=%s left for children",
           getenv("GOMP_SPINCOUNT"));

    /* a run started from here: its own look, its own spin (10000 on an
    ** idle machine, 100 on a busy one); it stops at the usage error */
    setenv("DEPTHINDEX_TEST_SHOW_OMP", "1", 1);
    char cmd[4096], line[512], shown[512] = "";
    snprintf(cmd, sizeof cmd, "'%s' run --no-such-option 2>&1", cli);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "openmp: run: ", 13) == 0)
            snprintf(shown, sizeof shown, "%s", line);
    if (f)
        pclose(f);
    CHECKF(strcmp(shown, "openmp: run: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=10000\n") == 0 ||
               strcmp(shown, "openmp: run: OMP_WAIT_POLICY=(unset) GOMP_SPINCOUNT=100\n") == 0,
           "a run started from within did not choose its own spin: '%s'", shown);
    return check_summary();
}
