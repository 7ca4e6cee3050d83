/*
** cuda.h: the hooks between the engine's session (session.c) and the CUDA
** backend. Always compiled: in a build without CUDA, dispatch.c answers
** every call with "built without CUDA" (DI_EUNSUPPORTED).
**
** A CUDA session is an ordinary session (graph, options, CPU environment)
** with s->cuda set: plans are built by the same planner (shapes, constant
** folding, fusion, liveness memory plan) and mirrored on the GPU by
** build.c; the host plan is freed once mirrored.
*/
#ifndef DI_NN_CUDA_H
#define DI_NN_CUDA_H

#include "../engine.h"

/* Picks the device (opt.device_index), uploads the weights, creates the
** stream and handles and plans the declared input shapes. Unsupported ops
** are refused here, naming the node. */
int di_nn_cuda_attach(di_nn_session *s, di_error *err);
void di_nn_cuda_detach(di_nn_session *s);

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch, float *output,
                   size_t output_capacity, di_error *err);
int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                      di_error *err);
int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err);
double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err);
int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch, float *output,
                      size_t output_capacity, di_error *err);
int di_nn_cuda_wait(di_nn_session *s, di_error *err);

/* Tests without a GPU (CUDA builds only): runs a CPU session's graph through
** the CUDA backend's plan translation and own kernels executed on the host
** (kernels.h's host mode, for the calling thread only). Ops that need cuDNN or
** cuBLAS are refused ("host mode" in the message). */
int di_nn_cuda_host_run(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                        di_error *err);

/* Device count; on 0, why (cudaGetDeviceCount's message) into why. */
int di_nn_cuda_count(char *why, size_t why_size);
void *di_nn_cuda_host_alloc(size_t bytes);
bool di_nn_cuda_host_free(void *p);

/* The backend lives in a loadable module (depthindex-cuda.so, linked with
** cudart, cuBLAS and cuDNN) so that a process loads the GPU stack only when
** it asks for a GPU. dispatch.c dlopen()s it on first use and calls the
** functions above through this table; inside the module they are the
** backend's own (hidden) definitions, in libdepthindex dispatch.c's. The
** module uses a few core functions (di_fail, the planner...) that every
** executable exports (--export-dynamic, libdepthindex linked whole). */
#define DI_NN_CUDA_MODULE_ABI 1
typedef struct di_nn_cuda_hooks {
    int abi;             /* DI_NN_CUDA_MODULE_ABI */
    size_t session_size; /* sizeof(di_nn_session) the module was built with */
    const char *version; /* DI_VERSION_STRING */
    int (*attach)(di_nn_session *, di_error *);
    void (*detach)(di_nn_session *);
    int (*run)(di_nn_session *, const float *, int, float *, size_t, di_error *);
    int (*run_io)(di_nn_session *, const di_nn_io *, int, di_nn_io *, int, di_error *);
    int (*output_shape)(di_nn_session *, int, int64_t *, int *, di_error *);
    double (*flops)(di_nn_session *, int, di_error *);
    int (*submit)(di_nn_session *, const float *, int, float *, size_t, di_error *);
    int (*wait)(di_nn_session *, di_error *);
    int (*host_run)(di_nn_session *, const di_nn_io *, int, di_nn_io *, int, di_error *);
    int (*count)(char *, size_t);
    void *(*host_alloc)(size_t);
    bool (*host_free)(void *);
} di_nn_cuda_hooks;

/* The module's one exported symbol. */
#define DI_NN_CUDA_MODULE_ENTRY "di_nn_cuda_module_hooks"
const di_nn_cuda_hooks *di_nn_cuda_module_hooks(void);

/* Whether the module is loaded (tests). */
bool di_nn_cuda_module_loaded(void);

#endif
