/*
** opset.c: files of opsets 7 to 10 in the form of opset 11, at load.
**
** The kernels know the opset-11+ forms of the ops; older files (the official
** MiDaS v2.1 small release is opset 9) write some of them differently:
**   Upsample (7: scales attribute; 9: scales input)  -> Resize with
**     asymmetric coordinates, as onnxruntime runs Upsample (nearest: floor
**     when enlarging, ceil when shrinking);
**   Resize-10 (X, scales)                             -> Resize (X, "", scales),
**     the same coordinate convention;
**   Slice-1 (starts, ends, axes attributes)           -> Slice with inputs;
**   Pad-2 (pads, value attributes)                    -> Pad with inputs;
**   Clip-6 (min, max attributes)                      -> Clip with inputs;
**   BatchNormalization-7/9 (spatial; training outputs nobody reads) and
**   Dropout-7/10 (ratio): the inference form, unchanged attributes ignored.
** Constants the new inputs need are added as initializers named after the
** node ("<node>:starts"). Called by the loader after the topological sort,
** before the rewrites; an opset below 7 is refused by the loader.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* A new initializer (data copied); its index, or -1 when out of memory. */
static int add_const(di_nn_graph *g, const di_nn_node *n, const char *what, int dtype, int ndim,
                     const int64_t *dims, const void *data)
{
    di_nn_value *vals = realloc(g->values, ((size_t)g->nvalues + 1) * sizeof *vals);
    if (!vals)
        return -1;
    g->values = vals;
    di_nn_value *v = &vals[g->nvalues];
    memset(v, 0, sizeof *v);
    size_t bytes = (size_t)di_shape_numel(ndim, dims) * di_dtype_size(dtype);
    size_t len = strlen(n->name) + strlen(what) + 2;
    v->name = malloc(len);
    v->data = malloc(bytes ? bytes : 1);
    if (!v->name || !v->data) {
        free(v->name);
        free(v->data);
        return -1;
    }
    snprintf(v->name, len, "%s:%s", n->name, what);
    if (bytes && data)
        memcpy(v->data, data, bytes);
    else if (bytes)
        memset(v->data, 0, bytes);
    v->dtype = dtype;
    v->ndim = ndim;
    if (ndim)
        memcpy(v->dims, dims, sizeof(int64_t) * (size_t)ndim);
    v->producer = -1;
    return g->nvalues++;
}

/* Sets the node's inputs to ins[0..nin) */
static int set_inputs(di_nn_node *n, const int *ins, int nin)
{
    int *in = malloc(((size_t)nin + 1) * sizeof *in);
    if (!in)
        return DI_ENOMEM;
    memcpy(in, ins, (size_t)nin * sizeof *in);
    free(n->in);
    n->in = in;
    n->nin = nin;
    return DI_OK;
}

static void drop_attr(di_nn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name)) {
            di_nn_attr *a = &n->attrs[i];
            free(a->name);
            free(a->s);
            free(a->ints);
            free(a->floats);
            free(a->t_data);
            n->attrs[i] = n->attrs[--n->nattr];
            return;
        }
}

static int set_string_attr(di_nn_node *n, const char *name, const char *value)
{
    drop_attr(n, name);
    di_nn_attr *a = realloc(n->attrs, ((size_t)n->nattr + 1) * sizeof *a);
    if (!a)
        return DI_ENOMEM;
    n->attrs = a;
    a = &n->attrs[n->nattr];
    memset(a, 0, sizeof *a);
    a->name = strdup(name);
    a->s = strdup(value);
    a->type = 3;
    if (!a->name || !a->s) {
        free(a->name);
        free(a->s);
        return DI_ENOMEM;
    }
    n->nattr++;
    return DI_OK;
}

/* Upsample and Resize-10 -> Resize-11 with onnxruntime's convention for them */
static int to_resize(di_nn_graph *g, di_nn_node *n, di_error *err)
{
    int x = n->nin > 0 ? n->in[0] : -1, scales = n->nin > 1 ? n->in[1] : -1;
    const di_nn_attr *sa = di_nn_node_attr(n, "scales");
    if (x < 0)
        return di_nn_node_fail(err, DI_EFORMAT, n, "no input");
    if (scales < 0) { /* Upsample-7: the scales attribute */
        if (!sa || sa->type != 6 || !sa->floats || sa->n < 1 || sa->n > DI_NN_MAX_DIMS)
            return di_nn_node_fail(err, DI_EFORMAT, n, "no scales (input or attribute)");
        scales = add_const(g, n, "scales", DI_DT_FLOAT, 1, (int64_t[]){sa->n}, sa->floats);
        if (scales < 0)
            return di_fail(err, DI_ENOMEM, "out of memory");
    }
    if (n->nin > 2)
        return di_nn_node_fail(err, DI_EFORMAT, n, "%d inputs, expected 1 or 2", n->nin);
    /* nearest: floor when enlarging, ceil when shrinking (onnxruntime's
    ** "simple" mode of the old ops); known only for constant scales */
    const char *nearest = "floor";
    const di_nn_value *sv = &g->values[scales];
    if (sv->data && sv->dtype == DI_DT_FLOAT)
        for (int64_t i = 0; i < di_shape_numel(sv->ndim, sv->dims); i++)
            if (((const float *)sv->data)[i] < 1)
                nearest = "ceil";
    const char *mode = di_nn_attr_string(n, "mode", "nearest");
    if (!strcmp(mode, "bilinear"))
        mode = "linear"; /* Upsample-7's other spelling */
    if (strcmp(mode, "nearest") && strcmp(mode, "linear"))
        return di_nn_node_fail(err, DI_EUNSUPPORTED, n,
                               "mode=%s is not supported (nearest, linear)", mode);
    char *type = strdup("Resize");
    char mode_copy[16];
    snprintf(mode_copy, sizeof mode_copy, "%s", mode);
    if (!type || set_inputs(n, (int[]){x, -1, scales}, 3)) {
        free(type);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    free(n->op_type);
    n->op_type = type;
    drop_attr(n, "scales");
    if (set_string_attr(n, "mode", mode_copy) ||
        set_string_attr(n, "coordinate_transformation_mode", "asymmetric") ||
        set_string_attr(n, "nearest_mode", nearest))
        return di_fail(err, DI_ENOMEM, "out of memory");
    return DI_OK;
}

/* An ints attribute moved to an int64 input: its index, -1 when absent, -2
** when out of memory */
static int ints_input(di_nn_graph *g, di_nn_node *n, const char *name)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    if (!a)
        return -1;
    if (a->n && !a->ints)
        return -3; /* not a list of integers */
    int64_t cnt = a->n;
    int v = add_const(g, n, name, DI_DT_INT64, 1, &cnt, a->ints);
    if (v < 0)
        return -2;
    drop_attr(n, name);
    return v;
}

static int float_input(di_nn_graph *g, di_nn_node *n, const char *name, float dflt, bool *given)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    float f = a ? a->f : dflt;
    *given = a != NULL;
    int v = add_const(g, n, name, DI_DT_FLOAT, 0, NULL, &f);
    if (v >= 0 && a)
        drop_attr(n, name);
    return v;
}

static int convert_node(di_nn_graph *g, di_nn_node *n, const int *uses, di_error *err)
{
    const char *t = n->op_type;
    if (!strcmp(t, "Upsample") || (!strcmp(t, "Resize") && g->opset < 11))
        return to_resize(g, n, err);
    if (!strcmp(t, "Slice") && g->opset < 10) {
        if (n->nin != 1)
            return di_nn_node_fail(err, DI_EFORMAT, n, "Slice-1 takes 1 input, not %d", n->nin);
        int s = ints_input(g, n, "starts"), e = ints_input(g, n, "ends"),
            a = ints_input(g, n, "axes");
        if (s == -3 || e == -3 || a == -3)
            return di_nn_node_fail(err, DI_EFORMAT, n, "starts, ends or axes are not integers");
        if (s == -2 || e == -2 || a == -2)
            return di_fail(err, DI_ENOMEM, "out of memory");
        if (s < 0 || e < 0)
            return di_nn_node_fail(err, DI_EFORMAT, n, "no starts or ends attribute");
        return set_inputs(n, (int[]){n->in[0], s, e, a}, a >= 0 ? 4 : 3)
                   ? di_fail(err, DI_ENOMEM, "out of memory")
                   : DI_OK;
    }
    if (!strcmp(t, "Pad") && g->opset < 11) {
        if (n->nin != 1)
            return di_nn_node_fail(err, DI_EFORMAT, n, "Pad-2 takes 1 input, not %d", n->nin);
        int p = ints_input(g, n, "pads");
        if (p == -3)
            return di_nn_node_fail(err, DI_EFORMAT, n, "pads are not integers");
        if (p == -2)
            return di_fail(err, DI_ENOMEM, "out of memory");
        if (p < 0)
            return di_nn_node_fail(err, DI_EFORMAT, n, "no pads attribute");
        bool given;
        int v = float_input(g, n, "value", 0.f, &given);
        if (v < 0 || set_inputs(n, (int[]){n->in[0], p, v}, 3))
            return di_fail(err, DI_ENOMEM, "out of memory");
        return DI_OK;
    }
    if (!strcmp(t, "Clip") && g->opset < 11) {
        if (n->nin != 1)
            return di_nn_node_fail(err, DI_EFORMAT, n, "Clip-6 takes 1 input, not %d", n->nin);
        bool lo_given, hi_given;
        int lo = float_input(g, n, "min", -INFINITY, &lo_given);
        int hi = lo < 0 ? -1 : float_input(g, n, "max", INFINITY, &hi_given);
        if (lo < 0 || hi < 0 || set_inputs(n, (int[]){n->in[0], lo, hi}, 3))
            return di_fail(err, DI_ENOMEM, "out of memory");
        return DI_OK;
    }
    if (!strcmp(t, "BatchNormalization") || !strcmp(t, "Dropout")) {
        /* the training outputs (running statistics, saved mean/variance;
        ** Dropout's mask stays: the kernel writes it) when nothing reads them */
        if (!strcmp(t, "BatchNormalization")) {
            for (int j = 1; j < n->nout; j++)
                if (n->out[j] >= 0 && uses[n->out[j]])
                    return di_nn_node_fail(err, DI_EUNSUPPORTED, n, "training output %d is used",
                                           j);
            n->nout = 1;
            drop_attr(n, "spatial");
            drop_attr(n, "is_test");
            drop_attr(n, "consumed_inputs");
        }
        return DI_OK;
    }
    return DI_OK;
}

int di_nn_opset_convert(di_nn_graph *g, di_error *err)
{
    if (g->opset >= 11)
        return DI_OK;
    int *uses = calloc((size_t)g->nvalues + 1, sizeof(int));
    if (!uses)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] >= 0)
                uses[g->nodes[i].in[j]]++;
    for (int i = 0; i < g->noutputs; i++)
        uses[g->outputs[i]]++;
    int rc = DI_OK;
    for (int i = 0; i < g->nnodes && !rc; i++)
        rc = convert_node(g, &g->nodes[i], uses, err);
    free(uses);
    if (rc && err && !(err->named & DI_NAMED_FILE)) {
        di_error_prefix(err, "%s", g->path);
        err->named |= DI_NAMED_FILE;
    }
    return rc;
}
