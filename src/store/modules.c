/*
** modules.c: loading the MariaDB and PostgreSQL backends, which are built
** as modules (see store_internal.h) and dlopen()ed on the first open of a
** URL of their scheme, from where src/core/module.h says (the executable's
** folder first). A module of another version, or built against another
** layout of the store, is refused and the search goes on.
*/
#include "store_internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "core/module.h"

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

/* A store module of this depthindex and this layout of the store, or NULL. */
static const void *accept_store(void *h)
{
    const di_store_module *(*entry)(void);
    *(void **)&entry = dlsym(h, DI_STORE_MODULE_ENTRY);
    const di_store_module *m = entry ? entry() : NULL;
    if (!m || m->abi != DI_STORE_MODULE_ABI || m->store_size != sizeof(di_store) ||
        strcmp(m->version, DI_VERSION_STRING) != 0 || !m->ops)
        return NULL;
    return m->ops;
}

static void load(backend_module *b)
{
    b->ops = di_module_load(b->file, "a store module", accept_store, b->why, sizeof b->why);
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
