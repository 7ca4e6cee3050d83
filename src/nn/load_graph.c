/*
** load_graph.c: an ONNX ModelProto -> the graph IR: values by name, nodes
** with their attributes, initializers copied out (load_tensor.c); nodes put
** in topological order, rewritten (rewrite.c), and each checked against the
** op table (ops.c).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

/* Graph size bounds: about 20 times the largest exported vision models. */
#define DI_NN_MAX_NODES (1 << 20)
#define DI_NN_MAX_VALUE_REFS (1 << 23)

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

typedef struct name_map { /* open addressing: name -> value index */
    int cap;
    int *slot;
} name_map;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int map_find(const name_map *m, const di_nn_graph *g, const char *name)
{
    for (uint64_t i = hash_str(name) & (uint64_t)(m->cap - 1);;
         i = (i + 1) & (uint64_t)(m->cap - 1)) {
        int v = m->slot[i];
        if (v < 0)
            return -1;
        if (!strcmp(g->values[v].name, name))
            return v;
    }
}

static void map_put(name_map *m, const char *name, int v)
{
    uint64_t i = hash_str(name) & (uint64_t)(m->cap - 1);
    while (m->slot[i] >= 0)
        i = (i + 1) & (uint64_t)(m->cap - 1);
    m->slot[i] = v;
}

static int add_value(di_nn_graph *g, name_map *m, const char *name, int cap)
{
    int v = map_find(m, g, name);
    if (v >= 0)
        return v;
    if (g->nvalues >= cap)
        return -1;
    v = g->nvalues++;
    di_nn_value *val = &g->values[v];
    memset(val, 0, sizeof *val);
    val->name = dupstr(name);
    val->ndim = -1;
    val->producer = -1;
    map_put(m, val->name, v);
    return v;
}

static void value_info(di_nn_value *v, const Onnx__ValueInfoProto *vi)
{
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        !vi->type->tensor_type)
        return;
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type)
        v->dtype = tt->elem_type;
    if (tt->shape && tt->shape->n_dim <= DI_NN_MAX_DIMS) {
        v->ndim = (int)tt->shape->n_dim;
        for (int i = 0; i < v->ndim; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            v->dims[i] =
                (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                 d->dim_value >= 0)
                    ? d->dim_value
                    : -1;
        }
    }
}

static int copy_attr(loader *L, const Onnx__AttributeProto *a, di_nn_attr *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = dupstr(a->name);
    out->type = a->type;
    out->f = a->f;
    out->i = a->i;
    if (a->has_s) {
        out->s = malloc(a->s.len + 1);
        if (!out->s)
            return di_fail(err, DI_ENOMEM, "out of memory");
        if (a->s.len)
            memcpy(out->s, a->s.data, a->s.len);
        out->s[a->s.len] = 0;
    }
    if (a->n_ints) {
        out->n = (int)a->n_ints;
        out->ints = malloc(a->n_ints * sizeof(int64_t));
        if (!out->ints)
            return di_fail(err, DI_ENOMEM, "out of memory");
        memcpy(out->ints, a->ints, a->n_ints * sizeof(int64_t));
    } else if (a->n_floats) {
        out->n = (int)a->n_floats;
        out->floats = malloc(a->n_floats * sizeof(float));
        if (!out->floats)
            return di_fail(err, DI_ENOMEM, "out of memory");
        memcpy(out->floats, a->floats, a->n_floats * sizeof(float));
    }
    if (a->t)
        return di_nn_tensor_from_proto(L, a->t, &out->t_dtype, &out->t_ndim, out->t_dims,
                                       &out->t_data, err);
    return DI_OK;
}

/* Kahn's algorithm. On a cycle, names a node that is on (or behind) it. */
static int topo_sort(di_nn_graph *g, di_error *err)
{
    int n = g->nnodes, rc = DI_OK;
    int *first = NULL, *users = NULL;
    int *indeg = calloc((size_t)n + 1, sizeof(int));
    int *order = malloc(((size_t)n + 1) * sizeof(int));
    di_nn_node *sorted = malloc(((size_t)n + 1) * sizeof(di_nn_node));
    if (!indeg || !order || !sorted) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int v = g->nodes[i].in[j];
            if (v >= 0 && g->values[v].producer >= 0)
                indeg[i]++;
        }
    /* consumers of each value, one entry per input slot (CSR): the sort is
    ** linear in the graph's size, not nodes x values */
    int nv = g->nvalues;
    first = calloc((size_t)nv + 2, sizeof(int));
    if (!first) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] >= 0)
                first[g->nodes[i].in[j] + 2]++;
    for (int v = 0; v < nv; v++)
        first[v + 2] += first[v + 1];
    users = malloc(((size_t)first[nv + 1] + 1) * sizeof(int));
    if (!users) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] >= 0)
                users[first[g->nodes[i].in[j] + 1]++] = i;
    /* now first[v] .. first[v + 1] are v's consumers */
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (!indeg[i])
            order[tail++] = i;
    while (head < tail) {
        int u = order[head++];
        for (int o = 0; o < g->nodes[u].nout; o++) {
            int v = g->nodes[u].out[o];
            if (v < 0)
                continue;
            for (int k = first[v]; k < first[v + 1]; k++)
                if (--indeg[users[k]] == 0)
                    order[tail++] = users[k];
        }
    }
    if (tail < n) {
        for (int i = 0; i < n; i++)
            if (indeg[i]) {
                rc = di_fail(err, DI_EFORMAT, "%s: the graph has a cycle through node '%s' (%s)",
                             g->path, g->nodes[i].name, g->nodes[i].op_type);
                break;
            }
        goto done;
    }
    int *newidx = indeg; /* reuse */
    for (int i = 0; i < n; i++) {
        sorted[i] = g->nodes[order[i]];
        newidx[order[i]] = i;
    }
    memcpy(g->nodes, sorted, (size_t)n * sizeof(di_nn_node));
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].producer >= 0)
            g->values[v].producer = newidx[g->values[v].producer];
done:
    free(first);
    free(users);
    free(indeg);
    free(order);
    free(sorted);
    return rc;
}

static int note_unsupported(di_nn_graph *g, const di_error *e)
{
    char **u = realloc(g->unsupported, ((size_t)g->nunsupported + 1) * sizeof(char *));
    if (!u)
        return DI_ENOMEM;
    g->unsupported = u;
    if (!(u[g->nunsupported] = strdup(e->msg)))
        return DI_ENOMEM;
    g->nunsupported++;
    return DI_OK;
}

int di_nn_graph_build(loader *L, const Onnx__ModelProto *mp, const Onnx__GraphProto *gp,
                      di_nn_graph *g, di_error *err)
{
    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx"))
            g->opset = o->version;
    }
    if (g->opset < 0) {
        if (mp->n_opset_import && mp->opset_import[0]->domain)
            return di_fail(
                err, DI_EUNSUPPORTED,
                "%s: operator set domain '%s' is not supported (only the default ONNX domain)",
                L->name, mp->opset_import[0]->domain);
        return di_fail(err, DI_EFORMAT, "%s: no opset import for the default ONNX domain", L->name);
    }
    if (g->opset < 7 || g->opset > 21)
        return di_fail(err, DI_EUNSUPPORTED, "%s: opset %lld is not supported (supported: 7 to 21)",
                       L->name, (long long)g->opset);

    /* a bound on the graph's size keeps every count an int and the memory
    ** the graph takes within reason, whatever a file declares */
    if (gp->n_node > DI_NN_MAX_NODES)
        return di_fail(err, DI_EUNSUPPORTED, "%s: %zu nodes: too large a graph (at most %d nodes)",
                       L->name, gp->n_node, DI_NN_MAX_NODES);
    size_t refs = gp->n_input + gp->n_initializer + gp->n_output + gp->n_value_info + 1;
    for (size_t i = 0; i < gp->n_node; i++)
        refs += gp->node[i]->n_input + gp->node[i]->n_output;
    if (refs > DI_NN_MAX_VALUE_REFS)
        return di_fail(err, DI_EUNSUPPORTED,
                       "%s: %zu value names (inputs, outputs, initializers, value infos): too "
                       "large a graph (at most %d)",
                       L->name, refs, DI_NN_MAX_VALUE_REFS);
    int cap = (int)refs;
    g->values = calloc((size_t)cap, sizeof(di_nn_value));
    g->nodes = calloc(gp->n_node + 1, sizeof(di_nn_node));
    name_map m = {1, NULL};
    while (m.cap < 2 * cap)
        m.cap *= 2;
    m.slot = malloc((size_t)m.cap * sizeof(int));
    g->inputs = calloc(gp->n_input + 1, sizeof(int));
    g->outputs = calloc(gp->n_output + 1, sizeof(int));
    if (!g->values || !g->nodes || !m.slot || !g->inputs || !g->outputs) {
        free(m.slot);
        return di_fail(err, DI_ENOMEM, "out of memory");
    }
    memset(m.slot, 0xff, (size_t)m.cap * sizeof(int));
    int rc = DI_OK;

    for (size_t i = 0; i < gp->n_initializer && !rc; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !*t->name) {
            rc = di_fail(err, DI_EFORMAT, "%s: an initializer has no name", L->name);
            break;
        }
        int v = add_value(g, &m, t->name, cap);
        if (g->values[v].data) {
            rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s' is given twice", L->name, t->name);
            break;
        }
        di_nn_value *val = &g->values[v];
        rc = di_nn_tensor_from_proto(L, t, &val->dtype, &val->ndim, val->dims, &val->data, err);
        if (!rc && val->dtype == DI_DT_FLOAT)
            g->param_count += di_shape_numel(val->ndim, val->dims);
    }
    for (size_t i = 0; i < gp->n_input && !rc; i++) {
        const char *nm = gp->input[i]->name;
        if (!nm || !*nm) {
            rc = di_fail(err, DI_EFORMAT, "%s: a graph input has no name", L->name);
            break;
        }
        int v = add_value(g, &m, nm, cap);
        if (g->values[v].data)
            continue; /* an initializer listed as input (old exporters) */
        const Onnx__TypeProto *tp = gp->input[i]->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            rc = di_fail(err, DI_EUNSUPPORTED,
                         "%s: graph input '%s' is not a tensor (sequence, map or optional types "
                         "are not supported)",
                         L->name, nm);
            break;
        }
        value_info(&g->values[v], gp->input[i]);
        g->inputs[g->ninputs++] = v;
    }
    for (size_t i = 0; i < gp->n_node && !rc; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        di_nn_node *nd = &g->nodes[g->nnodes++];
        char auto_name[64];
        snprintf(auto_name, sizeof auto_name, "%s#%zu", np->op_type ? np->op_type : "?", i);
        nd->name = dupstr(np->name && *np->name ? np->name : auto_name);
        nd->op_type = dupstr(np->op_type);
        nd->in = calloc(np->n_input + 1, sizeof(int));
        nd->out = calloc(np->n_output + 1, sizeof(int));
        nd->attrs = calloc(np->n_attribute + 1, sizeof(di_nn_attr));
        if (!nd->name || !nd->op_type || !nd->in || !nd->out || !nd->attrs) {
            rc = di_fail(err, DI_ENOMEM, "out of memory");
            break;
        }
        if (np->domain && *np->domain && strcmp(np->domain, "ai.onnx") &&
            !di_nn_quant_domain_op(np->domain, np->op_type)) {
            rc = di_fail(err, DI_EUNSUPPORTED,
                         "%s: node '%s': op %s of domain '%s' is not supported", L->name, nd->name,
                         nd->op_type, np->domain);
            break;
        }
        for (size_t j = 0; j < np->n_attribute && !rc; j++) {
            rc = copy_attr(L, np->attribute[j], &nd->attrs[j], err);
            nd->nattr++;
        }
        for (size_t j = 0; j < np->n_input; j++) {
            const char *nm = np->input[j];
            nd->in[nd->nin++] = (nm && *nm) ? add_value(g, &m, nm, cap) : -1;
        }
        for (size_t j = 0; j < np->n_output && !rc; j++) {
            const char *nm = np->output[j];
            if (!nm || !*nm) {
                nd->out[nd->nout++] = -1;
                continue;
            }
            int v = add_value(g, &m, nm, cap);
            if (g->values[v].producer >= 0 || g->values[v].data) {
                rc = di_fail(err, DI_EFORMAT, "%s: node '%s': output '%s' is produced twice",
                             L->name, nd->name, nm);
                break;
            }
            g->values[v].producer = (int)i;
            nd->out[nd->nout++] = v;
        }
    }
    for (size_t i = 0; i < gp->n_value_info && !rc; i++) {
        int v = gp->value_info[i]->name ? map_find(&m, g, gp->value_info[i]->name) : -1;
        if (v >= 0 && !g->values[v].data)
            value_info(&g->values[v], gp->value_info[i]);
    }
    for (size_t i = 0; i < gp->n_output && !rc; i++) {
        const char *nm = gp->output[i]->name;
        int v = nm ? map_find(&m, g, nm) : -1;
        if (v < 0) {
            rc = di_fail(err, DI_EFORMAT, "%s: graph output '%s' is produced by no node", L->name,
                         nm ? nm : "");
            break;
        }
        if (g->values[v].ndim < 0)
            value_info(&g->values[v], gp->output[i]);
        g->outputs[g->noutputs++] = v;
    }
    free(m.slot);
    if (rc)
        return rc;
    if (g->noutputs == 0)
        return di_fail(err, DI_EFORMAT, "%s: the graph has no outputs", L->name);

    /* Every input must come from somewhere. */
    char *is_input = calloc((size_t)g->nvalues + 1, 1);
    if (!is_input)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (int k = 0; k < g->ninputs; k++)
        is_input[g->inputs[k]] = 1;
    for (int i = 0; i < g->nnodes && !rc; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int v = g->nodes[i].in[j];
            if (v < 0 || g->values[v].producer >= 0 || g->values[v].data || is_input[v])
                continue;
            rc = di_fail(
                err, DI_EFORMAT,
                "%s: node '%s': input '%s' is not produced by any node, initializer or graph input",
                L->name, g->nodes[i].name, g->values[v].name);
            break;
        }
    free(is_input);
    if (rc)
        return rc;

    rc = topo_sort(g, err);
    if (rc)
        return rc;
    /* opsets 7 to 10: their forms of Upsample, Resize, Slice, Pad, Clip (opset.c) */
    if ((rc = di_nn_opset_convert(g, err)))
        return rc;
    /* float16 values as float32, Casts to float16 as rounding (fp16.c) */
    if ((rc = di_nn_fp16_convert(g, err)))
        return rc;
    /* com.microsoft MatMulNBits dequantized into MatMul (quant.c) */
    if ((rc = di_nn_quant_convert(g, err)))
        return rc;
    /* fusions of exported patterns; a description keeps the file's nodes */
    if (!(L->flags & DI_NN_LOAD_INFO) && di_nn_rewrite(g, L->flags))
        return di_fail(err, DI_ENOMEM, "out of memory");

    for (int i = 0; i < g->nnodes; i++) {
        di_nn_node *nd = &g->nodes[i];
        di_error e;
        di_error_clear(&e);
        const di_nn_op *op = di_nn_find_op(nd->op_type);
        if (!op)
            rc = di_fail(&e, DI_EUNSUPPORTED, "%s: node '%s': op %s is not supported", L->name,
                         nd->name, nd->op_type);
        else if (nd->nin < op->min_in || nd->nin > op->max_in)
            rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): %d inputs, expected %d to %d",
                         L->name, nd->name, nd->op_type, nd->nin, op->min_in, op->max_in);
        else if (nd->nout < 1 || nd->out[0] < 0)
            rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): has no output", L->name, nd->name,
                         nd->op_type);
        else {
            for (int j = 0; j < op->min_in && !rc; j++)
                if (nd->in[j] < 0)
                    rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): required input %d is missing",
                                 L->name, nd->name, nd->op_type, j);
        }
        if (rc) {
            /* reported below */
        } else if (op->check && (rc = op->check(g, nd, &e)) != DI_OK)
            di_error_prefix(&e, "%s", L->name);
        if (rc == DI_OK) {
            nd->op = op;
            continue;
        }
        if (!(L->flags & DI_NN_LOAD_INFO)) {
            if (err)
                *err = e;
            return rc;
        }
        if (note_unsupported(g, &e))
            return di_fail(err, DI_ENOMEM, "out of memory");
        rc = DI_OK;
    }
    g->missing_external = L->missing;
    if (L->flags & DI_NN_LOAD_INFO)
        di_nn_file_info_fill(g, mp);
    return DI_OK;
}
