/*
** module.c: finding and loading depthindex's own loadable modules (the
** MariaDB and PostgreSQL store backends, the CUDA engine backend), one way
** for all of them, so that a build tree, an installation and a moved or
** copied one find every module alike.
*/
#include "module.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "di_config.h"

/* The executable's folder (no trailing slash) into dir; false if unknown. */
static bool exe_dir(char *dir, size_t size)
{
    ssize_t n = readlink("/proc/self/exe", dir, size - 1);
    if (n <= 0)
        return false;
    dir[n] = 0;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = 0;
    return true;
}

const void *di_module_load_path(const char *path, const char *what, di_module_accept accept,
                                char *why, size_t why_size)
{
    size_t used = strlen(why);
    if (access(path, F_OK) != 0) {
        snprintf(why + used, why_size - used, "%s%s: not there", used ? "; " : "", path);
        return NULL;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why + used, why_size - used, "%s%s", used ? "; " : "", dlerror());
        return NULL;
    }
    const void *table = accept(h);
    if (!table) {
        snprintf(why + used, why_size - used, "%s%s: not %s of this depthindex %s",
                 used ? "; " : "", path, what, DI_VERSION_STRING);
        dlclose(h);
        return NULL;
    }
    return table; /* stays loaded until exit */
}

static const void *try_dir(const char *dir, const char *file, const char *what,
                           di_module_accept accept, char *why, size_t why_size)
{
    char path[4096 + 256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return di_module_load_path(path, what, accept, why, why_size);
}

const void *di_module_load(const char *file, const char *what, di_module_accept accept,
                           char *why, size_t why_size)
{
    why[0] = 0;
    const char *env = getenv("DEPTHINDEX_MODULE_DIR");
    if (env && *env)
        return try_dir(env, file, what, accept, why, why_size);
    const void *t = NULL;
    char dir[4096], rel[4096 + 64];
    bool have_exe = exe_dir(dir, sizeof dir);
    if (have_exe)
        t = try_dir(dir, file, what, accept, why, why_size);
    if (!t && have_exe) {
        snprintf(rel, sizeof rel, "%s/%s", dir, DI_MODULE_DIR_FROM_BINDIR);
        t = try_dir(rel, file, what, accept, why, why_size);
    }
    /* the test programs run from subfolders of the build tree */
    size_t root = strlen(DI_BUILD_ROOT);
    if (!t && have_exe && strncmp(dir, DI_BUILD_ROOT, root) == 0 && dir[root] == '/')
        t = try_dir(DI_BUILD_ROOT, file, what, accept, why, why_size);
    if (!t)
        t = try_dir(DI_MODULE_DIR_INSTALLED, file, what, accept, why, why_size);
    return t;
}
