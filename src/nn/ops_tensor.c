/*
** ops_tensor.c: ops that move elements around without arithmetic:
** Transpose, Concat, Slice, Gather, Expand, Split, Pad, Tile.
**
** They work on any element type by element size (1, 2, 4 or 8 bytes) on
** plain data. Shapes that depend on values (Slice's starts, Expand's shape,
** Pad's pads, Split's split) must be constants when the plan is built, as
** they are in exported models after constant folding.
*/
#include <stdlib.h>
#include <string.h>

#include "op.h"

static int known_dtype(const di_nn_kctx *k, di_error *err)
{
    if (!di_dtype_size(k->in[0]->dtype)) return di_nn_unsupported(err, k->node, "element type %s", di_dtype_name(k->in[0]->dtype));
    return DI_OK;
}

/* Copies one element of size es. */
static inline void put(uint8_t *dst, const uint8_t *src, size_t es)
{
    switch (es) {
    case 1: *dst = *src; break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

static void strides_of(int nd, const int64_t *dims, int64_t *st)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/*
** The general strided gather: out (dense, dims od) at index (i0..in-1)
** takes src[base + sum i_d * sst[d]] (element strides, may be 0 or
** negative). The last axis is the inner loop; a unit stride becomes memcpy.
*/
static void strided_copy(uint8_t *out, const uint8_t *src, size_t es, int nd,
                         const int64_t *od, int64_t base, const int64_t *sst)
{
    int64_t total = di_shape_numel(nd, od);
    if (total <= 0) return;
    if (nd == 0) {
        put(out, src + base * (int64_t)es, es);
        return;
    }
    int64_t inner = od[nd - 1], istride = sst[nd - 1];
    int64_t rows = total / inner, idx[DI_NN_MAX_DIMS] = {0};
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = base;
        for (int d = 0; d < nd - 1; d++) off += idx[d] * sst[d];
        uint8_t *o = out + (size_t)(r * inner) * es;
        if (istride == 1) {
            memcpy(o, src + off * (int64_t)es, (size_t)inner * es);
        } else if (es == 4) {
            const uint32_t *s4 = (const uint32_t *)(const void *)src + off;
            uint32_t *o4 = (uint32_t *)(void *)o;
            for (int64_t i = 0; i < inner; i++) o4[i] = s4[i * istride];
        } else {
            for (int64_t i = 0; i < inner; i++) put(o + (size_t)i * es, src + (off + i * istride) * (int64_t)es, es);
        }
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < od[d]) break;
            idx[d] = 0;
        }
    }
}

/* ---- Transpose ---- */

typedef struct perm_state {
    int nd;
    int64_t od[DI_NN_MAX_DIMS], sst[DI_NN_MAX_DIMS];
} perm_state;

static int transpose_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim;
    int64_t perm[DI_NN_MAX_DIMS];
    const di_nn_attr *a = di_nn_node_attr(k->node, "perm");
    if (a) {
        if (a->n != nd) return di_nn_shape_error(err, k->node, "perm has %d values for a %d-D input", a->n, nd);
        for (int i = 0; i < nd; i++) perm[i] = a->ints[i];
    } else {
        for (int i = 0; i < nd; i++) perm[i] = nd - 1 - i;
    }
    bool used[DI_NN_MAX_DIMS] = {0};
    for (int i = 0; i < nd; i++) {
        if (perm[i] < 0) perm[i] += nd;
        if (perm[i] < 0 || perm[i] >= nd || used[perm[i]]) return di_nn_shape_error(err, k->node, "perm is not a permutation of %d axes", nd);
        used[perm[i]] = true;
    }
    perm_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    int64_t ist[DI_NN_MAX_DIMS];
    strides_of(nd, x->dims, ist);
    s->nd = nd;
    for (int i = 0; i < nd; i++) {
        s->od[i] = x->dims[perm[i]];
        s->sst[i] = ist[perm[i]];
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, s->od);
    k->state = s;
    return DI_OK;
}

static int transpose_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const perm_state *s = k->state;
    strided_copy(k->out[0]->data, k->in[0]->data, di_dtype_size(k->in[0]->dtype), s->nd, s->od, 0, s->sst);
    return DI_OK;
}

/* ---- Concat ---- */

static int concat_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    if (!di_nn_node_attr(n, "axis")) return di_nn_unsupported(err, n, "a missing axis attribute");
    return DI_OK;
}

static int concat_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim;
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (axis < -nd || axis >= nd) return di_nn_shape_error(err, k->node, "axis %lld out of range for rank %d", (long long)axis, nd);
    if (axis < 0) axis += nd;
    int64_t od[DI_NN_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    od[axis] = 0;
    for (int i = 0; i < k->nin; i++) {
        const di_nn_tensor *t = k->in[i];
        if (!t) return di_nn_shape_error(err, k->node, "input %d is missing", i);
        if (t->dtype != x->dtype) return di_nn_shape_error(err, k->node, "inputs of different element types (%s, %s)", di_dtype_name(x->dtype), di_dtype_name(t->dtype));
        if (t->ndim != nd) return di_nn_shape_error(err, k->node, "input %d has rank %d, input 0 rank %d", i, t->ndim, nd);
        for (int d = 0; d < nd; d++)
            if (d != axis && t->dims[d] != x->dims[d])
                return di_nn_shape_error(err, k->node, "input %d has %lld at axis %d, input 0 %lld", i, (long long)t->dims[d], d, (long long)x->dims[d]);
        od[axis] += t->dims[axis];
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    int64_t *st = malloc(sizeof *st);
    if (!st) return di_fail(err, DI_ENOMEM, "out of memory");
    *st = axis;
    k->state = st;
    return DI_OK;
}

static int concat_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    int axis = (int)*(const int64_t *)k->state;
    const di_nn_tensor *y = k->out[0];
    size_t es = di_dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y->dims[d];
    for (int d = axis + 1; d < y->ndim; d++) inner *= y->dims[d];
    size_t out_row = (size_t)(y->dims[axis] * inner) * es;
    size_t at = 0;
    for (int i = 0; i < k->nin; i++) {
        const di_nn_tensor *t = k->in[i];
        size_t row = (size_t)(t->dims[axis] * inner) * es;
        if (!row) continue;
        const uint8_t *src = t->data;
        uint8_t *dst = (uint8_t *)y->data + at;
        for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * out_row, src + (size_t)o * row, row);
        at += row;
    }
    return DI_OK;
}

/* ---- Slice ---- */

typedef struct slice_state {
    int nd;
    int64_t od[DI_NN_MAX_DIMS], sst[DI_NN_MAX_DIMS], base;
} slice_state;

static int const_list(const di_nn_kctx *k, int i, int64_t *v, int *n, const char *what, di_error *err)
{
    if (di_nn_const_ints(k->in[i], v, DI_NN_MAX_DIMS, n))
        return di_nn_unsupported(err, k->node, "%s that are not a constant integer tensor", what);
    return DI_OK;
}

static int slice_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim, ns, ne, na = 0, nst = 0;
    int64_t starts[DI_NN_MAX_DIMS], ends[DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS], steps[DI_NN_MAX_DIMS];
    if ((rc = const_list(k, 1, starts, &ns, "starts", err)) || (rc = const_list(k, 2, ends, &ne, "ends", err))) return rc;
    if (ns != ne) return di_nn_shape_error(err, k->node, "%d starts but %d ends", ns, ne);
    if (k->nin > 3 && k->in[3]) {
        if ((rc = const_list(k, 3, axes, &na, "axes", err))) return rc;
        if (na != ns) return di_nn_shape_error(err, k->node, "%d axes for %d starts", na, ns);
    } else {
        for (int i = 0; i < ns; i++) axes[i] = i;
    }
    if (k->nin > 4 && k->in[4]) {
        if ((rc = const_list(k, 4, steps, &nst, "steps", err))) return rc;
        if (nst != ns) return di_nn_shape_error(err, k->node, "%d steps for %d starts", nst, ns);
    } else {
        for (int i = 0; i < ns; i++) steps[i] = 1;
    }
    slice_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    int64_t ist[DI_NN_MAX_DIMS], begin[DI_NN_MAX_DIMS], step[DI_NN_MAX_DIMS];
    bool seen[DI_NN_MAX_DIMS] = {0};
    strides_of(nd, x->dims, ist);
    for (int d = 0; d < nd; d++) {
        begin[d] = 0;
        step[d] = 1;
        s->od[d] = x->dims[d];
    }
    for (int i = 0; i < ns; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + nd : axes[i];
        if (a < 0 || a >= nd || seen[a]) {
            free(s);
            return di_nn_shape_error(err, k->node, "bad or repeated axis %lld", (long long)axes[i]);
        }
        seen[a] = true;
        int64_t dim = x->dims[a], st = steps[i], b = starts[i], e = ends[i];
        if (st == 0) {
            free(s);
            return di_nn_shape_error(err, k->node, "step 0");
        }
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        int64_t cnt;
        if (st > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > b ? (e - b + st - 1) / st : 0;
        } else {
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = b > e ? (b - e + (-st) - 1) / (-st) : 0;
        }
        begin[a] = cnt ? b : 0;
        step[a] = st;
        s->od[a] = cnt;
    }
    s->nd = nd;
    for (int d = 0; d < nd; d++) {
        s->base += begin[d] * ist[d];
        s->sst[d] = step[d] * ist[d];
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, s->od);
    k->state = s;
    return DI_OK;
}

static int slice_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const slice_state *s = k->state;
    strided_copy(k->out[0]->data, k->in[0]->data, di_dtype_size(k->in[0]->dtype), s->nd, s->od, s->base, s->sst);
    return DI_OK;
}

/* ---- Gather ---- */

static int gather_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    if (idx->dtype != DI_DT_INT64 && idx->dtype != DI_DT_INT32) return di_nn_unsupported(err, k->node, "indices of type %s", di_dtype_name(idx->dtype));
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (axis < -x->ndim || axis >= x->ndim) return di_nn_shape_error(err, k->node, "axis %lld out of range for rank %d", (long long)axis, x->ndim);
    if (axis < 0) axis += x->ndim;
    int nd = x->ndim - 1 + idx->ndim;
    if (nd > DI_NN_MAX_DIMS) return di_nn_unsupported(err, k->node, "a result of rank %d", nd);
    int64_t od[DI_NN_MAX_DIMS];
    int j = 0;
    for (int d = 0; d < axis; d++) od[j++] = x->dims[d];
    for (int d = 0; d < idx->ndim; d++) od[j++] = idx->dims[d];
    for (int d = (int)axis + 1; d < x->ndim; d++) od[j++] = x->dims[d];
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    int64_t *st = malloc(sizeof *st);
    if (!st) return di_fail(err, DI_ENOMEM, "out of memory");
    *st = axis;
    k->state = st;
    return DI_OK;
}

static int gather_run(di_nn_kctx *k, di_error *err)
{
    int axis = (int)*(const int64_t *)k->state;
    const di_nn_tensor *x = k->in[0], *idx = k->in[1];
    size_t es = di_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, dim = x->dims[axis], ni = di_nn_numel(idx);
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    size_t chunk = (size_t)inner * es;
    const uint8_t *src = x->data;
    uint8_t *dst = k->out[0]->data;
    for (int64_t i = 0; i < ni; i++) {
        int64_t v = idx->dtype == DI_DT_INT64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
        if (v < -dim || v >= dim)
            return di_fail(err, DI_EINVAL, "node '%s' (Gather): index %lld is out of range for axis of size %lld", k->node->name, (long long)v, (long long)dim);
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = idx->dtype == DI_DT_INT64 ? ((const int64_t *)idx->data)[i] : ((const int32_t *)idx->data)[i];
            if (v < 0) v += dim;
            memcpy(dst + (size_t)(o * ni + i) * chunk, src + (size_t)(o * dim + v) * chunk, chunk);
        }
    return DI_OK;
}

/* ---- Expand, Tile ---- */

static int expand_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t sh[DI_NN_MAX_DIMS];
    int ns;
    if ((rc = const_list(k, 1, sh, &ns, "a shape", err))) return rc;
    di_nn_tensor shape_t = {.ndim = ns};
    memcpy(shape_t.dims, sh, sizeof(int64_t) * (size_t)ns);
    perm_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    if ((rc = di_nn_broadcast(k->node, x, &shape_t, &s->nd, s->od, err))) {
        free(s);
        return rc;
    }
    int64_t ist[DI_NN_MAX_DIMS];
    strides_of(x->ndim, x->dims, ist);
    for (int d = 0; d < s->nd; d++) {
        int xd = d - (s->nd - x->ndim);
        s->sst[d] = xd < 0 || x->dims[xd] == 1 ? 0 : ist[xd];
    }
    di_nn_set_shape(k->out[0], x->dtype, s->nd, s->od);
    k->state = s;
    return DI_OK;
}

static int expand_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const perm_state *s = k->state;
    strided_copy(k->out[0]->data, k->in[0]->data, di_dtype_size(k->in[0]->dtype), s->nd, s->od, 0, s->sst);
    return DI_OK;
}

static int tile_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int64_t rep[DI_NN_MAX_DIMS];
    int nr;
    if ((rc = const_list(k, 1, rep, &nr, "repeats", err))) return rc;
    if (nr != x->ndim) return di_nn_shape_error(err, k->node, "%d repeats for rank %d", nr, x->ndim);
    int64_t od[DI_NN_MAX_DIMS];
    for (int d = 0; d < nr; d++) {
        if (rep[d] < 0) return di_nn_shape_error(err, k->node, "negative repeat");
        od[d] = x->dims[d] * rep[d];
    }
    di_nn_set_shape(k->out[0], x->dtype, nr, od);
    return DI_OK;
}

static int tile_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const di_nn_tensor *x = k->in[0], *y = k->out[0];
    size_t es = di_dtype_size(x->dtype);
    int nd = y->ndim;
    int64_t total = di_nn_numel(y), ist[DI_NN_MAX_DIMS], idx[DI_NN_MAX_DIMS] = {0};
    strides_of(nd, x->dims, ist);
    const uint8_t *src = x->data;
    uint8_t *dst = y->data;
    for (int64_t i = 0; i < total; i++) {
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += (idx[d] % x->dims[d]) * ist[d];
        put(dst + (size_t)i * es, src + (size_t)off * es, es);
        for (int d = nd - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return DI_OK;
}

/* ---- Split ---- */

typedef struct split_state {
    int axis;
    int64_t sizes[64];
} split_state;

static int split_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    if (k->nout > 64) return di_nn_unsupported(err, k->node, "%d outputs", k->nout);
    int64_t axis = di_nn_attr_int(k->node, "axis", 0);
    if (axis < -x->ndim || axis >= x->ndim) return di_nn_shape_error(err, k->node, "axis %lld out of range for rank %d", (long long)axis, x->ndim);
    if (axis < 0) axis += x->ndim;
    split_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    s->axis = (int)axis;
    int64_t dim = x->dims[axis], sum = 0;
    const di_nn_attr *a = di_nn_node_attr(k->node, "split");
    if (k->nin > 1 && k->in[1]) {
        const di_nn_tensor *t = k->in[1];
        int64_t cnt = di_nn_numel(t);
        if (!t->is_const || (t->dtype != DI_DT_INT64 && t->dtype != DI_DT_INT32) || cnt != k->nout) {
            free(s);
            return di_nn_unsupported(err, k->node, "split that is not a constant integer tensor of %d values", k->nout);
        }
        for (int i = 0; i < k->nout; i++) s->sizes[i] = t->dtype == DI_DT_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    } else if (a) {
        if (a->n != k->nout) {
            free(s);
            return di_nn_shape_error(err, k->node, "split has %d values for %d outputs", a->n, k->nout);
        }
        for (int i = 0; i < k->nout; i++) s->sizes[i] = a->ints[i];
    } else {
        /* equal parts; with num_outputs (opset 18) the last may be smaller */
        int64_t parts = k->nout, each = (dim + parts - 1) / parts;
        if (!di_nn_node_attr(k->node, "num_outputs") && dim % parts) {
            free(s);
            return di_nn_shape_error(err, k->node, "axis of size %lld does not split into %lld equal parts", (long long)dim, (long long)parts);
        }
        for (int i = 0; i < k->nout; i++) s->sizes[i] = i < k->nout - 1 ? each : dim - each * (parts - 1);
    }
    for (int i = 0; i < k->nout; i++) {
        if (s->sizes[i] < 0) {
            free(s);
            return di_nn_shape_error(err, k->node, "negative split size");
        }
        sum += s->sizes[i];
    }
    if (sum != dim) {
        free(s);
        return di_nn_shape_error(err, k->node, "split sizes add up to %lld, the axis has %lld", (long long)sum, (long long)dim);
    }
    for (int i = 0; i < k->nout; i++) {
        if (!k->out[i]) continue;
        int64_t od[DI_NN_MAX_DIMS];
        memcpy(od, x->dims, sizeof od);
        od[axis] = s->sizes[i];
        di_nn_set_shape(k->out[i], x->dtype, x->ndim, od);
    }
    k->state = s;
    return DI_OK;
}

static int split_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const split_state *s = k->state;
    const di_nn_tensor *x = k->in[0];
    size_t es = di_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < s->axis; d++) outer *= x->dims[d];
    for (int d = s->axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    size_t in_row = (size_t)(x->dims[s->axis] * inner) * es, at = 0;
    for (int i = 0; i < k->nout; i++) {
        size_t row = (size_t)(s->sizes[i] * inner) * es;
        if (k->out[i] && row) {
            uint8_t *dst = k->out[i]->data;
            const uint8_t *src = (const uint8_t *)x->data + at;
            for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * row, src + (size_t)o * in_row, row);
        }
        at += row;
    }
    return DI_OK;
}

/* ---- Pad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static int pad_check(const di_nn_graph *g, const di_nn_node *n, di_error *err)
{
    (void)g;
    const char *m = di_nn_attr_string(n, "mode", "constant");
    if (strcmp(m, "constant") && strcmp(m, "reflect") && strcmp(m, "edge")) return di_nn_unsupported(err, n, "mode=%s", m);
    if (di_nn_node_attr(n, "pads")) return di_nn_unsupported(err, n, "pads as an attribute (opset < 11)");
    return DI_OK;
}

typedef struct pad_state {
    int mode;
    int64_t before[DI_NN_MAX_DIMS];
    uint8_t value[8];
} pad_state;

static int pad_prepare(di_nn_kctx *k, di_error *err)
{
    int rc = known_dtype(k, err);
    if (rc) return rc;
    const di_nn_tensor *x = k->in[0];
    int nd = x->ndim, np;
    int64_t pads[2 * DI_NN_MAX_DIMS], axes[DI_NN_MAX_DIMS];
    if (di_nn_const_ints(k->in[1], pads, 2 * DI_NN_MAX_DIMS, &np)) return di_nn_unsupported(err, k->node, "pads that are not a constant integer tensor");
    int na = nd;
    if (k->nin > 3 && k->in[3]) {
        if ((rc = const_list(k, 3, axes, &na, "axes", err))) return rc;
        for (int i = 0; i < na; i++) {
            if (axes[i] < 0) axes[i] += nd;
            if (axes[i] < 0 || axes[i] >= nd) return di_nn_shape_error(err, k->node, "axis out of range");
        }
    } else {
        for (int i = 0; i < nd; i++) axes[i] = i;
    }
    if (np != 2 * na) return di_nn_shape_error(err, k->node, "%d pads for %d axes", np, na);
    pad_state *s = calloc(1, sizeof *s);
    if (!s) return di_fail(err, DI_ENOMEM, "out of memory");
    const char *m = di_nn_attr_string(k->node, "mode", "constant");
    s->mode = !strcmp(m, "reflect") ? PAD_REFLECT : !strcmp(m, "edge") ? PAD_EDGE : PAD_CONSTANT;
    int64_t od[DI_NN_MAX_DIMS];
    memcpy(od, x->dims, sizeof od);
    for (int i = 0; i < na; i++) {
        int a = (int)axes[i];
        s->before[a] = pads[i];
        od[a] = x->dims[a] + pads[i] + pads[i + na];
        bool bad = od[a] < 0;
        if (s->mode != PAD_CONSTANT && od[a] > 0 && x->dims[a] == 0) bad = true;
        if (s->mode == PAD_REFLECT && (pads[i] >= x->dims[a] || pads[i + na] >= x->dims[a]) && (pads[i] > 0 || pads[i + na] > 0)) bad = true;
        if (bad) {
            free(s);
            return di_nn_shape_error(err, k->node, "pads %lld,%lld do not fit axis %d of size %lld in mode %s", (long long)pads[i], (long long)pads[i + na], a, (long long)x->dims[a], m);
        }
    }
    if (k->nin > 2 && k->in[2] && di_nn_numel(k->in[2]) > 0) {
        const di_nn_tensor *v = k->in[2];
        if (v->dtype != x->dtype || !v->is_const) {
            free(s);
            return di_nn_unsupported(err, k->node, "constant_value that is not a constant %s", di_dtype_name(x->dtype));
        }
        memcpy(s->value, v->data, di_dtype_size(x->dtype));
    }
    di_nn_set_shape(k->out[0], x->dtype, nd, od);
    k->state = s;
    return DI_OK;
}

/* Source index along one axis, or -1 for the constant. */
static inline int64_t pad_src(int mode, int64_t o, int64_t before, int64_t n)
{
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    if (mode == PAD_CONSTANT) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : n - 1;
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

static int pad_run(di_nn_kctx *k, di_error *err)
{
    (void)err;
    const pad_state *s = k->state;
    const di_nn_tensor *x = k->in[0], *y = k->out[0];
    size_t es = di_dtype_size(x->dtype);
    int nd = y->ndim;
    int64_t total = di_nn_numel(y);
    if (total <= 0) return DI_OK;
    const uint8_t *src = x->data;
    uint8_t *dst = y->data;
    if (nd == 0) {
        memcpy(dst, src, es);
        return DI_OK;
    }
    int64_t ist[DI_NN_MAX_DIMS], idx[DI_NN_MAX_DIMS] = {0};
    strides_of(nd, x->dims, ist);
    int64_t inner = y->dims[nd - 1], rows = total / inner, last = nd - 1;
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = 0;
        bool fill = false;
        for (int d = 0; d < last; d++) {
            int64_t si = pad_src(s->mode, idx[d], s->before[d], x->dims[d]);
            if (si < 0) fill = true;
            else off += si * ist[d];
        }
        uint8_t *o = dst + (size_t)(r * inner) * es;
        for (int64_t i = 0; i < inner; i++) {
            int64_t si = fill ? -1 : pad_src(s->mode, i, s->before[last], x->dims[last]);
            put(o + (size_t)i * es, si < 0 ? s->value : src + (size_t)(off + si) * es, es);
        }
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return DI_OK;
}

const di_nn_op di_op_Transpose = {.name = "Transpose", .min_in = 1, .max_in = 1, .prepare = transpose_prepare, .run = transpose_run, .release = free};
const di_nn_op di_op_Concat = {.name = "Concat", .min_in = 1, .max_in = 1 << 16, .check = concat_check, .prepare = concat_prepare, .run = concat_run, .release = free};
const di_nn_op di_op_Slice = {.name = "Slice", .min_in = 3, .max_in = 5, .prepare = slice_prepare, .run = slice_run, .release = free};
const di_nn_op di_op_Gather = {.name = "Gather", .min_in = 2, .max_in = 2, .prepare = gather_prepare, .run = gather_run, .release = free};
const di_nn_op di_op_Expand = {.name = "Expand", .min_in = 2, .max_in = 2, .prepare = expand_prepare, .run = expand_run, .release = free};
const di_nn_op di_op_Tile = {.name = "Tile", .min_in = 2, .max_in = 2, .prepare = tile_prepare, .run = tile_run};
const di_nn_op di_op_Split = {.name = "Split", .min_in = 1, .max_in = 2, .prepare = split_prepare, .run = split_run, .release = free};
const di_nn_op di_op_Pad = {.name = "Pad", .min_in = 2, .max_in = 4, .check = pad_check, .prepare = pad_prepare, .run = pad_run, .release = free};
