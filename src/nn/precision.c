/*
** precision.c: which nodes of a bf16 session compute in float32 anyway
** (issue 15, score fidelity). The session asks once, at create; the CPU's
** Conv reads the answer (di_nn_env.keep_fp32, by node index).
**
** DI_NN_BF16_FP32=A-B in the environment keeps the Convs numbered A to B
** (counting the graph's Convs from 0 in order) in float32: a diagnostic,
** for measuring where along the network bf16's difference arises
** (bench/run-bf16-layers.sh); read when the session is made.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

int di_nn_precision_policy(const di_nn_graph *g, bool **keep, di_error *err)
{
    *keep = NULL;
    const char *range = getenv("DI_NN_BF16_FP32");
    long a = -1, b = -1;
    if (range && *range) {
        char *end;
        a = strtol(range, &end, 10);
        b = *end == '-' ? strtol(end + 1, &end, 10) : a;
        if (*end || a < 0 || b < a)
            return di_fail(err, DI_EINVAL, "DI_NN_BF16_FP32=%s: expected A-B (Conv numbers)",
                           range);
    }
    bool *k = calloc((size_t)g->nnodes + 1, sizeof *k);
    if (!k)
        return di_fail(err, DI_ENOMEM, "out of memory");
    long conv = 0;
    for (int i = 0; i < g->nnodes; i++) {
        if (strcmp(g->nodes[i].op_type, "Conv"))
            continue;
        k[i] = conv >= a && conv <= b;
        conv++;
    }
    *keep = k;
    return DI_OK;
}
