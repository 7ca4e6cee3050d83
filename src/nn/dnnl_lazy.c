/*
** dnnl_lazy.c: oneDNN loaded on the first call into it (x86-64 Linux).
**
** libdnnl is a C++ library of 20 MB with tens of thousands of relocations,
** and it brings libstdc++ and libOpenCL: linked as usual it costs every
** process about 10 ms of start-up, also `depthindex score`, `status` or
** `report`, which never run the engine. Instead, the executable carries one
** small stub per oneDNN function (generated from dnnl.h by dnnl_lazy_gen.py)
** that jumps through a table; every entry starts at di_dnnl_lazy_resolve,
** which dlopen()s libdnnl once, points every entry at the real function and
** jumps on to the one that was called, with the caller's arguments intact.
** Nothing in the engine changes: it calls dnnl_* as before.
**
** The CPU backend loads it when a session is created (di_nn_cpu_load, before
** anything asks oneDNN which ISA it runs), so a missing or broken libdnnl is
** an error value naming the library and the reason. The library is
** DI_DNNL_SONAME, found as the dynamic loader finds libraries, unless
** DEPTHINDEX_DNNL_LIBRARY names another file (oneDNN installed elsewhere, of
** the major version the stubs were made for; the tests point it at files
** that are no oneDNN). Only a call that reaches a stub without
** that check before it (a bug) ends the process with the reason on stderr and
** status 127, as the dynamic loader did when the library was missing: a
** oneDNN function has no way to return an error from a call that never
** reached oneDNN.
*/
#include "di_config.h"

#include <dlfcn.h>
#include <oneapi/dnnl/dnnl_types.h>
#include <oneapi/dnnl/dnnl_version.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const int di_dnnl_lazy_count;
extern const char *const di_dnnl_lazy_names[];
extern void (*di_dnnl_lazy_table[])(void);
void di_dnnl_lazy_load(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256]; /* why libdnnl could not be loaded, or "" */

/* A function dnnl.h declares that this libdnnl lacks: the engine never calls
** one (the link would have failed), so reaching it is a mismatched library. */
static void missing(void)
{
    static const char msg[] = "depthindex: libdnnl lacks a function its dnnl.h declares\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(127);
}

const char *di_dnnl_lazy_library(void)
{
    const char *lib = getenv("DEPTHINDEX_DNNL_LIBRARY");
    return lib && lib[0] ? lib : DI_DNNL_SONAME;
}

static void load(void)
{
    const char *lib = di_dnnl_lazy_library();
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        /* dlerror() starts with the file's name, which the caller's
        ** message names already */
        const char *why = dlerror();
        size_t n = strlen(lib);
        if (why && strncmp(why, lib, n) == 0 && strncmp(why + n, ": ", 2) == 0)
            why += n + 2;
        snprintf(load_error, sizeof load_error, "%s", why ? why : "dlopen failed");
        return;
    }
    /* any shared library opens: one without oneDNN's entry points would
    ** send every call to missing(), another major version pass other
    ** structures than dnnl.h's */
    void *vf = dlsym(h, "dnnl_version");
    if (!vf) {
        snprintf(load_error, sizeof load_error, "not oneDNN (it has no dnnl_version)");
        dlclose(h);
        return;
    }
    const dnnl_version_t *(*version)(void);
    memcpy(&version, &vf, sizeof version);
    const dnnl_version_t *v = version();
    if (!v || v->major != DNNL_VERSION_MAJOR) {
        snprintf(load_error, sizeof load_error, "oneDNN %d.%d, this depthindex was built for %d.x",
                 v ? v->major : -1, v ? v->minor : -1, DNNL_VERSION_MAJOR);
        dlclose(h);
        return;
    }
    for (int i = 0; i < di_dnnl_lazy_count; i++) {
        void *f = dlsym(h, di_dnnl_lazy_names[i]);
        void (*fn)(void) = missing;
        if (f)
            memcpy(&fn, &f, sizeof fn);
        __atomic_store_n(&di_dnnl_lazy_table[i], fn, __ATOMIC_RELEASE);
    }
}

const char *di_dnnl_lazy_error(void)
{
    pthread_once(&once, load);
    return load_error[0] ? load_error : NULL;
}

/* The stubs' way in: the table still points here only when the load failed
** and the caller did not ask di_dnnl_lazy_error first. */
void di_dnnl_lazy_load(void)
{
    const char *why = di_dnnl_lazy_error();
    if (why) {
        fprintf(stderr, "depthindex: cannot load oneDNN (%s): %s\n", di_dnnl_lazy_library(), why);
        _exit(127);
    }
}

/* Entered by a stub with the function's index in r11 and the caller's
** arguments in place: saves the argument registers (integer and vector, and
** rax, the vector count of a variadic call), loads, restores them and jumps
** to the real function, which returns to the caller. */
__asm__(".text\n"
        ".globl di_dnnl_lazy_resolve\n"
        ".hidden di_dnnl_lazy_resolve\n"
        ".type di_dnnl_lazy_resolve,@function\n"
        ".p2align 4\n"
        "di_dnnl_lazy_resolve:\n"
        "  endbr64\n"
        "  pushq %rbp\n"
        "  movq %rsp, %rbp\n"
        "  pushq %rdi\n  pushq %rsi\n  pushq %rdx\n  pushq %rcx\n"
        "  pushq %r8\n  pushq %r9\n  pushq %rax\n  pushq %r11\n"
        "  subq $128, %rsp\n"
        "  movdqu %xmm0, 0(%rsp)\n  movdqu %xmm1, 16(%rsp)\n"
        "  movdqu %xmm2, 32(%rsp)\n  movdqu %xmm3, 48(%rsp)\n"
        "  movdqu %xmm4, 64(%rsp)\n  movdqu %xmm5, 80(%rsp)\n"
        "  movdqu %xmm6, 96(%rsp)\n  movdqu %xmm7, 112(%rsp)\n"
        "  call di_dnnl_lazy_load\n"
        "  movdqu 0(%rsp), %xmm0\n  movdqu 16(%rsp), %xmm1\n"
        "  movdqu 32(%rsp), %xmm2\n  movdqu 48(%rsp), %xmm3\n"
        "  movdqu 64(%rsp), %xmm4\n  movdqu 80(%rsp), %xmm5\n"
        "  movdqu 96(%rsp), %xmm6\n  movdqu 112(%rsp), %xmm7\n"
        "  addq $128, %rsp\n"
        "  popq %r11\n  popq %rax\n  popq %r9\n  popq %r8\n"
        "  popq %rcx\n  popq %rdx\n  popq %rsi\n  popq %rdi\n"
        "  popq %rbp\n"
        "  leaq di_dnnl_lazy_table(%rip), %r10\n"
        "  jmp *(%r10,%r11,8)\n"
        ".size di_dnnl_lazy_resolve,.-di_dnnl_lazy_resolve\n");
