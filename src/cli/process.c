/*
** process.c: what the process itself needs before a subcommand runs.
**
** OpenMP wait policy. oneDNN runs on libgomp, whose worker threads spin at
** every barrier by default. `depthindex run` shares the cores between the
** engine and the decode and post-processing threads, and there spinning
** workers steal the very cores the others need: measured on 2 cores, 2 engine
** threads fell from about 50 ms to 530-650 ms per image under load, against
** about 170 ms with OMP_WAIT_POLICY=passive (bench/RESULTS.md). libgomp reads
** the variable once, when it is loaded, before main() runs; so when the user
** has set neither it nor GOMP_SPINCOUNT, the engine's subcommands set it and
** execute themselves again, once. A user who prefers spinning sets
** OMP_WAIT_POLICY=active.
**
** Passwords on the command line. A database URL may carry a password
** (mysql://user:secret@host/db). The process keeps a private copy and
** overwrites the password in the original argument with '*', so that ps and
** /proc/PID/cmdline do not show it. (Better still: DEPTHINDEX_DB_PASSWORD or
** --password-file.)
*/
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool uses_engine(const char *subcommand)
{
    return strcmp(subcommand, "run") == 0 || strcmp(subcommand, "infer") == 0;
}

static void settle_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* Still here: exec failed (no /proc?). Going on with the default policy
    ** only costs speed under load. */
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
    if (argc > 1 && uses_engine(argv[1]))
        settle_openmp(argv);
    hide_passwords(argc, argv);
}
