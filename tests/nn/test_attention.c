/*
** test_attention.c: the attention rewrite (rewrite_attention.c) and its
** CPU kernel (cpu/ops_attention.c), against the formula in double
** precision, on Q, K, V [B, H, T, hd] inputs (B 2, H 3, hd 16; T 520 and
** the odd 777), at 1, 2 and 8 threads. Every form but e, f and h runs as tiles
** of a head's query rows, shared among the threads (ops_attention.c: S of
** a tile within 640 kB): T 520 in a tile of 304 rows and one of 216 per
** head (12 tiles), T 777 in three of 208 and one of 153 (24 tiles); a tile
** misplaced, or a last one cut wrong, shows in the output; at 8 threads,
** more than the heads, T 520 is cut in tiles of 272 and 248 rows (one
** tile per thread at least where the heads allow). The forms:
**   a = Transpose(MatMul(Mul(q, s), Transpose(k)) -> Softmax -> MatMul v,
**       0 2 1 3), then Reshape [B, T, H*hd]   fused (K and the output by
**                                             strides; the Reshape a view)
**   b = MatMul(q, Transpose(k)) / sqrt(hd) ...  fused (the Div form)
**   c = Mul(q, sqrt s), Mul(Transpose(k), sqrt s)  fused (SDPA's form)
**   d = MatMul(q, kt) * s with kt an input [B, H, hd, T]  fused (k_trans)
**   e = scores + mask before the Softmax       left alone
**   f = Softmax over axis 2 (the queries)      left alone
**   g = q, k, v = Gather(Transpose(qkv, 2 0 3 1 4), 2|0|1) of an input
**       qkv [B, T, 3, H, hd], Mul(q, s)        fused, reading qkv alone
**   h = MatMul(q, Transpose(k1)) * s ... MatMul v1 with k1, v1 Slices
**       [1, H, T, hd] of k, v    fused, the leading axes broadcast (one
**                                group of every head; float32 in bf16) 
** Eight Softmaxes in the file, two after loading, six _FusedAttention, no
** Transpose and no Gather left; a load for the CUDA backend
** (DI_NN_LOAD_PORTABLE) fuses nothing. In the plan the Reshape's output is its input's buffer (a view:
** no copy).
** Form g's qkv is gathered by each thread for its own tiles (a tile's Q
** rows, its head's K and V): its scratch holds no copy of every head's Q,
** K and V, which DI_NN_ATT_GATHER=whole (the loop before the tiles) makes. Every output within 2e-5 of the formula (values of order 1).
** The tiles' own softmax (cpu/attention_softmax.c, AVX-512) alone: rows of
** odd and even lengths (the masked tail), scores spread over 400 (far
** below the row's maximum exp underflows), each probability within 1e-5
** relative of double's, in float32 and rounded to bf16.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "nn/cpu/attention.h"
#include "nn/engine.h"
#include "onnx_build.h"

enum { B = 2, H = 3, HD = 16, TMAX = 777, NMAX = B * H * TMAX * HD };

static int T; /* the sequence length of the case being checked */
#define N (B * H * T * HD)
static float q_v[NMAX], k_v[NMAX], v_v[NMAX], kt_v[NMAX], qkv_v[3 * NMAX], mask_v[TMAX * TMAX];
/* the graph's inputs, every run (their dims set per T) */
static di_nn_io in[5] = {{DI_DT_FLOAT, 4, {B, H, 0, HD}, q_v},
                         {DI_DT_FLOAT, 4, {B, H, 0, HD}, k_v},
                         {DI_DT_FLOAT, 4, {B, H, 0, HD}, v_v},
                         {DI_DT_FLOAT, 4, {B, H, HD, 0}, kt_v},
                         {DI_DT_FLOAT, 5, {B, 0, 3, H, HD}, qkv_v}};

static uint8_t *build(size_t *len)
{
    ob b;
    ob_init(&b, 17);
    const int64_t dims[4] = {B, H, T, HD}, tdims[4] = {B, H, HD, T};
    ob_input(&b, "q", 4, dims, NULL);
    ob_input(&b, "k", 4, dims, NULL);
    ob_input(&b, "v", 4, dims, NULL);
    ob_input(&b, "kt", 4, tdims, NULL);
    ob_input(&b, "qkv", 5, (int64_t[]){B, T, 3, H, HD}, NULL);
    float s = 1.f / sqrtf((float)HD);
    ob_init_f(&b, "scale", 0, NULL, (float[]){s});
    ob_init_f(&b, "sqrt_hd", 0, NULL, (float[]){sqrtf((float)HD)});
    ob_init_f(&b, "sqrt_scale", 0, NULL, (float[]){sqrtf(s)});
    ob_init_f(&b, "mask", 2, (int64_t[]){T, T}, mask_v);
    ob_init_i64(&b, "shape3", 1, (int64_t[]){3}, (int64_t[]){B, T, H * HD});
    /* g: the heads' split as DINOv2 exports it, Q at index 2, K 0, V 1 */
    Onnx__NodeProto *tn = ob_node(&b, "Transpose", "qkv", "g_t");
    ob_attr_ints(&b, tn, "perm", 5, (int64_t[]){2, 0, 3, 1, 4});
    const char *gn[3] = {"g_q0", "g_k", "g_v"};
    for (int i = 0; i < 3; i++) {
        char iname[8], ins[32];
        snprintf(iname, sizeof iname, "gi%d", i);
        ob_init_i64(&b, iname, 0, NULL, (int64_t[]){(i + 2) % 3});
        snprintf(ins, sizeof ins, "g_t,%s", iname);
        ob_attr_i(&b, ob_node(&b, "Gather", ins, gn[i]), "axis", 0);
    }
    ob_node(&b, "Mul", "g_q0,scale", "g_q");
    tn = ob_node(&b, "Transpose", "g_k", "g_kt");
    ob_attr_ints(&b, tn, "perm", 4, (int64_t[]){0, 1, 3, 2});
    ob_node(&b, "MatMul", "g_q,g_kt", "g_s");
    ob_attr_i(&b, ob_node(&b, "Softmax", "g_s", "g_p"), "axis", -1);
    ob_node(&b, "MatMul", "g_p,g_v", "g");
    const char *forms = "abcdef";
    for (int f = 0; f < 6; f++) {
        char n[8][32], ins[96];
        for (int i = 0; i < 8; i++) snprintf(n[i], sizeof n[i], "%c%d", forms[f], i);
        Onnx__NodeProto *nd;
        /* n0 = K^T, n1 = Q used, n2 = scores, n3 = probabilities, n4 = O */
        if (f == 3) {
            snprintf(n[0], sizeof n[0], "kt");
        } else {
            nd = ob_node(&b, "Transpose", "k", f == 2 ? n[7] : n[0]);
            ob_attr_ints(&b, nd, "perm", 4, (int64_t[]){0, 1, 3, 2});
        }
        if (f == 2) {
            snprintf(ins, sizeof ins, "%s,sqrt_scale", n[7]);
            ob_node(&b, "Mul", ins, n[0]);
        }
        if (f == 0 || f == 2) {
            ob_node(&b, "Mul", f == 0 ? "scale,q" : "q,sqrt_scale", n[1]);
        } else {
            snprintf(n[1], sizeof n[1], "q");
        }
        snprintf(ins, sizeof ins, "%s,%s", n[1], n[0]);
        ob_node(&b, "MatMul", ins, f == 0 || f == 2 ? n[2] : n[5]);
        if (f == 1) {
            snprintf(ins, sizeof ins, "%s,sqrt_hd", n[5]);
            ob_node(&b, "Div", ins, n[2]);
        } else if (f >= 3) {
            snprintf(ins, sizeof ins, "%s,scale", n[5]);
            ob_node(&b, "Mul", ins, f == 4 ? n[6] : n[2]);
        }
        if (f == 4) {
            snprintf(ins, sizeof ins, "%s,mask", n[6]);
            ob_node(&b, "Add", ins, n[2]);
        }
        nd = ob_node(&b, "Softmax", n[2], n[3]);
        ob_attr_i(&b, nd, "axis", f == 5 ? 2 : -1);
        snprintf(ins, sizeof ins, "%s,v", n[3]);
        ob_node(&b, "MatMul", ins, f == 0 ? n[4] : (char[2]){forms[f], 0});
        if (f == 0) {
            nd = ob_node(&b, "Transpose", n[4], n[6]);
            ob_attr_ints(&b, nd, "perm", 4, (int64_t[]){0, 2, 1, 3});
            snprintf(ins, sizeof ins, "%s,shape3", n[6]);
            ob_node(&b, "Reshape", ins, "a");
        }
        ob_output(&b, (char[2]){forms[f], 0});
    }
    ob_output(&b, "g");
    /* h: K and V of the first image for both (Slice [1, H, T, HD]): leading
    ** axes that broadcast, the one-group path */
    ob_init_i64(&b, "h_from", 1, (int64_t[]){1}, (int64_t[]){0});
    ob_init_i64(&b, "h_to", 1, (int64_t[]){1}, (int64_t[]){1});
    ob_node(&b, "Slice", "k,h_from,h_to,h_from", "h_k");
    ob_node(&b, "Slice", "v,h_from,h_to,h_from", "h_v");
    tn = ob_node(&b, "Transpose", "h_k", "h_kt");
    ob_attr_ints(&b, tn, "perm", 4, (int64_t[]){0, 1, 3, 2});
    ob_node(&b, "MatMul", "q,h_kt", "h_s0");
    ob_node(&b, "Mul", "h_s0,scale", "h_s");
    ob_attr_i(&b, ob_node(&b, "Softmax", "h_s", "h_p"), "axis", -1);
    ob_node(&b, "MatMul", "h_p,h_v", "h");
    ob_output(&b, "h");
    uint8_t *bytes = ob_pack(&b, len);
    ob_free(&b);
    return bytes;
}

/* out[b, h, i, :] for form f in double (f 5: softmax over the queries) */
static void reference(int f, double *out)
{
    static double sc[TMAX * TMAX];
    double s = 1 / sqrt((double)HD);
    for (int bh = 0; bh < B * H; bh++) {
        int kv = f == 6 ? bh % H : bh; /* form h: the first image's K and V */
        const float *q = q_v + bh * T * HD, *k = k_v + kv * T * HD, *v = v_v + kv * T * HD;
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                double acc = 0;
                for (int e = 0; e < HD; e++) acc += (double)q[i * HD + e] * k[j * HD + e];
                sc[i * T + j] = acc * s + (f == 4 ? mask_v[i * T + j] : 0);
            }
        for (int r = 0; r < T; r++) { /* a row (f < 5) or a column (f 5) */
            int step = f == 5 ? T : 1;
            double *x = f == 5 ? sc + r : sc + r * T, mx = -INFINITY, sum = 0;
            for (int j = 0; j < T; j++) mx = fmax(mx, x[j * step]);
            for (int j = 0; j < T; j++) sum += x[j * step] = exp(x[j * step] - mx);
            for (int j = 0; j < T; j++) x[j * step] /= sum;
        }
        for (int i = 0; i < T; i++)
            for (int e = 0; e < HD; e++) {
                double acc = 0;
                for (int j = 0; j < T; j++) acc += sc[i * T + j] * v[j * HD + e];
                out[(size_t)bh * T * HD + i * HD + e] = acc;
            }
    }
}

static void count(const di_nn_graph *g, int *fused, int *softmax, int *transpose)
{
    *fused = *softmax = *transpose = 0;
    for (int i = 0; i < g->nnodes; i++) {
        *fused += !strcmp(g->nodes[i].op_type, "_FusedAttention");
        *softmax += !strcmp(g->nodes[i].op_type, "Softmax");
        /* Gathers counted as the Transposes: the heads' split */
        *transpose += !strcmp(g->nodes[i].op_type, "Transpose") ||
                      !strcmp(g->nodes[i].op_type, "Gather");
    }
}

/* The graph's eight outputs for the inputs above, in out[8] (rc, message in
** err). */
static int run_forms(di_nn_session *s, di_nn_io out[8], di_error *err)
{
    memset(out, 0, 8 * sizeof *out);
    return di_nn_run_io(s, in, 5, out, 8, err);
}

/* Form f's output y against its reference r: the largest |difference|, and
** in *big the largest |reference| (form a is [B, T, H * HD], the others
** [B, H, T, HD]). */
static double form_diff(int f, const float *y, const double *r, double *big)
{
    double worst = 0;
    *big = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++)
                for (int e = 0; e < HD; e++) {
                    size_t at = f == 0 ? ((size_t)(b * T + i) * H + h) * HD + e
                                       : ((size_t)(b * H + h) * T + i) * HD + e;
                    double ri = r[((size_t)(b * H + h) * T + i) * HD + e];
                    double d = fabs(y[at] - ri);
                    if (!(d <= worst)) worst = d;
                    if (fabs(ri) > *big) *big = fabs(ri);
                }
    return worst;
}

/* Every check above for sequences of length t. */
/* The scratch of form g's _FusedAttention (the packed qkv input) in a
** 1-thread session, DI_NN_ATT_GATHER set to gather (or unset: NULL). */
static size_t packed_scratch(const uint8_t *bytes, size_t len, const char *gather)
{
    if (gather)
        setenv("DI_NN_ATT_GATHER", gather, 1);
    di_error err;
    di_nn_graph *g = NULL;
    di_nn_session *s = NULL;
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    size_t bytes_of = 0;
    di_nn_plan *p = NULL;
    CHECKF(di_nn_graph_load_mem(bytes, len, "attention.onnx", NULL, &g, &err) == 0 &&
               di_nn_session_create_graph(g, &opt, &s, &err) == 0 &&
               di_nn_get_plan(s, in, 5, &p, &err) == 0,
           "%s", err.msg);
    for (int si = 0; p && si < p->nsteps; si++) {
        const di_nn_step *st = &p->steps[si];
        if (st->node >= 0 && !strcmp(s->g->nodes[st->node].op_type, "_FusedAttention") &&
            st->k.in[0]->ndim == 5)
            bytes_of = st->k.scratch_bytes;
    }
    di_nn_session_destroy(s);
    unsetenv("DI_NN_ATT_GATHER");
    return bytes_of;
}

static void check_length(int t)
{
    T = t;
    in[0].dims[2] = in[1].dims[2] = in[2].dims[2] = in[3].dims[3] = in[4].dims[1] = T;
    uint32_t seed = 12345;
    for (int i = 0; i < N; i++) {
        float *dst[3] = {q_v, k_v, v_v};
        for (int t = 0; t < 3; t++) {
            seed = seed * 1664525u + 1013904223u;
            dst[t][i] = (float)((seed >> 8) & 0xffff) / 65536.f * 4.f - 2.f;
        }
    }
    for (int bh = 0; bh < B * H; bh++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < HD; e++) kt_v[(bh * HD + e) * T + t] = k_v[(bh * T + t) * HD + e];
    for (int i = 0; i < T * T; i++) mask_v[i] = (i % 7 == 0) ? -3.f : 0.f;
    for (int b = 0; b < B; b++) /* qkv [B, T, 3, H, HD]: K, V, Q at 0, 1, 2 */
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                for (int e = 0; e < HD; e++) {
                    size_t from = ((size_t)(b * H + h) * T + t) * HD + e;
                    size_t to = (((size_t)(b * T + t) * 3) * H + h) * HD + e;
                    qkv_v[to] = k_v[from];
                    qkv_v[to + H * HD] = v_v[from];
                    qkv_v[to + 2 * H * HD] = q_v[from];
                }
    size_t len;
    uint8_t *bytes = build(&len);
    di_error err;
    di_error_clear(&err);

    /* what a CUDA session loads: no fused node */
    char path[] = "/tmp/di_test_attention_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        CHECK(f && fwrite(bytes, 1, len, f) == len);
        if (f) fclose(f);
        di_nn_graph *pg = NULL;
        CHECKF(di_nn_graph_load_flags(path, DI_NN_LOAD_PORTABLE, &pg, &err) == 0, "%s", err.msg);
        int fu, sm, tr;
        if (pg) {
            count(pg, &fu, &sm, &tr);
            CHECKF(fu == 0 && sm == 8, "portable load: %d fused, %d Softmax", fu, sm);
        }
        di_nn_graph_free(pg);
        remove(path);
    }

    /* the references, once: form g is form a's arithmetic */
    static double ref[7][NMAX];
    for (int f = 0; f < 7; f++) reference(f, ref[f]);
    /* the tiles shared by one thread, two and eight (some of them idle:
    ** 12 tiles over 8); the last pass with oneDNN's softmax, the path
    ** of CPUs without AVX-512 (DI_NN_ATT_SOFTMAX=dnnl, read at planning) */
    const int threads[4] = {1, 2, 8, 2};
    for (int ti = 0; ti < 4; ti++) {
        if (ti == 3) setenv("DI_NN_ATT_SOFTMAX", "dnnl", 1);
        di_nn_graph *g = NULL;
        CHECKF(di_nn_graph_load_mem(bytes, len, "attention.onnx", NULL, &g, &err) == 0, "%s",
               err.msg);
        if (!g) break;
        int fused, softmax, transpose;
        count(g, &fused, &softmax, &transpose);
        printf("T %d, threads %d%s: loaded %d nodes, %d _FusedAttention, %d Softmax, %d "
               "Transpose\n",
               T, threads[ti], ti == 3 ? " (oneDNN's softmax)" : "", g->nnodes, fused, softmax,
               transpose);
        CHECK(fused == 6);
        CHECK(softmax == 2);
        CHECK(transpose == 2); /* the K^T of the mask and axis-2 forms */
        di_nn_session *s = NULL;
        di_nn_options opt;
        di_nn_options_default(&opt);
        opt.threads = threads[ti];
        CHECKF(di_nn_session_create_graph(g, &opt, &s, &err) == 0, "%s", err.msg);
        if (!s) break;
        di_nn_io out[8];
        CHECKF(run_forms(s, out, &err) == 0, "%s", err.msg);
        for (int f = 0; f < 8; f++) {
            if (!out[f].data) continue;
            double big, worst = form_diff(f, out[f].data, ref[f == 6 ? 0 : f == 7 ? 6 : f], &big);
            printf("  form %c: max |diff| against the formula: %.3g\n", "abcdefgh"[f], worst);
            CHECKF(worst <= 2e-5, "T %d, threads %d: form %c differs by %g", T, threads[ti],
                   "abcdefgh"[f], worst);
        }
        CHECK(out[0].ndim == 3 && out[0].dims[0] == B && out[0].dims[1] == T &&
              out[0].dims[2] == H * HD);
        for (int f = 0; f < 8; f++) free(out[f].data);

        /* the Reshape after form a is a view: its output is its input's bytes */
        di_nn_plan *p = NULL;
        CHECKF(di_nn_get_plan(s, in, 5, &p, &err) == 0, "%s", err.msg);
        int views = 0;
        for (int si = 0; p && si < p->nsteps; si++) {
            const di_nn_step *st = &p->steps[si];
            if (st->node >= 0 && !strcmp(s->g->nodes[st->node].op_type, "Reshape")) {
                views++;
                CHECKF(st->k.in[0]->data == st->k.out[0]->data, "Reshape copies (%p -> %p)",
                       st->k.in[0]->data, st->k.out[0]->data);
            }
        }
        CHECK(views == 1);
        di_nn_session_destroy(s);
        unsetenv("DI_NN_ATT_SOFTMAX");
    }

    /* form g's packed qkv is gathered per thread, a tile's Q rows and its
    ** head's K and V, inside the tiles' loop: no copy of every head's Q, K
    ** and V (3 x N floats) before it, as DI_NN_ATT_GATHER=whole makes */
    size_t local = packed_scratch(bytes, len, NULL), whole = packed_scratch(bytes, len, "whole");
    printf("T %d: form g's scratch %zu bytes, %zu with the whole gather\n", T, local, whole);
    size_t copies = 3 * (size_t)N * sizeof(float), own = 3 * ((size_t)T * HD * sizeof(float) + 64);
    CHECKF(local && whole >= local + copies - own,
           "T %d: form g's scratch %zu bytes, %zu with the whole gather", T, local, whole);

    /* bf16 (where the CPU has it natively): Q, K, V and the probabilities
    ** rounded to bf16, the scores and the sums float32. Each form within
    ** bf16's rounding of the formula, and not float32's result: the bf16
    ** path ran (1 and 8 threads, 2 with oneDNN's softmax). */
    for (int ti = 0; di_nn_cpu_bf16() && ti < 4; ti += ti ? 1 : 2) {
        if (ti == 3) setenv("DI_NN_ATT_SOFTMAX", "dnnl", 1);
        di_nn_graph *g = NULL;
        CHECKF(di_nn_graph_load_mem(bytes, len, "attention.onnx", NULL, &g, &err) == 0, "%s",
               err.msg);
        if (!g) break;
        di_nn_session *s = NULL;
        di_nn_options opt;
        di_nn_options_default(&opt);
        opt.threads = threads[ti];
        opt.precision = DI_NN_BF16;
        CHECKF(di_nn_session_create_graph(g, &opt, &s, &err) == 0, "%s", err.msg);
        if (!s) break;
        di_nn_io out[8];
        CHECKF(run_forms(s, out, &err) == 0, "%s", err.msg);
        for (int f = 0; f < 8; f++) {
            if (!out[f].data) continue;
            double big, worst = form_diff(f, out[f].data, ref[f == 6 ? 0 : f == 7 ? 6 : f], &big);
            printf("  bf16, T %d, threads %d, form %c: max |diff| against the formula: %.3g of "
                   "%.3g\n",
                   T, threads[ti], "abcdefgh"[f], worst, big);
            /* form h (broadcast leading axes) runs in float32 */
            CHECKF(f == 7 ? worst <= 2e-5 : worst <= 3e-2 * big && worst > 1e-4 * big,
                   "bf16, T %d, threads %d: form %c differs by %g (largest value %g)", T,
                   threads[ti], "abcdefgh"[f], worst, big);
        }
        for (int f = 0; f < 8; f++) free(out[f].data);
        di_nn_session_destroy(s);
        unsetenv("DI_NN_ATT_SOFTMAX");
    }
    free(bytes);
}

/* di_nn_att_softmax_rows against double's softmax */
static void check_softmax_rows(void)
{
    if (!di_nn_att_softmax_native())
        return;
    enum { M = 3, NM = 1370 };
    static float s[M * NM], s0[M * NM], inv[M];
    static uint16_t p16[M * NM];
    const int lens[] = {1, 15, 16, 37, 1370};
    uint64_t rng = 7;
    double worst = 0, worst16 = 0;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int n = lens[li];
        for (int i = 0; i < M * n; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(rng >> 40) / (double)(1 << 24);
            /* row 0 within 40, row 1 over 400 (underflow), row 2 constant */
            s0[i] = i / n == 0 ? (float)(u * 40 - 30) : i / n == 1 ? (float)(u * 400 - 300) : 2.5f;
        }
        for (int bf = 0; bf < 2; bf++) {
            memcpy(s, s0, (size_t)(M * n) * sizeof(float));
            di_nn_att_softmax_rows(s, M, n, bf ? p16 : NULL, inv);
            for (int r = 0; r < M; r++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < n; j++) mx = fmax(mx, s0[r * n + j]);
                for (int j = 0; j < n; j++) sum += exp(s0[r * n + j] - mx);
                for (int j = 0; j < n; j++) {
                    double ref = exp(s0[r * n + j] - mx) / sum, e;
                    if (bf) {
                        uint32_t u = (uint32_t)p16[r * n + j] << 16;
                        float f;
                        memcpy(&f, &u, sizeof f);
                        e = fabs(f * inv[r] - ref) / (ref + 1e-30);
                        worst16 = fmax(worst16, e);
                    } else {
                        e = fabs(s[r * n + j] * inv[r] - ref) / (ref + 1e-30);
                        worst = fmax(worst, e);
                    }
                }
            }
        }
    }
    printf("softmax rows: max relative diff against double %.3g (float32), %.3g (bf16)\n", worst,
           worst16);
    CHECKF(worst <= 1e-5, "softmax rows: relative diff %.3g", worst);
    CHECKF(worst16 <= 1.0 / 256, "softmax rows, bf16: relative diff %.3g", worst16);
}

int main(void)
{
    (void)ob_attr_f;
    check_softmax_rows();
    check_length(520);
    check_length(777);
    return check_summary();
}
