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

int di_nn_cuda_run(di_nn_session *s, const float *input, int batch,
                   float *output, size_t output_capacity, di_error *err);
int di_nn_cuda_run_io(di_nn_session *s, const di_nn_io *ins, int nins,
                      di_nn_io *outs, int nouts, di_error *err);
int di_nn_cuda_output_shape(di_nn_session *s, int batch, int64_t *dims,
                            int *ndim, di_error *err);
double di_nn_cuda_flops(di_nn_session *s, int batch, di_error *err);
int di_nn_cuda_submit(di_nn_session *s, const float *input, int batch,
                      float *output, size_t output_capacity, di_error *err);
int di_nn_cuda_wait(di_nn_session *s, di_error *err);

/* Tests without a GPU (CUDA builds only): runs a CPU session's graph through
** the CUDA backend's plan translation and own kernels executed on the host
** (kernels.h's host mode, for the calling thread only). Ops that need cuDNN or
** cuBLAS are refused ("host mode" in the message). */
int di_nn_cuda_host_run(di_nn_session *s, const di_nn_io *ins, int nins,
                        di_nn_io *outs, int nouts, di_error *err);

/* Device count; on 0, why (cudaGetDeviceCount's message) into why. */
int di_nn_cuda_count(char *why, size_t why_size);
void *di_nn_cuda_host_alloc(size_t bytes);
bool di_nn_cuda_host_free(void *p);

#endif
