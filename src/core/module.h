/*
** module.h: where depthindex's loadable modules (depthindex-mariadb.so,
** depthindex-postgresql.so, depthindex-cuda.so) are looked for, first found
** wins:
**  1. $DEPTHINDEX_MODULE_DIR, when set (then only there);
**  2. the executable's own folder (the build tree, where depthindex and the
**     modules are built side by side, or a copied bundle);
**  3. the installed module folder relative to the executable's folder
**     (PREFIX/bin -> PREFIX/LIBDIR/depthindex), so that a moved installation
**     still finds its modules;
**  4. the build tree's root when the executable runs from inside the build
**     tree (the test programs live in subfolders of it);
**  5. the installed module folder as configured.
** A module that its caller does not accept (another version, another ABI) is
** refused and the search goes on.
*/
#ifndef DI_CORE_MODULE_H
#define DI_CORE_MODULE_H

#include <stdbool.h>
#include <stddef.h>

/* Given a dlopen() handle, the module's entry table if it is the module the
** caller wants (its entry symbol, ABI and version), else NULL. */
typedef const void *(*di_module_accept)(void *handle);

/* Loads file from the folders above: the table accept returned, or NULL with
** each folder's reason in why ("PATH: not there; PATH: not WHAT of this
** depthindex VERSION; ..."). A loaded module stays loaded until exit. */
const void *di_module_load(const char *file, const char *what, di_module_accept accept,
                           char *why, size_t why_size);

/* The same for one file (an override such as $DEPTHINDEX_CUDA_MODULE); the
** reason is appended to why, which must hold a string. */
const void *di_module_load_path(const char *path, const char *what, di_module_accept accept,
                                char *why, size_t why_size);

#endif
