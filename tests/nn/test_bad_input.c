/*
** test_bad_input.c: what the engine does with broken models and inputs.
** Small ONNX files are built here with protobuf-c (the same generated code
** the loader uses): a good Conv+Relu+Add model first (it must load and run,
** so that the failures below are about what was broken), then: truncated
** copies, random bytes, an empty file, a missing or short external-data
** file, a cycle, mismatched shapes, an unsupported op and attribute, an
** unsupported opset, raw_data of the wrong size, inputs of the wrong size.
** Each must fail with a clear message naming what is wrong, and not crash.
**
** With an argument DIR, also writes the small models there (the fuzz
** corpus, fuzz/corpus/onnx/, was made that way).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nn/engine.h"
#include "onnx.pb-c.h"
#include "test_files.h"

/* ---- building models ---- */

typedef struct mb {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto op;
    Onnx__OperatorSetIdProto *ops[1];
    Onnx__NodeProto *nodes[8];
    Onnx__TensorProto *inits[8];
    Onnx__ValueInfoProto *ins[4], *outs[4];
} mb;

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) abort();
    return p;
}

static Onnx__ValueInfoProto *value_info(const char *name, int nd, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = xcalloc(sizeof *v);
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    Onnx__TypeProto *t = xcalloc(sizeof *t);
    onnx__type_proto__init(t);
    Onnx__TypeProto__Tensor *tt = xcalloc(sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    Onnx__TensorShapeProto *sh = xcalloc(sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)nd;
    sh->dim = xcalloc(sizeof(void *) * (size_t)(nd + 1));
    for (int i = 0; i < nd; i++) {
        Onnx__TensorShapeProto__Dimension *d = xcalloc(sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
        sh->dim[i] = d;
    }
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->type = t;
    return v;
}

static void free_value_info(Onnx__ValueInfoProto *v)
{
    Onnx__TensorShapeProto *sh = v->type->tensor_type->shape;
    for (size_t i = 0; i < sh->n_dim; i++) free(sh->dim[i]);
    free(sh->dim);
    free(sh);
    free(v->type->tensor_type);
    free(v->type);
    free(v);
}

static Onnx__NodeProto *node(const char *op, const char *name, const char *in0,
                             const char *in1, const char *in2, const char *out)
{
    Onnx__NodeProto *n = xcalloc(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    n->input = xcalloc(sizeof(char *) * 4);
    if (in0) n->input[n->n_input++] = (char *)in0;
    if (in1) n->input[n->n_input++] = (char *)in1;
    if (in2) n->input[n->n_input++] = (char *)in2;
    n->output = xcalloc(sizeof(char *) * 2);
    n->output[n->n_output++] = (char *)out;
    n->attribute = xcalloc(sizeof(void *) * 4);
    return n;
}

static void node_attr_s(Onnx__NodeProto *n, const char *name, const char *val)
{
    Onnx__AttributeProto *a = xcalloc(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    a->has_s = 1;
    a->s.data = (uint8_t *)val;
    a->s.len = strlen(val);
    n->attribute[n->n_attribute++] = a;
}

static void free_node(Onnx__NodeProto *n)
{
    for (size_t i = 0; i < n->n_attribute; i++) free(n->attribute[i]);
    free(n->attribute);
    free(n->input);
    free(n->output);
    free(n);
}

static Onnx__TensorProto *tensor(const char *name, int nd, const int64_t *dims,
                                 float *vals, size_t nvals)
{
    Onnx__TensorProto *t = xcalloc(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)nd;
    t->dims = (int64_t *)dims;
    t->has_raw_data = 1;
    t->raw_data.data = (uint8_t *)vals;
    t->raw_data.len = nvals * sizeof(float);
    return t;
}

static void mb_init(mb *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->m);
    onnx__graph_proto__init(&b->g);
    onnx__operator_set_id_proto__init(&b->op);
    b->op.domain = (char *)"";
    b->op.has_version = 1;
    b->op.version = opset;
    b->ops[0] = &b->op;
    b->m.has_ir_version = 1;
    b->m.ir_version = 8;
    b->m.n_opset_import = 1;
    b->m.opset_import = b->ops;
    b->m.graph = &b->g;
    b->g.name = (char *)"test";
    b->g.node = b->nodes;
    b->g.initializer = b->inits;
    b->g.input = b->ins;
    b->g.output = b->outs;
}

static void mb_free(mb *b)
{
    for (size_t i = 0; i < b->g.n_node; i++) free_node(b->nodes[i]);
    for (size_t i = 0; i < b->g.n_initializer; i++) free(b->inits[i]);
    for (size_t i = 0; i < b->g.n_input; i++) free_value_info(b->ins[i]);
    for (size_t i = 0; i < b->g.n_output; i++) free_value_info(b->outs[i]);
}

static uint8_t *mb_pack(mb *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->m);
    uint8_t *buf = xcalloc(*len + 1);
    onnx__model_proto__pack(&b->m, buf);
    return buf;
}

/* ---- the models ---- */

static const int64_t x_dims[4] = {1, 2, 4, 4}, w_dims[4] = {2, 2, 3, 3}, b_dims[1] = {2};
static float w_vals[36], b_vals[2] = {0.1f, -0.2f};

/* x -> Conv(w, b, pad 1) -> Relu -> Add(x) -> y, all 1x2x4x4 */
static void good_model(mb *b)
{
    mb_init(b, 13);
    for (int i = 0; i < 36; i++) w_vals[i] = (float)((i * 7) % 11 - 5) / 10.f;
    b->ins[b->g.n_input++] = value_info("x", 4, x_dims);
    b->outs[b->g.n_output++] = value_info("y", 4, x_dims);
    b->inits[b->g.n_initializer++] = tensor("w", 4, w_dims, w_vals, 36);
    b->inits[b->g.n_initializer++] = tensor("b", 1, b_dims, b_vals, 2);
    Onnx__NodeProto *c = node("Conv", "conv1", "x", "w", "b", "c");
    node_attr_s(c, "auto_pad", "SAME_UPPER");
    b->nodes[b->g.n_node++] = c;
    b->nodes[b->g.n_node++] = node("Relu", "relu1", "c", NULL, NULL, "r");
    b->nodes[b->g.n_node++] = node("Add", "add1", "r", "x", NULL, "y");
}

/* The good model's convolution (2 -> 2 channels, 3x3, pad 1, with bias). */
static void conv3x3(const float *in, float *out)
{
    for (int oc = 0; oc < 2; oc++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                double acc = b_vals[oc];
                for (int ic = 0; ic < 2; ic++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            int yi = i + ki - 1, xj = j + kj - 1;
                            if (yi < 0 || yi > 3 || xj < 0 || xj > 3) continue;
                            acc += (double)w_vals[((oc * 2 + ic) * 3 + ki) * 3 + kj] * in[(ic * 4 + yi) * 4 + xj];
                        }
                out[(oc * 4 + i) * 4 + j] = (float)acc;
            }
}

static di_error err;

static int load_mem(const uint8_t *data, size_t len, const char *name, di_nn_session **s)
{
    di_nn_graph *g;
    *s = NULL;
    di_error_clear(&err);
    int rc = di_nn_graph_load_mem(data, len, name, NULL, &g, &err);
    if (rc) return rc;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    return di_nn_session_create_graph(g, &opt, s, &err);
}

static void expect_fail(const uint8_t *data, size_t len, const char *what,
                        int code, const char *needle)
{
    di_nn_session *s;
    int rc = load_mem(data, len, "model.onnx", &s);
    CHECKF(rc != 0, "%s: loaded", what);
    if (code) CHECKF(rc == code, "%s: code %d (%s)", what, rc, err.msg);
    if (needle) CHECKF(strstr(err.msg, needle) != NULL, "%s: message lacks '%s': %s", what, needle, err.msg);
    printf("%-32s -> %s\n", what, err.msg);
    di_nn_session_destroy(s);
}

/* The engine names a node in a message once, by the DI_NAMED_NODE mark and
** not by searching the text: a node whose name happens to be a word of the
** message ("out" in "out of memory") is still named. */
static void test_node_naming(void)
{
    di_nn_node n = {.name = (char *)"out", .op_type = (char *)"Relu"};
    di_error e = {0};
    di_fail(&e, DI_ENOMEM, "out of memory");
    CHECK(di_nn_error_at_node(&e, &n) == DI_ENOMEM);
    CHECKF(strcmp(e.msg, "node 'out' (Relu): out of memory") == 0, "got '%s'", e.msg);
    CHECK(e.named & DI_NAMED_NODE);
    di_nn_error_at_node(&e, &n); /* a second time: unchanged */
    CHECKF(strcmp(e.msg, "node 'out' (Relu): out of memory") == 0, "got '%s'", e.msg);
    CHECK(di_nn_node_fail(&e, DI_EINVAL, &n, "index %d is out of range", 9) == DI_EINVAL);
    di_nn_error_at_node(&e, &n);
    CHECKF(strcmp(e.msg, "node 'out' (Relu): index 9 is out of range") == 0, "got '%s'", e.msg);
}

int main(int argc, char **argv)
{
    test_node_naming();
    const char *corpus = argc > 1 ? argv[1] : NULL;
    char path[1024];
    const char *build = getenv("DEPTHINDEX_BUILD_ROOT");
    char tmp[900];
    if (build && *build) {
        snprintf(tmp, sizeof tmp, "%s/tests/nn/tmp-bad", build);
        mkdir(tmp, 0755);
    } else {
        snprintf(tmp, sizeof tmp, "/tmp/di-nn-bad-XXXXXX");
        if (!mkdtemp(tmp)) return 1;
    }

    /* the good model loads and runs, and matches a direct computation */
    mb b;
    good_model(&b);
    size_t len;
    uint8_t *good = mb_pack(&b, &len);
    if (corpus) {
        snprintf(path, sizeof path, "%s/conv_relu_add.onnx", corpus);
        write_file(path, good, len);
    }
    di_nn_session *s;
    CHECKF(load_mem(good, len, "good.onnx", &s) == 0, "%s", err.msg);
    if (s) {
        float x[32], y[32], want[32];
        for (int i = 0; i < 32; i++) x[i] = (float)((i * 5) % 13) / 6.f - 1.f;
        /* Conv -> Relu, plus the input */
        conv3x3(x, want);
        for (int i = 0; i < 32; i++) want[i] = (want[i] > 0 ? want[i] : 0) + x[i];
        CHECKF(di_nn_run(s, x, 1, y, 32, &err) == 0, "%s", err.msg);
        for (int i = 0; i < 32; i++) CHECK_NEAR(y[i], want[i], 1e-5);

        /* wrong input sizes, through the general API */
        di_nn_io in = {DI_DT_FLOAT, 4, {1, 3, 4, 4}, x}, out;
        CHECK(di_nn_run_io(s, &in, 1, &out, 1, &err) == DI_ESHAPE);
        CHECKF(strstr(err.msg, "input 'x'") != NULL, "%s", err.msg);
        printf("%-32s -> %s\n", "input with 3 channels, not 2", err.msg);
        in.dims[1] = 2;
        in.dims[3] = 5;
        CHECK(di_nn_run_io(s, &in, 1, &out, 1, &err) == DI_ESHAPE);
        printf("%-32s -> %s\n", "input 4x5, not 4x4", err.msg);
        in.ndim = 3;
        CHECK(di_nn_run_io(s, &in, 1, &out, 1, &err) == DI_ESHAPE);
        printf("%-32s -> %s\n", "input of rank 3", err.msg);
        in.ndim = 4;
        in.dtype = DI_DT_INT64;
        in.dims[3] = 4;
        CHECK(di_nn_run_io(s, &in, 1, &out, 1, &err) == DI_ESHAPE);
        printf("%-32s -> %s\n", "int64 input", err.msg);
        CHECK(di_nn_run(s, x, 0, y, 32, &err) == DI_EINVAL);
        CHECK(di_nn_run(s, x, 2, y, 32, &err) == DI_ESHAPE); /* output buffer too small */
        printf("%-32s -> %s\n", "output buffer too small", err.msg);
        di_nn_session_destroy(s);
    }

    /* y = conv(r) + r with r = relu(conv(x)): r is in the conv's own layout
    ** and dies at the Add, yet the fused Add must not write over the conv's
    ** input (in place only when that is safe) */
    {
        mb r;
        mb_init(&r, 13);
        r.ins[r.g.n_input++] = value_info("x", 4, x_dims);
        r.outs[r.g.n_output++] = value_info("y", 4, x_dims);
        r.inits[r.g.n_initializer++] = tensor("w", 4, w_dims, w_vals, 36);
        r.inits[r.g.n_initializer++] = tensor("b", 1, b_dims, b_vals, 2);
        Onnx__NodeProto *c0 = node("Conv", "conv0", "x", "w", "b", "c0");
        node_attr_s(c0, "auto_pad", "SAME_UPPER");
        r.nodes[r.g.n_node++] = c0;
        r.nodes[r.g.n_node++] = node("Relu", "relu0", "c0", NULL, NULL, "r");
        Onnx__NodeProto *c = node("Conv", "conv1", "r", "w", "b", "c");
        node_attr_s(c, "auto_pad", "SAME_UPPER");
        r.nodes[r.g.n_node++] = c;
        r.nodes[r.g.n_node++] = node("Add", "add1", "c", "r", NULL, "y");
        size_t rl;
        uint8_t *rm = mb_pack(&r, &rl);
        CHECKF(load_mem(rm, rl, "residual.onnx", &s) == 0, "%s", err.msg);
        if (s) {
            float x[32], xr[32], c1[32], y[32];
            for (int i = 0; i < 32; i++) x[i] = (float)((i * 5) % 13) / 6.f - 1.f;
            conv3x3(x, xr);
            for (int i = 0; i < 32; i++) xr[i] = xr[i] > 0 ? xr[i] : 0;
            conv3x3(xr, c1);
            CHECKF(di_nn_run(s, x, 1, y, 32, &err) == 0, "%s", err.msg);
            for (int i = 0; i < 32; i++) CHECK_NEAR(y[i], c1[i] + xr[i], 1e-5);
            di_nn_session_destroy(s);
        }
        free(rm);
        mb_free(&r);
    }

    /* truncated copies, at many lengths */
    int truncated_failed = 0, tried = 0;
    for (size_t cut = 0; cut < len; cut += 1 + len / 97) {
        tried++;
        if (load_mem(good, cut, "cut.onnx", &s) != 0) truncated_failed++;
        di_nn_session_destroy(s);
    }
    printf("truncated: %d of %d cut lengths refused\n", truncated_failed, tried);
    CHECK(truncated_failed == tried);
    expect_fail(good, len / 2, "truncated at half", 0, "model.onnx");
    expect_fail(good, 0, "empty file", DI_EFORMAT, "empty");

    /* random bytes */
    uint8_t rnd[4096];
    uint64_t st = 88172645463325252ull;
    int random_failed = 0;
    for (int t = 0; t < 200; t++) {
        size_t n = 1 + (size_t)(t * 37 % 4096);
        for (size_t i = 0; i < n; i++) {
            st ^= st << 13;
            st ^= st >> 7;
            st ^= st << 17;
            rnd[i] = (uint8_t)st;
        }
        if (load_mem(rnd, n, "random.bin", &s) != 0) random_failed++;
        di_nn_session_destroy(s);
    }
    CHECK(random_failed == 200);
    expect_fail(rnd, sizeof rnd, "random bytes", 0, "model.onnx");

    /* files on disk: truncated, missing, a directory */
    snprintf(path, sizeof path, "%s/truncated.onnx", tmp);
    write_file(path, good, len - 9);
    CHECK(di_nn_session_create(path, NULL, &s, &err) != 0);
    CHECK(strstr(err.msg, "truncated.onnx") != NULL);
    printf("%-32s -> %s\n", "truncated file", err.msg);
    snprintf(path, sizeof path, "%s/absent.onnx", tmp);
    CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EIO);
    printf("%-32s -> %s\n", "no such file", err.msg);
    CHECK(di_nn_session_create(tmp, NULL, &s, &err) != 0);
    printf("%-32s -> %s\n", "a directory", err.msg);
    free(good);

    /* external data: missing file, then a file that is too short */
    {
        Onnx__TensorProto *w = b.inits[0];
        Onnx__StringStringEntryProto loc = ONNX__STRING_STRING_ENTRY_PROTO__INIT, off = ONNX__STRING_STRING_ENTRY_PROTO__INIT, ln = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
        loc.key = (char *)"location";
        loc.value = (char *)"weights.bin";
        off.key = (char *)"offset";
        off.value = (char *)"16";
        ln.key = (char *)"length";
        ln.value = (char *)"144";
        Onnx__StringStringEntryProto *ext[3] = {&loc, &off, &ln};
        w->has_raw_data = 0;
        w->has_data_location = 1;
        w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        w->n_external_data = 3;
        w->external_data = ext;
        uint8_t *m = mb_pack(&b, &len);
        snprintf(path, sizeof path, "%s/external.onnx", tmp);
        write_file(path, m, len);
        char data_path[1100];
        snprintf(data_path, sizeof data_path, "%s/weights.bin", tmp);
        remove(data_path);
        CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EIO);
        CHECKF(strstr(err.msg, "weights.bin") && strstr(err.msg, "'w'"), "%s", err.msg);
        printf("%-32s -> %s\n", "missing external data", err.msg);
        uint8_t junk[100] = {0};
        write_file(data_path, junk, sizeof junk);
        CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EFORMAT);
        CHECKF(strstr(err.msg, "too short") != NULL, "%s", err.msg);
        printf("%-32s -> %s\n", "short external data", err.msg);
        /* the right bytes at the right offset: loads and runs */
        uint8_t full[16 + 144];
        memset(full, 0, 16);
        memcpy(full + 16, w_vals, 144);
        write_file(data_path, full, sizeof full);
        CHECKF(di_nn_session_create(path, NULL, &s, &err) == 0, "%s", err.msg);
        di_nn_session_destroy(s);
        /* offset and length must be non-negative integers, all of them */
        const char *bad_counts[] = {"16x", "abc", "-16", "", " 16", "1e3",
                                    "99999999999999999999"};
        for (size_t i = 0; i < sizeof bad_counts / sizeof *bad_counts; i++)
            for (int which = 0; which < 2; which++) {
                Onnx__StringStringEntryProto *e = which ? &ln : &off;
                const char *keep = e->value;
                e->value = (char *)bad_counts[i];
                free(m);
                m = mb_pack(&b, &len);
                write_file(path, m, len);
                int rc = di_nn_session_create(path, NULL, &s, &err);
                if (rc == 0) di_nn_session_destroy(s);
                CHECKF(rc == DI_EFORMAT && strstr(err.msg, "not a non-negative integer"),
                       "%s '%s': %s", e->key, e->value, rc ? err.msg : "loaded");
                e->value = (char *)keep;
            }
        printf("%-32s -> %s\n", "external data offset '-16'", err.msg);
        free(m);
        m = mb_pack(&b, &len);
        write_file(path, m, len);
        /* a FIFO (no writer) is refused at once, not waited on; the alarm
        ** turns a hang into a failure */
        char outside[1100], inner[1100];
        remove(data_path);
        CHECK(mkfifo(data_path, 0600) == 0);
        alarm(30);
        CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EFORMAT);
        alarm(0);
        CHECKF(strstr(err.msg, "not a regular file") && strstr(err.msg, "weights.bin"), "%s", err.msg);
        printf("%-32s -> %s\n", "external data is a FIFO", err.msg);
        remove(data_path);
        /* a symbolic link within the folder is followed; one that leads
        ** out of it is refused */
        snprintf(inner, sizeof inner, "%s/weights-real.bin", tmp);
        write_file(inner, full, sizeof full);
        CHECK(symlink("weights-real.bin", data_path) == 0);
        int linked = di_nn_session_create(path, NULL, &s, &err);
        CHECKF(linked == 0, "%s", err.msg);
        if (linked == 0) di_nn_session_destroy(s);
        remove(data_path);
        snprintf(outside, sizeof outside, "%s-outside.bin", tmp);
        write_file(outside, full, sizeof full);
        CHECK(symlink(outside, data_path) == 0);
        CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EFORMAT);
        CHECKF(strstr(err.msg, "leads out of the model's folder"), "%s", err.msg);
        printf("%-32s -> %s\n", "external data links outside", err.msg);
        remove(data_path);
        remove(outside);
        remove(inner);
        /* a location outside the model's folder is refused */
        loc.value = (char *)"../weights.bin";
        free(m);
        m = mb_pack(&b, &len);
        write_file(path, m, len);
        CHECK(di_nn_session_create(path, NULL, &s, &err) == DI_EFORMAT);
        printf("%-32s -> %s\n", "external data outside folder", err.msg);
        free(m);
        w->has_data_location = 0;
        w->n_external_data = 0;
        w->external_data = NULL;
        w->has_raw_data = 1;
        /* raw_data of the wrong size */
        w->raw_data.len -= 4;
        m = mb_pack(&b, &len);
        expect_fail(m, len, "raw_data too short", DI_EFORMAT, "'w'");
        free(m);
        w->raw_data.len += 4;
    }

    /* a cycle: relu1 reads what add1 writes */
    {
        b.nodes[1]->input[0] = (char *)"y";
        uint8_t *m = mb_pack(&b, &len);
        if (corpus) {
            snprintf(path, sizeof path, "%s/cycle.onnx", corpus);
            write_file(path, m, len);
        }
        expect_fail(m, len, "cycle", DI_EFORMAT, "cycle");
        free(m);
        b.nodes[1]->input[0] = (char *)"c";
    }

    /* mismatched shapes: the bias has 3 values for 2 channels */
    {
        static const int64_t b3[1] = {3};
        static float bv[3] = {0, 0, 0};
        Onnx__TensorProto *old = b.inits[1];
        b.inits[1] = tensor("b", 1, b3, bv, 3);
        uint8_t *m = mb_pack(&b, &len);
        expect_fail(m, len, "bias of the wrong size", DI_ESHAPE, "conv1");
        free(m);
        free(b.inits[1]);
        b.inits[1] = old;
    }
    /* mismatched shapes: Add of 1x2x4x4 and 1x3x4x4 */
    {
        static const int64_t d3[4] = {1, 3, 4, 4};
        static float z[48];
        b.inits[b.g.n_initializer++] = tensor("z", 4, d3, z, 48);
        b.nodes[2]->input[1] = (char *)"z";
        uint8_t *m = mb_pack(&b, &len);
        if (corpus) {
            snprintf(path, sizeof path, "%s/shape_mismatch.onnx", corpus);
            write_file(path, m, len);
        }
        expect_fail(m, len, "Add of mismatched shapes", DI_ESHAPE, "add1");
        free(m);
        b.nodes[2]->input[1] = (char *)"x";
        free(b.inits[--b.g.n_initializer]);
    }

    /* an unsupported op, and an unsupported attribute value */
    {
        b.nodes[1]->op_type = (char *)"Celu";
        uint8_t *m = mb_pack(&b, &len);
        expect_fail(m, len, "unsupported op", DI_EUNSUPPORTED, "relu1");
        CHECK(strstr(err.msg, "Celu") != NULL);
        free(m);
        b.nodes[1]->op_type = (char *)"Relu";
        Onnx__AttributeProto *ap = b.nodes[0]->attribute[0];
        ap->s.data = (uint8_t *)"SIDEWAYS";
        ap->s.len = 8;
        m = mb_pack(&b, &len);
        expect_fail(m, len, "unsupported attribute value", DI_EUNSUPPORTED, "SIDEWAYS");
        free(m);
    }

    /* an opset we do not support */
    {
        mb o;
        good_model(&o);
        o.op.version = 6;
        uint8_t *m = mb_pack(&o, &len);
        expect_fail(m, len, "opset 6", DI_EUNSUPPORTED, "opset 6");
        free(m);
        /* an input that nothing produces */
        o.op.version = 13;
        o.nodes[2]->input[1] = (char *)"nowhere";
        m = mb_pack(&o, &len);
        expect_fail(m, len, "dangling input", DI_EFORMAT, "nowhere");
        free(m);
        o.nodes[2]->input[1] = (char *)"x";
        mb_free(&o);
    }
    mb_free(&b);
    return check_summary();
}
