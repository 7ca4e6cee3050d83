/*
** plan_memory.c: the memory plan of a plan (plan.c): every non-constant
** tensor gets bytes in one arena by liveness, greedy best-offset: a buffer
** may reuse the bytes of any tensor whose life does not overlap its own, and
** a fused Add whose other operand dies at that step writes in place.
*/
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct lifetime {
    di_nn_tensor *t;
    int first, last;
    size_t bytes, offset;
    di_nn_tensor *alias; /* shares this tensor's buffer (in-place fused Add) */
} lifetime;

static int cmp_size_desc(const void *a, const void *b)
{
    const lifetime *x = a, *y = b;
    if (!x->alias != !y->alias)
        return x->alias ? 1 : -1; /* aliases last */
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static int find_life(lifetime *L, int n, const di_nn_tensor *t)
{
    for (int i = 0; i < n; i++)
        if (L[i].t == t)
            return i;
    return -1;
}

int di_nn_plan_memory(const di_nn_graph *g, di_nn_plan *p, di_error *err)
{
    int cap = g->nvalues + p->nshadows + 1, n = 0;
    lifetime *L = calloc((size_t)cap, sizeof *L);
    if (!L)
        return di_fail(err, DI_ENOMEM, "out of memory");
#define TOUCH(T, STEP)                                                                             \
    do {                                                                                           \
        di_nn_tensor *t_ = (T);                                                                    \
        if (t_ && !t_->is_const) {                                                                 \
            int i_ = find_life(L, n, t_);                                                          \
            if (i_ < 0 && n < cap) {                                                               \
                i_ = n++;                                                                          \
                L[i_].t = t_;                                                                      \
                L[i_].first = L[i_].last = (STEP);                                                 \
            }                                                                                      \
            if (i_ >= 0) {                                                                         \
                if ((STEP) < L[i_].first)                                                          \
                    L[i_].first = (STEP);                                                          \
                if ((STEP) > L[i_].last)                                                           \
                    L[i_].last = (STEP);                                                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    for (int i = 0; i < g->ninputs; i++)
        TOUCH(&p->vals[g->inputs[i]], -1);
    for (int si = 0; si < p->nsteps; si++) {
        di_nn_step *st = &p->steps[si];
        if (st->node < 0) {
            TOUCH(st->from, si);
            TOUCH(st->to, si);
            continue;
        }
        for (int j = 0; j < st->k.nin; j++)
            TOUCH(st->k.in[j], si);
        for (int j = 0; j < st->k.nout; j++)
            TOUCH(st->k.out[j], si);
        for (int j = 0; j < st->k.npost; j++)
            TOUCH(st->k.post[j].addend, si);
    }
    for (int i = 0; i < g->noutputs; i++)
        TOUCH(p->outputs[i], p->nsteps);
#undef TOUCH
    /* A fused Add whose other operand dies at that step writes in place:
    ** the output takes the operand's buffer, and no copy is made. */
    for (int si = 0; si < p->nsteps; si++) {
        di_nn_step *st = &p->steps[si];
        if (st->node < 0)
            continue;
        for (int j = 0; j < st->k.npost; j++) {
            di_nn_tensor *a = st->k.post[j].addend, *o = st->k.out[0];
            if (!a || a == o)
                continue;
            int ia = find_life(L, n, a), io = find_life(L, n, o);
            while (ia >= 0 && L[ia].alias)
                ia = find_life(L, n, L[ia].alias); /* the buffer's owner */
            if (ia < 0 || io < 0 || L[io].alias || L[ia].last != si || L[io].first != si)
                continue;
            if (a->blocked != o->blocked || di_nn_tensor_bytes(a) != di_nn_tensor_bytes(o))
                continue;
            if (a->blocked && !dnnl_memory_desc_equal(&a->md, &o->md))
                continue;
            bool is_io = false;
            for (int i = 0; i < g->ninputs; i++)
                is_io |= &p->vals[g->inputs[i]] == a;
            for (int i = 0; i < st->k.nin; i++)
                is_io |= st->k.in[i] == a; /* y = conv(x) + x */
            if (is_io)
                continue;
            L[ia].last = L[io].last;
            L[io].alias = a;
        }
    }
    int nalloc = 0;
    for (int i = 0; i < n; i++) { /* aliased entries go to the end, unplaced */
        L[i].bytes = (di_nn_tensor_bytes(L[i].t) + 63) & ~(size_t)63;
        if (!L[i].alias)
            nalloc++;
        else
            L[i].bytes = 0;
    }
    qsort(L, (size_t)n, sizeof *L, cmp_size_desc);
    size_t total = 0;
    for (int i = 0; i < nalloc; i++) {
        /* lowest offset that overlaps no placed tensor whose life overlaps */
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int j = 0; j < i; j++) {
                if (L[j].last < L[i].first || L[i].last < L[j].first)
                    continue;
                if (off < L[j].offset + L[j].bytes && L[j].offset < off + L[i].bytes) {
                    off = L[j].offset + L[j].bytes;
                    moved = true;
                }
            }
        }
        L[i].offset = off;
        if (off + L[i].bytes > total)
            total = off + L[i].bytes;
    }
    if (total > 4 * di_nn_max_tensor_bytes) {
        free(L);
        return di_fail(err, DI_ENOMEM, "the activations need %zu bytes", total);
    }
    p->arena_bytes = total;
    p->arena = di_nn_aligned(total);
    if (p->scratch_bytes)
        p->scratch = di_nn_aligned(p->scratch_bytes);
    if (!p->arena || (p->scratch_bytes && !p->scratch)) {
        free(L);
        return di_fail(err, DI_ENOMEM, "out of memory for %zu bytes of activations", total);
    }
    for (int i = 0; i < nalloc; i++)
        L[i].t->data = p->arena + L[i].offset;
    /* aliases, in step order so that chains resolve */
    for (int pass = 0; pass < n; pass++) {
        bool changed = false;
        for (int i = nalloc; i < n; i++)
            if (L[i].alias->data && L[i].t->data != L[i].alias->data) {
                L[i].t->data = L[i].alias->data;
                changed = true;
            }
        if (!changed)
            break;
    }
    for (int si = 0; si < p->nsteps; si++)
        p->steps[si].k.scratch = p->scratch;
    free(L);
    return DI_OK;
}
