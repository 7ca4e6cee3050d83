/* backends.c: which database backends this build has. */
#include "store.h"
#include "di_config.h"

const char *di_store_backends_built(void)
{
    return "sqlite"
#if DI_HAVE_MARIADB
           " mariadb"
#endif
#if DI_HAVE_POSTGRESQL
           " postgresql"
#endif
        ;
}
