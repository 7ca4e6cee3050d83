/* backends.c: which inference backends this build has. */
#include "nn.h"
#include "di_config.h"

bool di_nn_cuda_built(void)
{
#if defined(DI_HAVE_CUDA) && DI_HAVE_CUDA
    return true;
#else
    return false;
#endif
}
