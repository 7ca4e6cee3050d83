/*
** modules.c: loading the MariaDB and PostgreSQL backends, which are built
** as modules (see store_internal.h) and dlopen()ed on the first open of a
** URL of their scheme.
**
** Where a module is looked for, first found wins:
**  1. $DEPTHINDEX_MODULE_DIR, when set (then only there);
**  2. the executable's own folder (the build tree, where depthindex and the
**     modules are built side by side, or a copied bundle);
**  3. the installed module folder relative to the executable's folder
**     (PREFIX/bin -> PREFIX/LIBDIR/depthindex), so that a moved installation
**     still finds its modules;
**  4. the build tree's root when the executable runs from inside the build
**     tree (the test programs live in subfolders of it);
**  5. the installed module folder as configured.
** A module of another version, or built against another layout of the
** store, is refused and the search goes on.
*/
#include "store_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if DI_HAVE_MARIADB || DI_HAVE_POSTGRESQL

typedef struct backend_module {
    const char *file;
    pthread_once_t once;
    const di_store_ops *ops; /* NULL when the module did not load */
    char why[1024];
} backend_module;

static backend_module modules[2] = {
    {.file = "depthindex-mariadb.so", .once = PTHREAD_ONCE_INIT},
    {.file = "depthindex-postgresql.so", .once = PTHREAD_ONCE_INIT},
};

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

/* Loads dir/file; NULL with the reason appended to why. */
static const di_store_ops *try_load(const char *dir, const char *file, char *why,
                                    size_t why_size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
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
    const di_store_module *(*entry)(void);
    *(void **)&entry = dlsym(h, DI_STORE_MODULE_ENTRY);
    const di_store_module *m = entry ? entry() : NULL;
    if (!m || m->abi != DI_STORE_MODULE_ABI || m->store_size != sizeof(di_store) ||
        strcmp(m->version, DI_VERSION_STRING) != 0 || !m->ops) {
        snprintf(why + used, why_size - used, "%s%s: not a store module of this depthindex %s",
                 used ? "; " : "", path, DI_VERSION_STRING);
        dlclose(h);
        return NULL;
    }
    return m->ops; /* stays loaded until exit */
}

static void load(backend_module *b)
{
    const di_store_ops *ops = NULL;
    const char *env = getenv("DEPTHINDEX_MODULE_DIR");
    if (env && *env) {
        ops = try_load(env, b->file, b->why, sizeof b->why);
    } else {
        char dir[4096], rel[4096 + 64];
        bool have_exe = exe_dir(dir, sizeof dir);
        if (have_exe)
            ops = try_load(dir, b->file, b->why, sizeof b->why);
        if (!ops && have_exe) {
            snprintf(rel, sizeof rel, "%s/%s", dir, DI_MODULE_DIR_FROM_BINDIR);
            ops = try_load(rel, b->file, b->why, sizeof b->why);
        }
        size_t root = strlen(DI_BUILD_ROOT);
        if (!ops && have_exe && strncmp(dir, DI_BUILD_ROOT, root) == 0 && dir[root] == '/')
            ops = try_load(DI_BUILD_ROOT, b->file, b->why, sizeof b->why);
        if (!ops)
            ops = try_load(DI_MODULE_DIR_INSTALLED, b->file, b->why, sizeof b->why);
    }
    b->ops = ops;
}

static void load_mariadb(void)
{
    load(&modules[0]);
}

static void load_postgresql(void)
{
    load(&modules[1]);
}
#endif

int di_store_module_ops(int kind, const di_store_ops **ops, di_error *err)
{
    const char *name = kind == DI_MARIADB ? "mariadb" : "postgresql";
    *ops = NULL;
    bool built = kind == DI_MARIADB ? DI_HAVE_MARIADB : DI_HAVE_POSTGRESQL;
    if (!built)
        return di_fail(err, DI_EUNSUPPORTED, "this build has no %s backend (built: %s)", name,
                       di_store_backends_built());
#if DI_HAVE_MARIADB || DI_HAVE_POSTGRESQL
    backend_module *b = &modules[kind == DI_MARIADB ? 0 : 1];
    pthread_once(&b->once, kind == DI_MARIADB ? load_mariadb : load_postgresql);
    if (!b->ops)
        return di_fail(err, DI_EUNSUPPORTED, "the %s backend module cannot be loaded (%s)",
                       name, b->why);
    *ops = b->ops;
#endif
    return DI_OK;
}
