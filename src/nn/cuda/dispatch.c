/*
** dispatch.c: the public calls that involve the CUDA backend (device count,
** pinned host buffers, asynchronous runs), in every build. Without CUDA
** (DI_HAVE_CUDA 0) the backend's hooks answer "built without CUDA" here.
** With it, they load the backend module (depthindex-cuda.so) on first use
** and call into it: a process that never asks for a GPU never maps cudart,
** cuBLAS or cuDNN (about 100 MB of relocated libraries, 0.1 s at start).
*/
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/module.h"
#include "cuda.h"
#include "di_config.h"

#if !(defined(DI_HAVE_CUDA) && DI_HAVE_CUDA)

static int not_built(di_error *err)
{
    return di_fail(err, DI_EUNSUPPORTED, "--device cuda: this depthindex was built without CUDA");
}

int di_nn_cuda_attach(di_nn_session *s, di_error *err)
{
    (void)s;
    return not_built(err);
}

void di_nn_cuda_detach(di_nn_session *s)
{
    (void)s;
}

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch, float *output, size_t cap,
                   di_error *err)
{
    (void)s, (void)input, (void)batch, (void)output, (void)cap;
    return not_built(err);
}

int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                      di_error *err)
{
    (void)s, (void)ins, (void)nins, (void)outs, (void)nouts;
    return not_built(err);
}

int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    (void)s, (void)batch, (void)dims, (void)ndim;
    return not_built(err);
}

double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err)
{
    (void)s, (void)batch;
    not_built(err);
    return -1;
}

int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch, float *output, size_t cap,
                      di_error *err)
{
    (void)s, (void)input, (void)batch, (void)output, (void)cap;
    return not_built(err);
}

int di_nn_cuda_wait(di_nn_session *s, di_error *err)
{
    (void)s;
    return not_built(err);
}

int di_nn_cuda_count(char *why, size_t why_size)
{
    if (why && why_size)
        snprintf(why, why_size, "built without CUDA");
    return 0;
}

void *di_nn_cuda_host_alloc(size_t bytes)
{
    (void)bytes;
    return NULL;
}

bool di_nn_cuda_host_free(void *p)
{
    (void)p;
    return false;
}

bool di_nn_cuda_module_loaded(void)
{
    return false;
}

#else

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const di_nn_cuda_hooks *mod; /* NULL when the module did not load */
static char load_error[768];

/* The CUDA module of this depthindex (its entry, ABI, session layout and
** version), or NULL. */
static const void *accept_cuda(void *h)
{
    const di_nn_cuda_hooks *(*entry)(void);
    *(void **)&entry = dlsym(h, DI_NN_CUDA_MODULE_ENTRY);
    const di_nn_cuda_hooks *t = entry ? entry() : NULL;
    if (!t || t->abi != DI_NN_CUDA_MODULE_ABI || t->session_size != sizeof(di_nn_session) ||
        strcmp(t->version, DI_VERSION_STRING) != 0)
        return NULL;
    return t;
}

/* Where the module is: $DEPTHINDEX_CUDA_MODULE (that file only); else where
** every module of depthindex is looked for (src/core/module.h: the
** executable's folder first, so that a moved build or installation finds
** its own). */
static void load_module(void)
{
    static const char what[] = "the CUDA module";
    char why[sizeof load_error - 64] = "";
    const di_nn_cuda_hooks *t;
    const char *env = getenv("DEPTHINDEX_CUDA_MODULE");
    if (env && *env)
        t = di_module_load_path(env, what, accept_cuda, why, sizeof why);
    else
        t = di_module_load(DI_CUDA_MODULE_NAME, what, accept_cuda, why, sizeof why);
    __atomic_store_n(&mod, t, __ATOMIC_RELEASE);
    if (!t)
        snprintf(load_error, sizeof load_error, "CUDA backend module not found/loadable: %s", why);
}

static const di_nn_cuda_hooks *module(void)
{
    pthread_once(&load_once, load_module);
    return mod;
}

static int not_loaded(di_error *err)
{
    return di_fail(err, DI_EUNSUPPORTED, "--device cuda: %s", load_error);
}

bool di_nn_cuda_module_loaded(void)
{
    return __atomic_load_n(&mod, __ATOMIC_ACQUIRE) != NULL;
}

int di_nn_cuda_attach(di_nn_session *s, di_error *err)
{
    return module() ? mod->attach(s, err) : not_loaded(err);
}

/* A session has s->cuda set only by an attach, so the module is loaded
** for every call below that starts from one. Every session is detached
** when destroyed, CPU ones too: that must not load the module (and map
** cudart, cuBLAS, cuDNN) into a process that never used a GPU. */
void di_nn_cuda_detach(di_nn_session *s)
{
    const di_nn_cuda_hooks *m = __atomic_load_n(&mod, __ATOMIC_ACQUIRE);
    if (m)
        m->detach(s);
}

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch, float *output, size_t cap,
                   di_error *err)
{
    return module() ? mod->run(s, input, batch, output, cap, err) : not_loaded(err);
}

int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                      di_error *err)
{
    return module() ? mod->run_io(s, ins, nins, outs, nouts, err) : not_loaded(err);
}

int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err)
{
    return module() ? mod->output_shape(s, batch, dims, ndim, err) : not_loaded(err);
}

double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err)
{
    if (module())
        return mod->flops(s, batch, err);
    not_loaded(err);
    return -1;
}

int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch, float *output, size_t cap,
                      di_error *err)
{
    return module() ? mod->submit(s, input, batch, output, cap, err) : not_loaded(err);
}

int di_nn_cuda_wait(di_nn_session *s, di_error *err)
{
    return module() ? mod->wait(s, err) : not_loaded(err);
}

int di_nn_cuda_host_run(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                        di_error *err)
{
    return module() ? mod->host_run(s, ins, nins, outs, nouts, err) : not_loaded(err);
}

int di_nn_cuda_count(char *why, size_t why_size)
{
    if (module())
        return mod->count(why, why_size);
    if (why && why_size)
        snprintf(why, why_size, "%s", load_error);
    return 0;
}

/* Page-locked memory is asked for only for a CUDA session (the pipeline's
** batches), so this may load the module. */
void *di_nn_cuda_host_alloc(size_t bytes)
{
    return module() ? mod->host_alloc(bytes) : NULL;
}

/* Without the module loaded, no buffer can be page-locked: never load it
** just to free. */
bool di_nn_cuda_host_free(void *p)
{
    const di_nn_cuda_hooks *m = __atomic_load_n(&mod, __ATOMIC_ACQUIRE);
    return m ? m->host_free(p) : false;
}

#endif

int di_nn_cuda_device_count(void)
{
    if (access("/dev/nvidiactl", F_OK) != 0 && access("/dev/dxg", F_OK) != 0 &&
        access("/proc/driver/nvidia", F_OK) != 0)
        return 0;
    return di_nn_cuda_count(NULL, 0);
}

int di_nn_cuda_device_status(char *why, size_t why_size)
{
    return di_nn_cuda_count(why, why_size);
}

void *di_nn_alloc_host(size_t bytes)
{
    void *p = di_nn_cuda_host_alloc(bytes);
    if (p)
        return p;
    size_t b = (bytes + 63) & ~(size_t)63;
    return aligned_alloc(64, b ? b : 64);
}

void di_nn_free_host(void *p)
{
    if (p && !di_nn_cuda_host_free(p))
        free(p);
}

/* The CUDA backend as session.c sees it: these calls, answered by the
** module or, in a build without CUDA, by "built without CUDA". */
const di_nn_backend di_nn_backend_cuda = {
    .name = "cuda",
    .attach = di_nn_cuda_attach,
    .detach = di_nn_cuda_detach,
    .output_shape = di_nn_cuda_output_shape,
    .run = di_nn_cuda_run,
    .submit = di_nn_cuda_submit,
    .wait = di_nn_cuda_wait,
    .run_io = di_nn_cuda_run_io,
    .flops = di_nn_cuda_flops,
};
