/*
** plan_memory.c: the memory plan of a plan (plan.c): every non-constant
** tensor gets bytes in one arena by liveness, greedy best-offset: a buffer
** may reuse the bytes of any tensor whose life does not overlap its own, a
** view shares its input's buffer, a Split into byte ranges makes its parts
** windows of its input's, and a fused Add whose other operand dies at that
** step writes in place.
*/
#include <stdlib.h>
#include <string.h>

#include "engine.h"

typedef struct lifetime {
    di_nn_tensor *t;
    int first, last;
    size_t bytes, offset;
    di_nn_tensor *alias; /* shares this tensor's buffer (a view, an in-place fused Add) */
    size_t alias_off;    /* at this byte offset in it (a Split's part) */
} lifetime;

static int cmp_size_desc(const void *a, const void *b)
{
    const lifetime *x = a, *y = b;
    if (!x->alias != !y->alias)
        return x->alias ? 1 : -1; /* aliases last */
    return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Tensor -> its entry in L, hashed by address: finding an entry costs the
** same whatever the graph's size (a scan of L made planning quadratic). */
typedef struct life_map {
    lifetime *L;
    int *slot; /* entry index or -1; size mask + 1, a power of two */
    size_t mask;
} life_map;

static size_t ptr_slot(const life_map *m, const di_nn_tensor *t)
{
    uint64_t x = (uint64_t)(uintptr_t)t;
    x = (x ^ (x >> 33)) * 0xff51afd7ed558ccdull;
    return (size_t)(x ^ (x >> 33)) & m->mask;
}

static int find_life(const life_map *m, const di_nn_tensor *t)
{
    for (size_t i = ptr_slot(m, t);; i = (i + 1) & m->mask) {
        if (m->slot[i] < 0)
            return -1;
        if (m->L[m->slot[i]].t == t)
            return m->slot[i];
    }
}

static void put_life(life_map *m, int idx)
{
    size_t i = ptr_slot(m, m->L[idx].t);
    while (m->slot[i] >= 0)
        i = (i + 1) & m->mask;
    m->slot[i] = idx;
}

/* Per step, the entries of L already placed that live at it. */
typedef struct placed_at {
    int nsteps;
    int **at, *n, *cap;
    int *cand, *seen; /* placed_overlapping's answer; per entry, last asked */
} placed_at;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void placed_free(placed_at *pa)
{
    for (int s = 0; pa->at && s < pa->nsteps; s++)
        free(pa->at[s]);
    free(pa->at);
    free(pa->n);
    free(pa->cap);
    free(pa->cand);
    free(pa->seen);
}

static int placed_init(placed_at *pa, int nsteps, int nentries)
{
    pa->nsteps = nsteps;
    pa->at = calloc((size_t)nsteps, sizeof *pa->at);
    pa->n = calloc((size_t)nsteps, sizeof(int));
    pa->cap = calloc((size_t)nsteps, sizeof(int));
    pa->cand = malloc(((size_t)nentries + 1) * sizeof(int));
    pa->seen = malloc(((size_t)nentries + 1) * sizeof(int));
    if (!pa->at || !pa->n || !pa->cap || !pa->cand || !pa->seen) {
        placed_free(pa);
        return DI_ENOMEM;
    }
    memset(pa->seen, 0xff, ((size_t)nentries + 1) * sizeof(int));
    return DI_OK;
}

static int placed_add(placed_at *pa, int from, int to, int idx)
{
    for (int s = from; s <= to; s++) {
        if (pa->n[s] == pa->cap[s]) {
            int c = pa->cap[s] ? 2 * pa->cap[s] : 4;
            int *a = realloc(pa->at[s], (size_t)c * sizeof(int));
            if (!a)
                return DI_ENOMEM;
            pa->at[s] = a;
            pa->cap[s] = c;
        }
        pa->at[s][pa->n[s]++] = idx;
    }
    return DI_OK;
}

/* The placed entries living at any step of from..to, once each, ascending,
** into pa->cand; returns how many. */
static int placed_overlapping(placed_at *pa, int from, int to, int asking)
{
    int nc = 0;
    for (int s = from; s <= to; s++)
        for (int k = 0; k < pa->n[s]; k++) {
            int j = pa->at[s][k];
            if (pa->seen[j] == asking)
                continue;
            pa->seen[j] = asking;
            pa->cand[nc++] = j;
        }
    qsort(pa->cand, (size_t)nc, sizeof(int), cmp_int);
    return nc;
}

/* The entry whose buffer t uses (through views and in-place Adds), or -1. */
static int buffer_owner(const life_map *lm, const di_nn_tensor *t)
{
    int i = find_life(lm, t);
    while (i >= 0 && lm->L[i].alias)
        i = find_life(lm, lm->L[i].alias);
    return i;
}

/* A Split (DI_OP_PARTS) whose axes before the split axis all have size 1
** cuts its plain input into consecutive byte ranges: each part becomes a
** window of the input's buffer at its byte offset (the buffer's life then
** covers the parts'), and the step copies nothing (split_run sees the
** addresses). */
static void split_windows(lifetime *L, const life_map *lm, int si, const di_nn_kctx *k)
{
    const di_nn_tensor *a = k->in[0];
    if (!a || a->blocked || !k->params)
        return;
    const di_nn_split_params *sp = k->params;
    int64_t axis = sp->axis, outer = 1, inner = 1;
    for (int64_t d = 0; d < axis && d < a->ndim; d++)
        outer *= a->dims[d];
    for (int64_t d = axis + 1; d < a->ndim; d++)
        inner *= a->dims[d];
    int ia = buffer_owner(lm, a);
    if (outer != 1 || ia < 0)
        return;
    size_t es = di_dtype_size(a->dtype);
    for (int o = 0; o < k->nout; o++) {
        di_nn_tensor *t = k->out[o];
        if (!t)
            continue; /* an omitted part */
        size_t off = (size_t)(sp->start[o] * inner) * es;
        int io = find_life(lm, t);
        if (io >= 0 && !t->blocked && t->dtype == a->dtype && !L[io].alias && L[io].first == si) {
            if (L[io].last > L[ia].last)
                L[ia].last = L[io].last;
            L[io].alias = (di_nn_tensor *)a;
            L[io].alias_off = off;
        }
    }
}

int di_nn_plan_memory(const di_nn_graph *g, di_nn_plan *p, int flags, di_error *err)
{
    int cap = g->nvalues + p->nshadows + 1, n = 0;
    lifetime *L = calloc((size_t)cap, sizeof *L);
    life_map lm = {L, NULL, 1};
    while (lm.mask < 2 * (size_t)cap)
        lm.mask <<= 1;
    lm.slot = malloc(lm.mask * sizeof(int));
    lm.mask--;
    if (!L || !lm.slot) {
        free(L);
        free(lm.slot);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    memset(lm.slot, 0xff, (lm.mask + 1) * sizeof(int));
#define TOUCH(T, STEP)                                                                             \
    do {                                                                                           \
        di_nn_tensor *t_ = (T);                                                                    \
        if (t_ && !t_->is_const) {                                                                 \
            int i_ = find_life(&lm, t_);                                                           \
            if (i_ < 0 && n < cap) {                                                               \
                i_ = n++;                                                                          \
                L[i_].t = t_;                                                                      \
                L[i_].first = L[i_].last = (STEP);                                                 \
                put_life(&lm, i_);                                                                 \
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
    /* A view (Reshape, Squeeze, Unsqueeze, Flatten, Identity: DI_OP_VIEW) is
    ** its input's bytes under another shape: its output shares the input's
    ** buffer, whose life then covers the view's, and the step copies
    ** nothing (its run sees the same address). A blocked input never gets
    ** here (the planner gives views a plain copy). */
    for (int si = 0; si < p->nsteps; si++) {
        di_nn_step *st = &p->steps[si];
        if (st->node < 0 || !(g->nodes[st->node].op->flags & DI_OP_VIEW) || st->k.nin < 1 ||
            st->k.nout != 1)
            continue;
        di_nn_tensor *a = st->k.in[0], *o = st->k.out[0];
        if (!a || !o || a == o || a->blocked || o->blocked ||
            di_nn_tensor_bytes(a) != di_nn_tensor_bytes(o))
            continue;
        int ia = find_life(&lm, a), io = find_life(&lm, o);
        if (ia < 0 || io < 0 || L[io].alias || L[io].first != si)
            continue;
        while (L[ia].alias)
            ia = find_life(&lm, L[ia].alias); /* the buffer's owner */
        if (L[io].last > L[ia].last)
            L[ia].last = L[io].last;
        L[io].alias = a;
    }
    /* Split windows: CPU plans only (another backend's translation reads
    ** these offsets and runs its own Split, which copies) */
    for (int si = 0; si < p->nsteps && !(flags & DI_NN_PLAN_NEUTRAL); si++) {
        di_nn_step *st = &p->steps[si];
        if (st->node >= 0 && (g->nodes[st->node].op->flags & DI_OP_PARTS) && st->k.nin >= 1)
            split_windows(L, &lm, si, &st->k);
    }
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
            int ia = find_life(&lm, a), io = find_life(&lm, o);
            while (ia >= 0 && L[ia].alias)
                ia = find_life(&lm, L[ia].alias); /* the buffer's owner */
            if (ia < 0 || io < 0 || L[io].alias || L[ia].last != si || L[io].first != si)
                continue;
            if (a->blocked != o->blocked || di_nn_tensor_bytes(a) != di_nn_tensor_bytes(o))
                continue;
            if (a->blocked && !di_nn_cpu_layouts.same(a, o))
                continue;
            /* by buffer: a view of the addend is the addend's bytes */
            bool is_io = false;
            for (int i = 0; i < g->ninputs; i++)
                is_io |= buffer_owner(&lm, &p->vals[g->inputs[i]]) == ia;
            for (int i = 0; i < st->k.nin; i++)
                is_io |= st->k.in[i] && buffer_owner(&lm, st->k.in[i]) == ia; /* y = conv(x) + x */
            if (is_io)
                continue;
            L[ia].last = L[io].last;
            L[io].alias = a;
        }
    }
    free(lm.slot); /* L is sorted below: the map would be stale */
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
    /* The placed tensors live at each step (lives run from step -1, the
    ** inputs, to nsteps, the outputs), so that a tensor is checked only
    ** against those whose lives overlap its own: checking every placed one
    ** made planning quadratic. They are visited in placement order, as a
    ** scan of all of them would, so the offsets are the same. */
    placed_at pa;
    if (placed_init(&pa, p->nsteps + 2, n)) {
        free(L);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    for (int i = 0; i < nalloc; i++) {
        int nc = placed_overlapping(&pa, L[i].first + 1, L[i].last + 1, i);
        /* lowest offset that overlaps no placed tensor whose life overlaps */
        size_t off = 0;
        bool moved = true;
        while (moved) {
            moved = false;
            for (int c = 0; c < nc; c++) {
                int j = pa.cand[c];
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
        if (placed_add(&pa, L[i].first + 1, L[i].last + 1, i)) {
            placed_free(&pa);
            free(L);
            return di_fail(err, DI_ENOMEM, "out of memory");
        }
    }
    placed_free(&pa);
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
            if (L[i].alias->data && L[i].t->data != (uint8_t *)L[i].alias->data + L[i].alias_off) {
                L[i].t->data = (uint8_t *)L[i].alias->data + L[i].alias_off;
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
