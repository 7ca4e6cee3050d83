/*
** store_url.h: the database a store test runs on, by the backend its
** command line names: sqlite, a file of its own in the build tree
** (DEPTHINDEX_BUILD_ROOT, else /tmp) named after the test and the process;
** mariadb or postgresql, the private server's database that
** tests/db/with-server.sh passes in DI_TEST_URL.
*/
#ifndef DI_TEST_STORE_URL_H
#define DI_TEST_STORE_URL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The URL (path holds the SQLite one), or NULL after saying that the test
** was not run through with-server.sh: the test then skips (exit 77). */
static inline const char *store_test_url(const char *kind, const char *name, char *path,
                                         size_t size)
{
    if (strcmp(kind, "sqlite") == 0) {
        const char *root = getenv("DEPTHINDEX_BUILD_ROOT");
        snprintf(path, size, "sqlite:%s/%s-%d.db", root ? root : "/tmp", name, (int)getpid());
        return path;
    }
    const char *url = getenv("DI_TEST_URL");
    if (!url)
        printf("DI_TEST_URL not set (run through tests/db/with-server.sh)\n");
    return url;
}

#endif
