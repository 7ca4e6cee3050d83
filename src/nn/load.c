/*
** load.c: ONNX ModelProto (protobuf-c, generated at build time) -> graph IR.
**
** Initializers are copied out of the protobuf tree (raw_data, typed fields,
** or external data files relative to the model's folder, with offset and
** length), with every declared size checked against what is there. Nodes are
** put in topological order; each is checked against the kernel table.
*/
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "onnx.pb-c.h"
#include "engine.h"
#include "functions.h"

#define MAX_MODEL_BYTES ((size_t)4 << 30)
#define MAX_TENSOR_ELEMS ((int64_t)1 << 30)
/* Graph size bounds: about 20 times the largest exported vision models. */
#define DI_NN_MAX_NODES (1 << 20)
#define DI_NN_MAX_VALUE_REFS (1 << 23)

size_t di_dtype_size(int dtype)
{
    switch (dtype) {
    case DI_DT_FLOAT: case DI_DT_INT32: return 4;
    case DI_DT_INT64: case DI_DT_DOUBLE: return 8;
    case DI_DT_UINT8: case DI_DT_INT8: case DI_DT_BOOL: return 1;
    default: return 0;
    }
}

const char *di_dtype_name(int dtype)
{
    switch (dtype) {
    case DI_DT_FLOAT: return "float32";
    case DI_DT_INT32: return "int32";
    case DI_DT_INT64: return "int64";
    case DI_DT_DOUBLE: return "float64";
    case DI_DT_UINT8: return "uint8";
    case DI_DT_INT8: return "int8";
    case DI_DT_BOOL: return "bool";
    case 10: return "float16";
    case 16: return "bfloat16";
    case 8: return "string";
    default: return "unknown";
    }
}

int64_t di_shape_numel(int ndim, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

static char *dupstr(const char *s)
{
    return strdup(s ? s : "");
}

/* ---- tensors ---- */

typedef struct loader {
    const char *name;     /* model file, for messages */
    const char *base_dir; /* for external data; NULL refuses it */
    int flags;
    int missing;          /* zero-filled external tensors */
} loader;

/* A non-negative decimal integer, all of v; -1 otherwise. */
static int64_t parse_count(const char *v)
{
    if (!*v) return -1;
    int64_t n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10) return -1;
        n = n * 10 + (*v - '0');
    }
    return n;
}

/* path (base_dir/location) resolved, symlinks included, must stay inside
** base_dir resolved: a link leading out of the model's folder is refused. */
static int inside_folder(const char *base_dir, const char *path)
{
    char *base = realpath(base_dir, NULL), *real = realpath(path, NULL);
    size_t n = base ? strlen(base) : 0;
    int ok = base && real && !strncmp(real, base, n) &&
             (real[n] == '/' || (n == 1 && base[0] == '/'));
    free(base);
    free(real);
    return ok;
}

static int read_external(loader *L, const Onnx__TensorProto *t,
                         const char *tname, void *dst, size_t bytes,
                         di_error *err)
{
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
        if (!k || !v) continue;
        if (!strcmp(k, "location")) {
            location = v;
        } else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
            int64_t n = parse_count(v);
            if (n < 0)
                return di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data %s '%.32s' is not a non-negative integer", L->name, tname, k, v);
            if (k[0] == 'o') offset = n;
            else length = n;
        }
    }
    if (!location || !*location)
        return di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data without a location", L->name, tname);
    if (!L->base_dir)
        return di_fail(err, DI_EUNSUPPORTED, "%s: initializer '%s': external data needs a model file path", L->name, tname);
    if (location[0] == '/' || strstr(location, ".."))
        return di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data location '%s' is outside the model's folder", L->name, tname, location);
    if (length >= 0 && (uint64_t)length != bytes)
        return di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data length %lld does not match its shape (%zu bytes)", L->name, tname, (long long)length, bytes);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", L->base_dir, location);
    /* O_NONBLOCK: opening a FIFO with no writer must not wait; whatever is
    ** not a regular file is refused before a byte is read */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && (L->flags & DI_NN_LOAD_INFO)) {
        memset(dst, 0, bytes);
        L->missing++;
        return DI_OK;
    }
    if (fd < 0)
        return di_fail(err, DI_EIO, "%s: initializer '%s': cannot open external data file %s: %s", L->name, tname, path, strerror(errno));
    int rc = DI_OK;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data %s is not a regular file", L->name, tname, path);
    else if (!inside_folder(L->base_dir, path))
        rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data %s is a link that leads out of the model's folder", L->name, tname, path);
    else if ((uint64_t)offset > (uint64_t)st.st_size || (uint64_t)st.st_size - (uint64_t)offset < bytes)
        rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s': external data file %s is too short (needs %zu bytes at offset %lld)", L->name, tname, path, bytes, (long long)offset);
    for (size_t got = 0; !rc && got < bytes;) {
        ssize_t r = pread(fd, (uint8_t *)dst + got, bytes - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0)
            rc = di_fail(err, DI_EIO, "%s: initializer '%s': reading external data file %s: %s", L->name, tname, path, r < 0 ? strerror(errno) : "it shrank");
        else
            got += (size_t)r;
    }
    close(fd);
    return rc;
}

/* Copies a TensorProto's data into a malloc'd buffer of the engine's dtype. */
static int tensor_from_proto(loader *L, const Onnx__TensorProto *t,
                             int *dtype, int *ndim, int64_t *dims, void **data,
                             di_error *err)
{
    const char *tname = t->name ? t->name : "(unnamed)";
    int dt = t->data_type;
    /* float16 is read as it is stored, then widened to float32 (fp16.c) */
    size_t es = dt == DI_DT_FLOAT16 ? 2 : di_dtype_size(dt);
    if (!es)
        return di_fail(err, DI_EUNSUPPORTED, "%s: tensor '%s': element type %s is not supported", L->name, tname, di_dtype_name(dt));
    if (t->n_dims > DI_NN_MAX_DIMS)
        return di_fail(err, DI_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)", L->name, tname, t->n_dims, DI_NN_MAX_DIMS);
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return di_fail(err, DI_EFORMAT, "%s: tensor '%s': negative dimension", L->name, tname);
        dims[i] = t->dims[i];
    }
    int64_t n = di_shape_numel((int)t->n_dims, dims);
    if (n < 0 || n > MAX_TENSOR_ELEMS || !di_nn_shape_sane((int)t->n_dims, dims))
        return di_fail(err, DI_ENOMEM, "%s: tensor '%s': absurd size", L->name, tname);
    size_t bytes = (size_t)n * es;
    bool external = t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* sizes are checked before anything is allocated */
    size_t have = 0;
    if (!external && t->has_raw_data) {
        if (t->raw_data.len != bytes)
            return di_fail(err, DI_EFORMAT, "%s: tensor '%s': raw_data has %zu bytes, its shape needs %zu", L->name, tname, t->raw_data.len, bytes);
    } else if (!external) {
        have = dt == DI_DT_FLOAT ? t->n_float_data : dt == DI_DT_DOUBLE ? t->n_double_data : dt == DI_DT_INT64 ? t->n_int64_data : t->n_int32_data;
        if (have != (size_t)n)
            return di_fail(err, DI_EFORMAT, "%s: tensor '%s': has %zu values, its shape needs %lld", L->name, tname, have, (long long)n);
    }
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf) return di_fail(err, DI_ENOMEM, "%s: tensor '%s': out of memory", L->name, tname);
    int rc = DI_OK;
    if (external) {
        rc = read_external(L, t, tname, buf, bytes, err);
    } else if (t->has_raw_data) {
        if (bytes) memcpy(buf, t->raw_data.data, bytes);
    } else if (bytes) {
        switch (dt) {
        case DI_DT_FLOAT: memcpy(buf, t->float_data, bytes); break;
        case DI_DT_DOUBLE: memcpy(buf, t->double_data, bytes); break;
        case DI_DT_INT64: memcpy(buf, t->int64_data, bytes); break;
        default: /* int32, uint8, int8, bool live in int32_data */
            for (int64_t i = 0; i < n; i++) {
                if (dt == DI_DT_FLOAT16) ((uint16_t *)buf)[i] = (uint16_t)t->int32_data[i];
                else if (dt == DI_DT_INT32) ((int32_t *)buf)[i] = t->int32_data[i];
                else buf[i] = (uint8_t)t->int32_data[i];
            }
            break;
        }
    }
    if (!rc && dt == DI_DT_FLOAT16) {
        float *f = di_nn_fp16_widen((const uint16_t *)buf, n);
        free(buf);
        buf = (uint8_t *)f;
        dt = DI_DT_FLOAT;
        if (!f) rc = di_fail(err, DI_ENOMEM, "%s: tensor '%s': out of memory", L->name, tname);
    }
    if (rc) {
        free(buf);
        return rc;
    }
    *dtype = dt;
    *ndim = (int)t->n_dims;
    *data = buf;
    return DI_OK;
}

int di_nn_tensor_pb_read(const char *path, di_nn_io *out, di_error *err)
{
    uint8_t *data;
    size_t size;
    memset(out, 0, sizeof *out);
    int rc = di_read_file(path, (size_t)1 << 31, &data, &size, err);
    if (rc) return rc;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, data);
    free(data);
    if (!t) return di_fail(err, DI_EFORMAT, "%s: not a TensorProto", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    loader L = {path, dir, 0, 0};
    rc = tensor_from_proto(&L, t, &out->dtype, &out->ndim, out->dims, &out->data, err);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return rc;
}

/* ---- the graph ---- */

typedef struct name_map { /* open addressing: name -> value index */
    int cap;
    int *slot;
} name_map;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int map_find(const name_map *m, const di_nn_graph *g, const char *name)
{
    for (uint64_t i = hash_str(name) & (uint64_t)(m->cap - 1);; i = (i + 1) & (uint64_t)(m->cap - 1)) {
        int v = m->slot[i];
        if (v < 0) return -1;
        if (!strcmp(g->values[v].name, name)) return v;
    }
}

static void map_put(name_map *m, const char *name, int v)
{
    uint64_t i = hash_str(name) & (uint64_t)(m->cap - 1);
    while (m->slot[i] >= 0) i = (i + 1) & (uint64_t)(m->cap - 1);
    m->slot[i] = v;
}

static int add_value(di_nn_graph *g, name_map *m, const char *name, int cap)
{
    int v = map_find(m, g, name);
    if (v >= 0) return v;
    if (g->nvalues >= cap) return -1;
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
    if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !vi->type->tensor_type)
        return;
    const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
    if (tt->has_elem_type) v->dtype = tt->elem_type;
    if (tt->shape && tt->shape->n_dim <= DI_NN_MAX_DIMS) {
        v->ndim = (int)tt->shape->n_dim;
        for (int i = 0; i < v->ndim; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            v->dims[i] = (d && d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) ? d->dim_value : -1;
        }
    }
}

static int copy_attr(loader *L, const Onnx__AttributeProto *a,
                     di_nn_attr *out, di_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = dupstr(a->name);
    out->type = a->type;
    out->f = a->f;
    out->i = a->i;
    if (a->has_s) {
        out->s = malloc(a->s.len + 1);
        if (!out->s) return di_fail(err, DI_ENOMEM, "out of memory");
        if (a->s.len) memcpy(out->s, a->s.data, a->s.len);
        out->s[a->s.len] = 0;
    }
    if (a->n_ints) {
        out->n = (int)a->n_ints;
        out->ints = malloc(a->n_ints * sizeof(int64_t));
        if (!out->ints) return di_fail(err, DI_ENOMEM, "out of memory");
        memcpy(out->ints, a->ints, a->n_ints * sizeof(int64_t));
    } else if (a->n_floats) {
        out->n = (int)a->n_floats;
        out->floats = malloc(a->n_floats * sizeof(float));
        if (!out->floats) return di_fail(err, DI_ENOMEM, "out of memory");
        memcpy(out->floats, a->floats, a->n_floats * sizeof(float));
    }
    if (a->t)
        return tensor_from_proto(L, a->t, &out->t_dtype, &out->t_ndim, out->t_dims, &out->t_data, err);
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
            if (v >= 0 && g->values[v].producer >= 0) indeg[i]++;
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
            if (g->nodes[i].in[j] >= 0) first[g->nodes[i].in[j] + 2]++;
    for (int v = 0; v < nv; v++) first[v + 2] += first[v + 1];
    users = malloc(((size_t)first[nv + 1] + 1) * sizeof(int));
    if (!users) {
        rc = di_fail(err, DI_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            if (g->nodes[i].in[j] >= 0) users[first[g->nodes[i].in[j] + 1]++] = i;
    /* now first[v] .. first[v + 1] are v's consumers */
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (!indeg[i]) order[tail++] = i;
    while (head < tail) {
        int u = order[head++];
        for (int o = 0; o < g->nodes[u].nout; o++) {
            int v = g->nodes[u].out[o];
            if (v < 0) continue;
            for (int k = first[v]; k < first[v + 1]; k++)
                if (--indeg[users[k]] == 0) order[tail++] = users[k];
        }
    }
    if (tail < n) {
        for (int i = 0; i < n; i++)
            if (indeg[i]) {
                rc = di_fail(err, DI_EFORMAT, "%s: the graph has a cycle through node '%s' (%s)", g->path, g->nodes[i].name, g->nodes[i].op_type);
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
        if (g->values[v].producer >= 0) g->values[v].producer = newidx[g->values[v].producer];
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
    if (!u) return DI_ENOMEM;
    g->unsupported = u;
    if (!(u[g->nunsupported] = strdup(e->msg))) return DI_ENOMEM;
    g->nunsupported++;
    return DI_OK;
}

static int build(loader *L, const Onnx__ModelProto *mp, const Onnx__GraphProto *gp,
                 di_nn_graph *g, di_error *err)
{

    g->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) g->opset = o->version;
    }
    if (g->opset < 0) {
        if (mp->n_opset_import && mp->opset_import[0]->domain)
            return di_fail(err, DI_EUNSUPPORTED, "%s: operator set domain '%s' is not supported (only the default ONNX domain)", L->name, mp->opset_import[0]->domain);
        return di_fail(err, DI_EFORMAT, "%s: no opset import for the default ONNX domain", L->name);
    }
    if (g->opset < 7 || g->opset > 21)
        return di_fail(err, DI_EUNSUPPORTED, "%s: opset %lld is not supported (supported: 7 to 21)", L->name, (long long)g->opset);

    /* a bound on the graph's size keeps every count an int and the memory
    ** the graph takes within reason, whatever a file declares */
    if (gp->n_node > DI_NN_MAX_NODES)
        return di_fail(err, DI_EUNSUPPORTED, "%s: %zu nodes: too large a graph (at most %d nodes)", L->name, gp->n_node, DI_NN_MAX_NODES);
    size_t refs = gp->n_input + gp->n_initializer + gp->n_output + gp->n_value_info + 1;
    for (size_t i = 0; i < gp->n_node; i++) refs += gp->node[i]->n_input + gp->node[i]->n_output;
    if (refs > DI_NN_MAX_VALUE_REFS)
        return di_fail(err, DI_EUNSUPPORTED, "%s: %zu value names (inputs, outputs, initializers, value infos): too large a graph (at most %d)", L->name, refs, DI_NN_MAX_VALUE_REFS);
    int cap = (int)refs;
    g->values = calloc((size_t)cap, sizeof(di_nn_value));
    g->nodes = calloc(gp->n_node + 1, sizeof(di_nn_node));
    name_map m = {1, NULL};
    while (m.cap < 2 * cap) m.cap *= 2;
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
        rc = tensor_from_proto(L, t, &val->dtype, &val->ndim, val->dims, &val->data, err);
        if (!rc && val->dtype == DI_DT_FLOAT) g->param_count += di_shape_numel(val->ndim, val->dims);
    }
    for (size_t i = 0; i < gp->n_input && !rc; i++) {
        const char *nm = gp->input[i]->name;
        if (!nm || !*nm) {
            rc = di_fail(err, DI_EFORMAT, "%s: a graph input has no name", L->name);
            break;
        }
        int v = add_value(g, &m, nm, cap);
        if (g->values[v].data) continue; /* an initializer listed as input (old exporters) */
        const Onnx__TypeProto *tp = gp->input[i]->type;
        if (tp && tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            rc = di_fail(err, DI_EUNSUPPORTED, "%s: graph input '%s' is not a tensor (sequence, map or optional types are not supported)", L->name, nm);
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
            rc = di_fail(err, DI_EUNSUPPORTED, "%s: node '%s': op %s of domain '%s' is not supported", L->name, nd->name, nd->op_type, np->domain);
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
                rc = di_fail(err, DI_EFORMAT, "%s: node '%s': output '%s' is produced twice", L->name, nd->name, nm);
                break;
            }
            g->values[v].producer = (int)i;
            nd->out[nd->nout++] = v;
        }
    }
    for (size_t i = 0; i < gp->n_value_info && !rc; i++) {
        int v = gp->value_info[i]->name ? map_find(&m, g, gp->value_info[i]->name) : -1;
        if (v >= 0 && !g->values[v].data) value_info(&g->values[v], gp->value_info[i]);
    }
    for (size_t i = 0; i < gp->n_output && !rc; i++) {
        const char *nm = gp->output[i]->name;
        int v = nm ? map_find(&m, g, nm) : -1;
        if (v < 0) {
            rc = di_fail(err, DI_EFORMAT, "%s: graph output '%s' is produced by no node", L->name, nm ? nm : "");
            break;
        }
        if (g->values[v].ndim < 0) value_info(&g->values[v], gp->output[i]);
        g->outputs[g->noutputs++] = v;
    }
    free(m.slot);
    if (rc) return rc;
    if (g->noutputs == 0) return di_fail(err, DI_EFORMAT, "%s: the graph has no outputs", L->name);

    /* Every input must come from somewhere. */
    char *is_input = calloc((size_t)g->nvalues + 1, 1);
    if (!is_input) return di_fail(err, DI_ENOMEM, "out of memory");
    for (int k = 0; k < g->ninputs; k++) is_input[g->inputs[k]] = 1;
    for (int i = 0; i < g->nnodes && !rc; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int v = g->nodes[i].in[j];
            if (v < 0 || g->values[v].producer >= 0 || g->values[v].data || is_input[v]) continue;
            rc = di_fail(err, DI_EFORMAT, "%s: node '%s': input '%s' is not produced by any node, initializer or graph input", L->name, g->nodes[i].name, g->values[v].name);
            break;
        }
    free(is_input);
    if (rc) return rc;

    rc = topo_sort(g, err);
    if (rc) return rc;
    /* opsets 7 to 10: their forms of Upsample, Resize, Slice, Pad, Clip (opset.c) */
    if ((rc = di_nn_opset_convert(g, err))) return rc;
    /* float16 values as float32, Casts to float16 as rounding (fp16.c) */
    if ((rc = di_nn_fp16_convert(g, err))) return rc;
    /* com.microsoft MatMulNBits dequantized into MatMul (quant.c) */
    if ((rc = di_nn_quant_convert(g, err))) return rc;
    /* fusions of exported patterns; a description keeps the file's nodes */
    if (!(L->flags & DI_NN_LOAD_INFO) && di_nn_rewrite(g)) return di_fail(err, DI_ENOMEM, "out of memory");

    for (int i = 0; i < g->nnodes; i++) {
        di_nn_node *nd = &g->nodes[i];
        di_error e;
        di_error_clear(&e);
        const di_nn_op *op = di_nn_find_op(nd->op_type);
        if (!op)
            rc = di_fail(&e, DI_EUNSUPPORTED, "%s: node '%s': op %s is not supported", L->name, nd->name, nd->op_type);
        else if (nd->nin < op->min_in || nd->nin > op->max_in)
            rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): %d inputs, expected %d to %d", L->name, nd->name, nd->op_type, nd->nin, op->min_in, op->max_in);
        else if (nd->nout < 1 || nd->out[0] < 0)
            rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): has no output", L->name, nd->name, nd->op_type);
        else {
            for (int j = 0; j < op->min_in && !rc; j++)
                if (nd->in[j] < 0) rc = di_fail(&e, DI_EFORMAT, "%s: node '%s' (%s): required input %d is missing", L->name, nd->name, nd->op_type, j);
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
            if (err) *err = e;
            return rc;
        }
        if (note_unsupported(g, &e)) return di_fail(err, DI_ENOMEM, "out of memory");
        rc = DI_OK;
    }
    g->missing_external = L->missing;
    if (L->flags & DI_NN_LOAD_INFO) di_nn_file_info_fill(g, mp);
    return DI_OK;
}

static int load_mem(const uint8_t *data, size_t size, const char *name,
                    const char *base_dir, int flags, di_nn_graph **out,
                    di_error *err)
{
    *out = NULL;
    if (size == 0) return di_fail(err, DI_EFORMAT, "%s: empty file, not an ONNX model", name);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    if (!mp) return di_fail(err, DI_EFORMAT, "%s: not a valid ONNX model (protobuf does not parse; truncated or corrupt?)", name);
    loader L = {name, base_dir, flags, 0};
    di_nn_graph *g = calloc(1, sizeof *g);
    int rc;
    if (!g || !(g->path = strdup(name))) {
        free(g);
        g = NULL;
        rc = di_fail(err, DI_ENOMEM, "out of memory");
    } else {
        /* local functions: the graph with their calls inlined (functions.c) */
        Onnx__GraphProto inlined;
        di_fn_arena arena = {0};
        if (!mp->graph)
            rc = di_fail(err, DI_EFORMAT, "%s: not an ONNX model (no graph)", name);
        else if (mp->n_functions)
            rc = di_fn_inline(mp, name, &arena, &inlined, err);
        else
            rc = DI_OK;
        if (!rc) rc = build(&L, mp, mp->n_functions ? &inlined : mp->graph, g, err);
        di_fn_arena_free(&arena);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc) {
        di_nn_graph_free(g);
        return rc;
    }
    *out = g;
    return DI_OK;
}

int di_nn_graph_load_mem(const uint8_t *data, size_t size, const char *name,
                         const char *base_dir, di_nn_graph **out,
                         di_error *err)
{
    return load_mem(data, size, name, base_dir, 0, out, err);
}

int di_nn_graph_load(const char *path, di_nn_graph **out, di_error *err)
{
    return di_nn_graph_load_flags(path, 0, out, err);
}

int di_nn_graph_load_flags(const char *path, int flags, di_nn_graph **out,
                           di_error *err)
{
    uint8_t *data;
    size_t size;
    *out = NULL;
    int rc = di_read_file(path, MAX_MODEL_BYTES, &data, &size, err);
    if (rc) return rc;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    rc = load_mem(data, size, path, dir, flags, out, err);
    free(data);
    return rc;
}

void di_nn_graph_free(di_nn_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->nvalues; i++) {
        free(g->values[i].name);
        free(g->values[i].data);
    }
    for (int i = 0; i < g->nnodes; i++) {
        di_nn_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->in);
        free(n->out);
        for (int j = 0; j < n->nattr; j++) {
            free(n->attrs[j].name);
            free(n->attrs[j].s);
            free(n->attrs[j].ints);
            free(n->attrs[j].floats);
            free(n->attrs[j].t_data);
        }
        free(n->attrs);
    }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    for (int i = 0; i < g->nunsupported; i++) free(g->unsupported[i]);
    free(g->unsupported);
    free(g->path);
    free(g->file_info);
    free(g);
}

const di_nn_attr *di_nn_node_attr(const di_nn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t di_nn_attr_int(const di_nn_node *n, const char *name, int64_t dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a ? a->i : dflt;
}

float di_nn_attr_float(const di_nn_node *n, const char *name, float dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a ? a->f : dflt;
}

const char *di_nn_attr_string(const di_nn_node *n, const char *name,
                              const char *dflt)
{
    const di_nn_attr *a = di_nn_node_attr(n, name);
    return a && a->s ? a->s : dflt;
}
