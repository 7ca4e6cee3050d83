/*
** process.c: what the process itself needs before a subcommand runs.
**
** OpenMP wait policy. oneDNN runs on libgomp, whose idle worker threads
** spin before they sleep: by default for GOMP_SPINCOUNT = 300,000 pause
** instructions (milliseconds), with OMP_WAIT_POLICY=active for ever, with
** passive not at all. `depthindex run` on the CPU shares the cores between the
** engine and the decode and post-processing threads, and long spinning
** steals the very cores those need (measured on 2 cores: 2 engine threads fell
** from about 50 ms to 530-650 ms per image under load with the default,
** against about 170 ms with passive, bench/RESULTS.md). But passive costs
** about 20 % on an idle machine: every parallel region then wakes its
** workers through the kernel. So `run` gets a bounded spin,
** GOMP_SPINCOUNT=RUN_SPINCOUNT: long enough to bridge the gaps between the
** parallel regions of one image, short enough that a worker whose partner is
** descheduled, or an engine waiting for the next batch, gives its core back
** within a fraction of a millisecond (bench/run-threads.sh measures the
** policies, idle and under load; the README has the figures). `infer` runs
** the engine alone, so it keeps libgomp's default and is not slowed by
** `run`'s choice. Under load (other processes keep a quarter of the cores
** busy when `run` starts) `run` spins only 100 pauses: see
** RUN_SPINCOUNT_LOADED (the same look keeps run's decoders and workers
** from waiting for the engine's gaps, src/cli/run_options.c). libgomp reads the
** variables once, when it is
** loaded, before main() runs; so when the user has set neither OMP_WAIT_POLICY nor
** GOMP_SPINCOUNT, `run` sets GOMP_SPINCOUNT and executes itself again, once.
** A user's own setting is always kept. libgomp honours GOMP_SPINCOUNT only
** while it counts no more OpenMP threads than cores (else it spins 100
** pauses, about passive): so the pipeline sets the engine up on a thread
** that ends, and no pool stays on the main thread (src/pipeline/setup.c).
**
** DEPTHINDEX_TEST_SHOW_OMP=1 prints the policy the subcommand runs with on
** stderr (for the tests: `infer` finishes too fast to be looked at in
** /proc).
**
** Passwords on the command line. A database URL may carry a password
** (mysql://user:secret@host/db). The process keeps a private copy and
** overwrites the password in the original argument with '*', so that ps and
** /proc/PID/cmdline do not show it. (Better still: DEPTHINDEX_DB_PASSWORD or
** --password-file.)
*/
#include "cli.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libgomp spin count for `run` (pause instructions; libgomp's default is
** 300000) on a machine that is otherwise idle, and on one that other
** processes keep busy: there a spinning engine thread only burns the share
** of a core that its partner, descheduled, needs to reach the barrier
** (measured on 2 cores under a load of about 18: 2.5 to 4 times slower than
** 100 pauses), so it is libgomp's own throttled count, close to passive. */
#define RUN_SPINCOUNT "10000"
#define RUN_SPINCOUNT_LOADED "100"
/* the share of the cores other processes must keep busy to count as load */
#define RUN_LOADED_SHARE 0.25
/* carries that look's outcome across run's exec of itself */
#define RUN_LOADED_ENV "DEPTHINDEX_RUN_LOADED"

/* The first line of /proc/stat: busy and total jiffies of all cores. */
static bool cpu_jiffies(unsigned long long *busy, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 4)
        return false;
    /* user nice system idle iowait irq softirq steal: a hypervisor's steal
    ** is a core this process does not get either */
    *busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    *total = *busy + v[3] + v[4];
    return true;
}

/* Whether other processes keep at least RUN_LOADED_SHARE of the cores busy,
** from a 0.1 s look at /proc/stat before anything of this run starts (so
** that all of it is theirs). The load average would not do: it trails a
** minute behind and counts waiting, not running. False when unknown. */
static bool machine_loaded(void)
{
    unsigned long long b0, t0, b1, t1;
    if (!cpu_jiffies(&b0, &t0))
        return false;
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    if (!cpu_jiffies(&b1, &t1) || t1 <= t0)
        return false;
    return (double)(b1 - b0) / (double)(t1 - t0) >= RUN_LOADED_SHARE;
}

static void settle_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    bool loaded = machine_loaded();
    const char *spin = loaded ? RUN_SPINCOUNT_LOADED : RUN_SPINCOUNT;
    if (setenv("GOMP_SPINCOUNT", spin, 1) != 0)
        return;
    /* the look's outcome for the run itself (di_cli_run_loaded), across
    ** the exec */
    setenv(RUN_LOADED_ENV, loaded ? "1" : "0", 1);
    /* By the executable's own path where it still exists: a process started
    ** from "/proc/self/exe" is named "exe" (ps, top, pgrep depthindex would
    ** not find the run); the link itself is the fallback (a binary replaced
    ** or deleted since the start reads "PATH (deleted)"). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        execv(self, argv);
    }
    execv("/proc/self/exe", argv);
    /* Still here: exec failed (no /proc?). Going on with the default policy
    ** only costs speed under load. */
    unsetenv("GOMP_SPINCOUNT");
}

/* The look's outcome in the process that run's exec started (keep_look). */
static bool run_loaded;

/* In the process that run's exec started: keeps the look's outcome and
** takes it, and the spin count that settle_openmp set with it, out of the
** environment. Every process this one starts inherits its environment, and
** so does anything those start later: a `run` started from within (by a
** test, a worker's script) would take this process's look, made once at
** its start, for its own, and its GOMP_SPINCOUNT for the user's choice,
** and never look at the load itself. libgomp has read GOMP_SPINCOUNT when
** it was loaded, before main(); it is unset only where libgomp is indeed
** loaded already (it is linked to the program; were it ever loaded later,
** with a library opened on first use, it would still find the count). */
static void keep_look(void)
{
    const char *v = getenv(RUN_LOADED_ENV);
    if (!v)
        return;
    run_loaded = strcmp(v, "1") == 0;
    unsetenv(RUN_LOADED_ENV);
    void *gomp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (gomp) {
        dlclose(gomp);
        unsetenv("GOMP_SPINCOUNT");
    }
}

bool di_cli_run_loaded(void)
{
    return run_loaded;
}

static void show_openmp(const char *subcommand)
{
    const char *show = getenv("DEPTHINDEX_TEST_SHOW_OMP");
    if (!show || strcmp(show, "1") != 0)
        return;
    const char *policy = getenv("OMP_WAIT_POLICY");
    const char *spin = getenv("GOMP_SPINCOUNT");
    fprintf(stderr, "openmp: %s: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
            subcommand, policy ? policy : "(unset)", spin ? spin : "(unset)");
}

/* The password bytes of a URL "scheme://user:password@host...", if any. */
static bool find_password(const char *url, size_t *start, size_t *len)
{
    const char *auth = strstr(url, "://");
    if (!auth)
        return false;
    auth += 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            at = auth + i; /* the last '@' ends the user information */
    if (!at)
        return false;
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon || colon + 1 == at)
        return false;
    *start = (size_t)(colon + 1 - url);
    *len = (size_t)(at - colon - 1);
    return true;
}

static void hide_passwords(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t start, len;
        if (!find_password(argv[i], &start, &len))
            continue;
        char *copy = strdup(argv[i]);
        if (!copy)
            continue;
        memset(argv[i] + start, '*', len);
        argv[i] = copy; /* freed at exit: it lives as long as the process */
    }
}

void di_cli_prepare_process(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        settle_openmp(argv);
    if (argc > 1)
        show_openmp(argv[1]);
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        keep_look(); /* after show_openmp, which prints the spin run took */
    hide_passwords(argc, argv);
}

volatile sig_atomic_t di_cli_stop_signal;

static void on_stop_signal(int sig)
{
    di_cli_stop_signal = sig;
}

void di_cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}
