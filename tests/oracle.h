/*
** oracle.h: what a C test does when the oracle it is checked against
** (onnxruntime-node from npm, Debian's libonnx-testdata, the model graph in
** ../shared) cannot run. Outside CI it skips (exit 77), saying why; with
** DI_TEST_REQUIRE_ORACLES=1 (.ci/run sets it) it fails instead, so that a
** CI run cannot go green without having tested. Tests that need a GPU are
** not oracles: they keep skipping without one.
*/
#ifndef DI_TEST_ORACLE_H
#define DI_TEST_ORACLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int oracle_missing(const char *why)
{
    const char *req = getenv("DI_TEST_REQUIRE_ORACLES");
    if (req && !strcmp(req, "1")) {
        printf("FAIL: the oracle cannot run, and DI_TEST_REQUIRE_ORACLES=1: %s\n", why);
        return 1;
    }
    printf("SKIP: %s\n", why);
    return 77;
}

/* Installs onnxruntime-node when missing (tests/nn/ort_setup.sh). 0 when it
** is there; else the reason (the script's last line on stderr) in why. */
static inline int ort_ready(const char *src, char *why, size_t why_size)
{
    char cmd[2048], line[1024] = "";
    snprintf(cmd, sizeof cmd, "bash '%s/tests/nn/ort_setup.sh' 2>&1 >/dev/null", src);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(why, why_size, "onnxruntime-node: cannot run tests/nn/ort_setup.sh");
        return -1;
    }
    char buf[1024];
    while (fgets(buf, sizeof buf, f))
        if (buf[0] != '\n') snprintf(line, sizeof line, "%s", buf);
    int rc = pclose(f);
    if (rc == 0) return 0;
    line[strcspn(line, "\n")] = 0;
    snprintf(why, why_size, "no onnxruntime oracle: %s", *line ? line : "ort_setup.sh failed");
    return -1;
}

#endif
