/*
** module.c: the entry point of the CUDA backend module (depthindex-cuda.so):
** the table of hooks dispatch.c calls. Everything else in the module is
** hidden (-fvisibility=hidden), so its di_nn_cuda_* definitions bind here
** and never to libdepthindex's dispatch.c wrappers of the same names.
*/
#include "cuda.h"
#include "di_config.h"

static const di_nn_cuda_hooks hooks = {
    .abi = DI_NN_CUDA_MODULE_ABI,
    .session_size = sizeof(di_nn_session),
    .version = DI_VERSION_STRING,
    .attach = di_nn_cuda_attach,
    .detach = di_nn_cuda_detach,
    .run = di_nn_cuda_run,
    .run_io = di_nn_cuda_run_io,
    .output_shape = di_nn_cuda_output_shape,
    .flops = di_nn_cuda_flops,
    .submit = di_nn_cuda_submit,
    .wait = di_nn_cuda_wait,
    .host_run = di_nn_cuda_host_run,
    .count = di_nn_cuda_count,
    .host_alloc = di_nn_cuda_host_alloc,
    .host_free = di_nn_cuda_host_free,
};

__attribute__((visibility("default"))) const di_nn_cuda_hooks *di_nn_cuda_module_hooks(void)
{
    return &hooks;
}
