/*
** module_entry.c: the entry point of a database backend built as a loadable
** module (depthindex-mariadb.so, depthindex-postgresql.so). Compiled once per
** module with DI_STORE_MODULE_OPS naming the backend's ops table.
**
** The backend's client library (and, for libpq, its Kerberos, LDAP and TLS
** tail) costs tens of milliseconds of loading and relocation in every
** process that maps it; as a module it is mapped only by a process that
** opens a URL of that scheme. The module's own calls into the core (di_fail,
** the statement cache, the waits) resolve against the executable, which
** exports its di_* symbols.
*/
#include "store_internal.h"

extern const di_store_ops DI_STORE_MODULE_OPS;

static const di_store_module entry = {
    .abi = DI_STORE_MODULE_ABI,
    .store_size = sizeof(di_store),
    .version = DI_VERSION_STRING,
    .ops = &DI_STORE_MODULE_OPS,
};

__attribute__((visibility("default"))) const di_store_module *di_store_module_entry(void)
{
    return &entry;
}
