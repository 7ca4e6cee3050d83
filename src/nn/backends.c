/* backends.c: which inference backends this build has. */
#include <oneapi/dnnl/dnnl.h>

#include "nn.h"
#include "di_config.h"
#include "engine.h"

bool di_nn_cuda_built(void)
{
#if defined(DI_HAVE_CUDA) && DI_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

/* The ISA values are bit masks: an ISA contains every smaller one it extends. */
static bool isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t want)
{
    return ((unsigned)isa & (unsigned)want) == (unsigned)want;
}

/* Neither asks oneDNN where it cannot be loaded (dnnl_lazy.c): its stubs
** could only end the process. */
static bool dnnl_loaded(void)
{
    di_error err;
    return di_nn_cpu_load(&err) == DI_OK;
}

const char *di_nn_cpu_bf16(void)
{
    if (!dnnl_loaded())
        return NULL;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_amx))
        return "AMX";
    if (isa_has(isa, dnnl_cpu_isa_avx512_core_bf16))
        return "AVX512-BF16";
    return NULL;
}

const char *di_nn_cpu_isa(void)
{
    static const struct {
        dnnl_cpu_isa_t isa;
        const char *name;
    } names[] = {
        {dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"},
        {dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"},
        {dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"},
        {dnnl_cpu_isa_avx512_core, "avx512_core"},
        {dnnl_cpu_isa_avx2_vnni, "avx2_vnni"},
        {dnnl_cpu_isa_avx2, "avx2"},
        {dnnl_cpu_isa_avx, "avx"},
        {dnnl_cpu_isa_sse41, "sse41"},
    };
    if (!dnnl_loaded())
        return "unknown (oneDNN not loaded)";
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (isa_has(isa, names[i].isa))
            return names[i].name;
    return "no vector ISA";
}
