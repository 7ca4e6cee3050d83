/*
** dav2_graph.h: a Depth Anything V2 small-shaped ONNX graph, written the way
** torch.onnx.export writes DA-V2 (a DINOv2 ViT/14 encoder + DPT head) with
** a dynamic batch axis, with deterministic weights. Used by the nn-dav2 test
** (a few blocks, a small input) and by bench/dav2_model.c (full size:
** 12 blocks, 518x518). Header-only like onnx_build.h, which it builds on.
**
** encoder: Conv 14x14/14 -> Reshape (batch from Shape/Gather/Unsqueeze/
**   Concat) -> Transpose -> cls token Expand (shape through Equal/Where/
**   ConstantOfShape, as torch writes expand(B, -1, -1)) + Concat -> position
**   embedding Add -> blocks: LayerNormalization (block 1's second norm
**   decomposed: ReduceMean/Sub/Pow/Add/Sqrt/Div/Mul/Add), qkv MatMul + Add,
**   Reshape to [B, T, 3, H, hd] (shape from the batch), Transpose, Gather
**   q/k/v, k Transposed, scaled by a constant (blocks 0 and 1 mod 4: q by
**   Mul; 2: the scores by Div; 3: q and k^T each by Mul, as
**   scaled_dot_product_attention exports), MatMul, Softmax, MatMul,
**   Transpose, Reshape back, projection, layer-scale Mul, residual Add, MLP
**   with GELU as x*0.5*(1+erf(x/sqrt2)), layer-scale Mul, residual Add.
** head (DPT): four blocks' outputs -> the final LayerNormalization -> cls
**   dropped by Slice -> Transpose -> Reshape to B x C x h x w (Shape/Gather/
**   Unsqueeze/Concat) -> 1x1 Conv -> ConvTranspose 4x4/4, ConvTranspose
**   2x2/2, Identity, Conv 3x3/2 -> 3x3 Conv to 64 features -> RefineNet
**   fusion (residual units Relu-Conv-Relu-Conv-Add, Resize bilinear
**   align_corners to the next level's size, given as sizes from a Shape
**   chain, or scale 2 for the last) -> 1x1 Conv -> Conv 3x3 -> Resize to the
**   input size -> Conv 3x3 -> Relu -> Conv 1x1 -> Relu -> Squeeze -> B x H x W.
*/
#ifndef DI_TEST_DAV2_GRAPH_H
#define DI_TEST_DAV2_GRAPH_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "onnx_build.h"

typedef struct dav2_cfg {
    int dim, heads, grid, blocks, features; /* ViT-S: 384, 6, 37 (518 px), 12, 64 */
    int opset;                              /* 0: 17; from 18 ReduceMean takes its axes as an input */
    int dynamic_hw; /* height and width symbolic (Optimum/HF export): the patch grid from the
                    ** input's Shape, the position embedding resized to it (bicubic, scales
                    ** (h + 0.1) / grid computed at run time, as HF's Dinov2 writes them), token
                    ** counts -1 in Reshapes, the output resized to the input's Shape */
} dav2_cfg;

enum { DAV2_PATCH = 14 };

typedef struct dav2_b {
    ob *b;
    int opset, dynamic_hw;
    uint64_t rng;
    char s[8][128]; /* rotating name buffers */
    int si;
} dav2_b;

static double dav2_randn(dav2_b *d)
{
    d->rng = d->rng * 6364136223846793005ull + 1442695040888963407ull;
    double u = ((double)(d->rng >> 11) + 1) / 9007199254740993.0;
    d->rng = d->rng * 6364136223846793005ull + 1442695040888963407ull;
    double v = (double)(d->rng >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* a printf-formatted name, valid for the next 7 calls */
static const char *dav2_n(dav2_b *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *dav2_n(dav2_b *d, const char *fmt, ...)
{
    char *s = d->s[d->si++ & 7];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof d->s[0], fmt, ap);
    va_end(ap);
    return s;
}

/* normal weights times scale, plus mean */
static void dav2_w(dav2_b *d, const char *name, double scale, double mean, int nd, const int64_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)dims[i];
    float *v = malloc(n * sizeof(float));
    if (!v) abort();
    for (size_t i = 0; i < n; i++) v[i] = (float)(mean + dav2_randn(d) * scale);
    ob_init_f(d->b, name, nd, dims, v);
    free(v);
}

static void dav2_f(dav2_b *d, const char *name, float v) { ob_init_f(d->b, name, 0, NULL, &v); }

static void dav2_i(dav2_b *d, const char *name, int n, const int64_t *v)
{
    int64_t len = n;
    ob_init_i64(d->b, name, 1, &len, v);
}

static void dav2_s(dav2_b *d, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = ob_attr(d->b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.data = (uint8_t *)ob_str(d->b, v);
    a->s.len = strlen(v);
}

/* Conv with He-normal weights (fan-in), bias 0.02-normal; pad p, stride st */
static void dav2_conv(dav2_b *d, const char *pre, const char *in, const char *out, int64_t ci, int64_t co,
                      int64_t k, int64_t st, int64_t p, int bias)
{
    char w[96], bb[96], ins[320];
    snprintf(w, sizeof w, "%s.weight", pre);
    snprintf(bb, sizeof bb, "%s.bias", pre);
    dav2_w(d, w, sqrt(2.0 / (double)(ci * k * k)), 0, 4, (int64_t[]){co, ci, k, k});
    if (bias) dav2_w(d, bb, 0.02, 0, 1, (int64_t[]){co});
    if (bias) snprintf(ins, sizeof ins, "%s,%s,%s", in, w, bb);
    else snprintf(ins, sizeof ins, "%s,%s", in, w);
    Onnx__NodeProto *n = ob_node(d->b, "Conv", ins, out);
    ob_attr_ints(d->b, n, "dilations", 2, (int64_t[]){1, 1});
    ob_attr_i(d->b, n, "group", 1);
    ob_attr_ints(d->b, n, "kernel_shape", 2, (int64_t[]){k, k});
    ob_attr_ints(d->b, n, "pads", 4, (int64_t[]){p, p, p, p});
    ob_attr_ints(d->b, n, "strides", 2, (int64_t[]){st, st});
}

/* Linear as torch exports it: MatMul by the transposed weight, Add bias */
static void dav2_linear(dav2_b *d, const char *pre, const char *in, const char *out, int64_t ci, int64_t co)
{
    char w[96], bb[96], ins[320], mm[128];
    snprintf(w, sizeof w, "%s.wT", pre);
    snprintf(bb, sizeof bb, "%s.bias", pre);
    snprintf(mm, sizeof mm, "%s.mm", pre);
    dav2_w(d, w, 1 / sqrt((double)ci), 0, 2, (int64_t[]){ci, co});
    dav2_w(d, bb, 0.02, 0, 1, (int64_t[]){co});
    snprintf(ins, sizeof ins, "%s,%s", in, w);
    ob_node(d->b, "MatMul", ins, mm);
    snprintf(ins, sizeof ins, "%s,%s", mm, bb);
    ob_node(d->b, "Add", ins, out);
}

static void dav2_layernorm(dav2_b *d, const char *pre, const char *in, const char *out, int64_t D, int decomposed)
{
    char s[96], bb[96], ins[320];
    snprintf(s, sizeof s, "%s.weight", pre);
    snprintf(bb, sizeof bb, "%s.bias", pre);
    dav2_w(d, s, 0.1, 1.0, 1, (int64_t[]){D});
    dav2_w(d, bb, 0.05, 0, 1, (int64_t[]){D});
    if (!decomposed) {
        snprintf(ins, sizeof ins, "%s,%s,%s", in, s, bb);
        Onnx__NodeProto *n = ob_node(d->b, "LayerNormalization", ins, out);
        ob_attr_i(d->b, n, "axis", -1);
        ob_attr_f(d->b, n, "epsilon", 1e-6f);
        return;
    }
    /* the form older exporters (opset < 17) write */
    char mu[96], xc[96], x2[96], var[96], ve[96], sd[96], nr[96], sc[96];
    snprintf(mu, sizeof mu, "%s.mu", pre);
    snprintf(xc, sizeof xc, "%s.xc", pre);
    snprintf(x2, sizeof x2, "%s.x2", pre);
    snprintf(var, sizeof var, "%s.var", pre);
    snprintf(ve, sizeof ve, "%s.ve", pre);
    snprintf(sd, sizeof sd, "%s.sd", pre);
    snprintf(nr, sizeof nr, "%s.nr", pre);
    snprintf(sc, sizeof sc, "%s.sc", pre);
    /* up to opset 17 ReduceMean's axes are an attribute, then an input */
    Onnx__NodeProto *n;
    if (d->opset >= 18) {
        snprintf(ins, sizeof ins, "%s,axes_m1", in);
        ob_node(d->b, "ReduceMean", ins, mu);
    } else {
        n = ob_node(d->b, "ReduceMean", in, mu);
        ob_attr_ints(d->b, n, "axes", 1, (int64_t[]){-1});
    }
    snprintf(ins, sizeof ins, "%s,%s", in, mu);
    ob_node(d->b, "Sub", ins, xc);
    snprintf(ins, sizeof ins, "%s,two", xc);
    ob_node(d->b, "Pow", ins, x2);
    if (d->opset >= 18) {
        snprintf(ins, sizeof ins, "%s,axes_m1", x2);
        ob_node(d->b, "ReduceMean", ins, var);
    } else {
        n = ob_node(d->b, "ReduceMean", x2, var);
        ob_attr_ints(d->b, n, "axes", 1, (int64_t[]){-1});
    }
    snprintf(ins, sizeof ins, "%s,eps", var);
    ob_node(d->b, "Add", ins, ve);
    ob_node(d->b, "Sqrt", ve, sd);
    snprintf(ins, sizeof ins, "%s,%s", xc, sd);
    ob_node(d->b, "Div", ins, nr);
    snprintf(ins, sizeof ins, "%s,%s", nr, s);
    ob_node(d->b, "Mul", ins, sc);
    snprintf(ins, sizeof ins, "%s,%s", sc, bb);
    ob_node(d->b, "Add", ins, out);
}

/* [N, C] from a tensor's Shape: "<name>.N1" ([1] batch) */
static void dav2_batch(dav2_b *d, const char *of_, const char *pre_)
{
    char of[128], pre[128]; /* the arguments may be dav2_n buffers */
    snprintf(of, sizeof of, "%s", of_);
    snprintf(pre, sizeof pre, "%s", pre_);
    char shp[160], g[160];
    snprintf(shp, sizeof shp, "%s.shape", pre);
    snprintf(g, sizeof g, "%s.shape,si0", pre); /* a scalar index: a scalar batch */
    ob_node(d->b, "Shape", of, shp);
    Onnx__NodeProto *n = ob_node(d->b, "Gather", g, dav2_n(d, "%s.N", pre));
    ob_attr_i(d->b, n, "axis", 0);
    ob_node(d->b, "Unsqueeze", dav2_n(d, "%s.N,axes0", pre), dav2_n(d, "%s.N1", pre));
}

static void dav2_block(dav2_b *d, const dav2_cfg *c, int k, const char *in_, const char *out_)
{
    char in[128], out[128];
    snprintf(in, sizeof in, "%s", in_);
    snprintf(out, sizeof out, "%s", out_);
    int64_t D = c->dim, H = c->heads, HD = D / H, T = (int64_t)c->grid * c->grid + 1;
    char p[32];
    snprintf(p, sizeof p, "blk%d", k);
    dav2_layernorm(d, dav2_n(d, "%s.norm1", p), in, dav2_n(d, "%s.n1", p), D, 0);
    dav2_linear(d, dav2_n(d, "%s.qkv", p), dav2_n(d, "%s.n1", p), dav2_n(d, "%s.qkv_o", p), D, 3 * D);
    /* reshape(B, T, 3, H, hd) with B from the shape */
    dav2_batch(d, dav2_n(d, "%s.n1", p), p);
    dav2_i(d, dav2_n(d, "%s.t3hhd", p), 4, (int64_t[]){d->dynamic_hw ? -1 : T, 3, H, HD});
    Onnx__NodeProto *n = ob_node(d->b, "Concat", dav2_n(d, "%s.N1,%s.t3hhd", p, p), dav2_n(d, "%s.qkv_shape", p));
    ob_attr_i(d->b, n, "axis", 0);
    ob_node(d->b, "Reshape", dav2_n(d, "%s.qkv_o,%s.qkv_shape", p, p), dav2_n(d, "%s.qkv5", p));
    n = ob_node(d->b, "Transpose", dav2_n(d, "%s.qkv5", p), dav2_n(d, "%s.qkvT", p));
    ob_attr_ints(d->b, n, "perm", 5, (int64_t[]){2, 0, 3, 1, 4});
    const char *qkv[3] = {"q0", "k", "v"};
    for (int i = 0; i < 3; i++) {
        n = ob_node(d->b, "Gather", dav2_n(d, "%s.qkvT,si%d", p, i), dav2_n(d, "%s.%s", p, qkv[i]));
        ob_attr_i(d->b, n, "axis", 0);
    }
    /* the scale as the three exporter forms write it: q * scale (DINOv2's
    ** Attention), scores / sqrt(hd), and q and k^T each times sqrt(scale)
    ** (scaled_dot_product_attention) */
    int form = k % 4 == 2 ? 1 : k % 4 == 3 ? 2 : 0;
    n = ob_node(d->b, "Transpose", dav2_n(d, "%s.k", p), dav2_n(d, "%s.kT0", p));
    ob_attr_ints(d->b, n, "perm", 4, (int64_t[]){0, 1, 3, 2});
    if (form == 0) ob_node(d->b, "Mul", dav2_n(d, "%s.q0,qk_scale", p), dav2_n(d, "%s.q", p));
    if (form == 2) {
        ob_node(d->b, "Mul", dav2_n(d, "%s.q0,qk_sqrt_scale", p), dav2_n(d, "%s.q", p));
        ob_node(d->b, "Mul", dav2_n(d, "%s.kT0,qk_sqrt_scale", p), dav2_n(d, "%s.kT", p));
    }
    ob_node(d->b, "MatMul", dav2_n(d, form == 1 ? "%s.q0,%s.kT0" : form == 0 ? "%s.q,%s.kT0" : "%s.q,%s.kT", p, p),
            dav2_n(d, form == 1 ? "%s.att_u" : "%s.att0", p));
    if (form == 1) ob_node(d->b, "Div", dav2_n(d, "%s.att_u,qk_sqrt_hd", p), dav2_n(d, "%s.att0", p));
    n = ob_node(d->b, "Softmax", dav2_n(d, "%s.att0", p), dav2_n(d, "%s.att", p));
    ob_attr_i(d->b, n, "axis", -1);
    ob_node(d->b, "MatMul", dav2_n(d, "%s.att,%s.v", p, p), dav2_n(d, "%s.o0", p));
    n = ob_node(d->b, "Transpose", dav2_n(d, "%s.o0", p), dav2_n(d, "%s.o1", p));
    ob_attr_ints(d->b, n, "perm", 4, (int64_t[]){0, 2, 1, 3});
    dav2_i(d, dav2_n(d, "%s.td", p), 2, (int64_t[]){d->dynamic_hw ? -1 : T, D});
    n = ob_node(d->b, "Concat", dav2_n(d, "%s.N1,%s.td", p, p), dav2_n(d, "%s.o_shape", p));
    ob_attr_i(d->b, n, "axis", 0);
    ob_node(d->b, "Reshape", dav2_n(d, "%s.o1,%s.o_shape", p, p), dav2_n(d, "%s.o2", p));
    dav2_linear(d, dav2_n(d, "%s.proj", p), dav2_n(d, "%s.o2", p), dav2_n(d, "%s.o3", p), D, D);
    dav2_w(d, dav2_n(d, "%s.ls1", p), 0.05, 0.3, 1, (int64_t[]){D});
    ob_node(d->b, "Mul", dav2_n(d, "%s.o3,%s.ls1", p, p), dav2_n(d, "%s.o4", p));
    ob_node(d->b, "Add", dav2_n(d, "%s,%s.o4", in, p), dav2_n(d, "%s.x1", p));
    /* MLP */
    dav2_layernorm(d, dav2_n(d, "%s.norm2", p), dav2_n(d, "%s.x1", p), dav2_n(d, "%s.n2", p), D, k == 1);
    dav2_linear(d, dav2_n(d, "%s.fc1", p), dav2_n(d, "%s.n2", p), dav2_n(d, "%s.h0", p), D, 4 * D);
    ob_node(d->b, "Div", dav2_n(d, "%s.h0,sqrt2", p), dav2_n(d, "%s.g0", p));
    ob_node(d->b, "Erf", dav2_n(d, "%s.g0", p), dav2_n(d, "%s.g1", p));
    ob_node(d->b, "Add", dav2_n(d, "%s.g1,one", p), dav2_n(d, "%s.g2", p));
    ob_node(d->b, "Mul", dav2_n(d, "%s.h0,%s.g2", p, p), dav2_n(d, "%s.g3", p));
    ob_node(d->b, "Mul", dav2_n(d, "%s.g3,half", p), dav2_n(d, "%s.gelu", p));
    dav2_linear(d, dav2_n(d, "%s.fc2", p), dav2_n(d, "%s.gelu", p), dav2_n(d, "%s.h1", p), 4 * D, D);
    dav2_w(d, dav2_n(d, "%s.ls2", p), 0.05, 0.3, 1, (int64_t[]){D});
    ob_node(d->b, "Mul", dav2_n(d, "%s.h1,%s.ls2", p, p), dav2_n(d, "%s.h2", p));
    ob_node(d->b, "Add", dav2_n(d, "%s.x1,%s.h2", p, p), out);
}

/* Resize bilinear align_corners, torch's attribute set */
static Onnx__NodeProto *dav2_resize(dav2_b *d, const char *ins, const char *out)
{
    Onnx__NodeProto *n = ob_node(d->b, "Resize", ins, out);
    ob_attr_f(d->b, n, "cubic_coeff_a", -0.75f);
    dav2_s(d, n, "coordinate_transformation_mode", "align_corners");
    dav2_s(d, n, "mode", "linear");
    dav2_s(d, n, "nearest_mode", "floor");
    return n;
}

/* Resize x to the spatial size of `like` via sizes = Concat(Shape(x)[:2], Shape(like)[2:]) */
static void dav2_resize_like(dav2_b *d, const char *pre_, const char *x_, const char *like_, const char *out_)
{
    char pre[128], x[128], like[128], out[128];
    snprintf(pre, sizeof pre, "%s", pre_);
    snprintf(x, sizeof x, "%s", x_);
    snprintf(like, sizeof like, "%s", like_);
    snprintf(out, sizeof out, "%s", out_);
    ob_node(d->b, "Shape", x, dav2_n(d, "%s.xs", pre));
    ob_node(d->b, "Slice", dav2_n(d, "%s.xs,sl0,sl2,axes0", pre), dav2_n(d, "%s.nc", pre));
    ob_node(d->b, "Shape", like, dav2_n(d, "%s.ls", pre));
    ob_node(d->b, "Slice", dav2_n(d, "%s.ls,sl2,sl4,axes0", pre), dav2_n(d, "%s.hw", pre));
    Onnx__NodeProto *n = ob_node(d->b, "Concat", dav2_n(d, "%s.nc,%s.hw", pre, pre), dav2_n(d, "%s.sizes", pre));
    ob_attr_i(d->b, n, "axis", 0);
    dav2_resize(d, dav2_n(d, "%s,,,%s.sizes", x, pre), out);
}

/* RefineNet residual unit: relu-conv-relu-conv + x */
static void dav2_rcu(dav2_b *d, const char *pre_, const char *in_, const char *out_, int64_t F)
{
    char pre[128], in[128], out[128];
    snprintf(pre, sizeof pre, "%s", pre_);
    snprintf(in, sizeof in, "%s", in_);
    snprintf(out, sizeof out, "%s", out_);
    ob_node(d->b, "Relu", in, dav2_n(d, "%s.r0", pre));
    dav2_conv(d, dav2_n(d, "%s.conv1", pre), dav2_n(d, "%s.r0", pre), dav2_n(d, "%s.c1", pre), F, F, 3, 1, 1, 1);
    ob_node(d->b, "Relu", dav2_n(d, "%s.c1", pre), dav2_n(d, "%s.r1", pre));
    dav2_conv(d, dav2_n(d, "%s.conv2", pre), dav2_n(d, "%s.r1", pre), dav2_n(d, "%s.c2", pre), F, F, 3, 1, 1, 1);
    /* keep the residual branch small so the sum stays in range */
    ob_node(d->b, "Mul", dav2_n(d, "%s.c2,rcu_scale", pre), dav2_n(d, "%s.c3", pre));
    ob_node(d->b, "Add", dav2_n(d, "%s.c3,%s", pre, in), out);
}

/* Builds the graph into b (ob_init'ed here, at the configured opset). */
static void dav2_build(ob *b, const dav2_cfg *c)
{
    dav2_b dd = {.b = b, .opset = c->opset ? c->opset : 17, .dynamic_hw = c->dynamic_hw, .rng = 20250418}, *d = &dd;
    const int64_t D = c->dim, G = c->grid, T = G * G, F = c->features, P = DAV2_PATCH, img = G * P;
    const int64_t och[4] = {F * 3 / 4, F * 3 / 2, F * 3, F * 6}; /* 48, 96, 192, 384 for 64 */
    ob_init(b, d->opset);
    if (c->dynamic_hw) ob_input(b, "image", 4, (int64_t[]){1, 3, -1, -1}, "batch");
    else ob_input(b, "image", 4, (int64_t[]){1, 3, img, img}, "batch");
    /* shared constants */
    ob_init_i64(b, "si0", 0, NULL, (int64_t[]){0});
    ob_init_i64(b, "si1", 0, NULL, (int64_t[]){1});
    ob_init_i64(b, "si2", 0, NULL, (int64_t[]){2});
    dav2_i(d, "axes0", 1, (int64_t[]){0});
    dav2_i(d, "axes1", 1, (int64_t[]){1});
    if (d->opset >= 18) dav2_i(d, "axes_m1", 1, (int64_t[]){-1});
    dav2_i(d, "sl0", 1, (int64_t[]){0});
    dav2_i(d, "sl1", 1, (int64_t[]){1});
    dav2_i(d, "sl2", 1, (int64_t[]){2});
    dav2_i(d, "sl4", 1, (int64_t[]){4});
    dav2_i(d, "sl_max", 1, (int64_t[]){INT64_MAX});
    dav2_f(d, "two", 2.f);
    dav2_f(d, "eps", 1e-6f);
    dav2_f(d, "sqrt2", 1.4142135381698608f);
    dav2_f(d, "one", 1.f);
    dav2_f(d, "half", 0.5f);
    dav2_f(d, "qk_scale", (float)(1 / sqrt((double)(D / c->heads))));
    dav2_f(d, "qk_sqrt_hd", (float)sqrt((double)(D / c->heads)));
    dav2_f(d, "qk_sqrt_scale", (float)sqrt(1 / sqrt((double)(D / c->heads))));
    dav2_f(d, "rcu_scale", 0.25f);

    /* patch embedding, tokens, cls token, position embedding */
    dav2_conv(d, "patch_embed", "image", "pe", 3, D, P, P, 0, 1);
    dav2_batch(d, "pe", "pe");
    dav2_i(d, "d_m1", 2, (int64_t[]){D, -1});
    Onnx__NodeProto *n = ob_node(b, "Concat", "pe.N1,d_m1", "pe_flat_shape");
    ob_attr_i(b, n, "axis", 0);
    ob_node(b, "Reshape", "pe,pe_flat_shape", "pe_flat");
    n = ob_node(b, "Transpose", "pe_flat", "tok0");
    ob_attr_ints(b, n, "perm", 3, (int64_t[]){0, 2, 1});
    /* cls_token.expand(B, -1, -1): torch writes the -1s through Where */
    dav2_w(d, "cls_token", 0.5, 0, 3, (int64_t[]){1, 1, D});
    dav2_i(d, "m1m1", 2, (int64_t[]){-1, -1});
    n = ob_node(b, "Concat", "pe.N1,m1m1", "cls_shape0");
    ob_attr_i(b, n, "axis", 0);
    dav2_i(d, "three", 1, (int64_t[]){3});
    n = ob_node(b, "ConstantOfShape", "three", "ones3");
    Onnx__AttributeProto *a = ob_attr(b, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = ob_tensor(b, "v", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, (int64_t[]){1}, (int64_t[]){1}, 8);
    dav2_i(d, "m1x3", 3, (int64_t[]){-1, -1, -1});
    ob_node(b, "Equal", "cls_shape0,m1x3", "cls_is_m1");
    ob_node(b, "Where", "cls_is_m1,ones3,cls_shape0", "cls_shape");
    ob_node(b, "Expand", "cls_token,cls_shape", "cls");
    n = ob_node(b, "Concat", "cls,tok0", "tok1");
    ob_attr_i(b, n, "axis", 1);
    dav2_w(d, "pos_embed", 0.5, 0, 3, (int64_t[]){1, T + 1, D});
    if (!c->dynamic_hw) {
        ob_node(b, "Add", "tok1,pos_embed", "x0");
    } else {
        /* the grid: Shape(image)[2:4] / 14; HF's interpolate_pos_encoding */
        ob_node(b, "Shape", "image", "img.shape");
        ob_node(b, "Slice", "img.shape,sl2,sl4,axes0", "img_hw");
        dav2_i(d, "patch2", 2, (int64_t[]){P, P});
        ob_node(b, "Div", "img_hw,patch2", "hw_g");
        dav2_i(d, "sl_pos1", 1, (int64_t[]){1});
        ob_node(b, "Slice", "pos_embed,sl0,sl_pos1,axes1", "pos_cls");
        ob_node(b, "Slice", "pos_embed,sl_pos1,sl_max,axes1", "pos_patch");
        dav2_i(d, "pos_grid_shape", 4, (int64_t[]){1, G, G, D});
        ob_node(b, "Reshape", "pos_patch,pos_grid_shape", "pos_grid");
        n = ob_node(b, "Transpose", "pos_grid", "pos_nchw");
        ob_attr_ints(b, n, "perm", 4, (int64_t[]){0, 3, 1, 2});
        n = ob_node(b, "Cast", "hw_g", "hw_gf");
        ob_attr_i(b, n, "to", 1);
        dav2_f(d, "tenth", 0.1f);
        dav2_f(d, "grid_f", (float)G);
        ob_node(b, "Add", "hw_gf,tenth", "hw_gf1");
        ob_node(b, "Div", "hw_gf1,grid_f", "pos_sc_hw");
        ob_init_f(b, "ones2f", 1, (int64_t[]){2}, (float[]){1, 1});
        n = ob_node(b, "Concat", "ones2f,pos_sc_hw", "pos_scales");
        ob_attr_i(b, n, "axis", 0);
        n = ob_node(b, "Resize", "pos_nchw,,pos_scales", "pos_rs");
        ob_attr_f(b, n, "cubic_coeff_a", -0.75f);
        dav2_s(d, n, "coordinate_transformation_mode", "half_pixel");
        dav2_s(d, n, "mode", "cubic");
        n = ob_node(b, "Transpose", "pos_rs", "pos_nhwc");
        ob_attr_ints(b, n, "perm", 4, (int64_t[]){0, 2, 3, 1});
        dav2_i(d, "pos_flat_shape", 3, (int64_t[]){1, -1, D});
        ob_node(b, "Reshape", "pos_nhwc,pos_flat_shape", "pos_flat");
        n = ob_node(b, "Concat", "pos_cls,pos_flat", "pos_rt");
        ob_attr_i(b, n, "axis", 1);
        ob_node(b, "Add", "tok1,pos_rt", "x0");
    }

    /* blocks; the head takes four of them through the final norm */
    int taken[4];
    for (int i = 0; i < 4; i++) taken[i] = (i + 1) * c->blocks / 4 - 1;
    for (int k = 0; k < c->blocks; k++) dav2_block(d, c, k, dav2_n(d, "x%d", k), dav2_n(d, "x%d", k + 1));
    /* the shared norm's weights once, applied to each taken output */
    dav2_w(d, "norm.weight", 0.1, 1.0, 1, (int64_t[]){D});
    dav2_w(d, "norm.bias", 0.05, 0, 1, (int64_t[]){D});
    for (int i = 0; i < 4; i++) {
        char p[16];
        snprintf(p, sizeof p, "L%d", i);
        n = ob_node(b, "LayerNormalization", dav2_n(d, "x%d,norm.weight,norm.bias", taken[i] + 1), dav2_n(d, "%s.ln", p));
        ob_attr_i(b, n, "axis", -1);
        ob_attr_f(b, n, "epsilon", 1e-6f);
        ob_node(b, "Slice", dav2_n(d, "%s.ln,sl1,sl_max,axes1", p), dav2_n(d, "%s.tok", p));
        n = ob_node(b, "Transpose", dav2_n(d, "%s.tok", p), dav2_n(d, "%s.tT", p));
        ob_attr_ints(b, n, "perm", 3, (int64_t[]){0, 2, 1});
        /* reshape((x.shape[0], x.shape[-1], h, w)): the channel count from the shape too */
        dav2_batch(d, dav2_n(d, "%s.tok", p), p);
        n = ob_node(b, "Gather", dav2_n(d, "%s.shape,si2", p), dav2_n(d, "%s.C", p));
        ob_attr_i(b, n, "axis", 0);
        ob_node(b, "Unsqueeze", dav2_n(d, "%s.C,axes0", p), dav2_n(d, "%s.C1", p));
        n = ob_node(b, "Concat", dav2_n(d, "%s.N1,%s.C1,hw_g", p, p), dav2_n(d, "%s.map_shape", p));
        ob_attr_i(b, n, "axis", 0);
        if (i == 0 && !c->dynamic_hw) dav2_i(d, "hw_g", 2, (int64_t[]){G, G});
        ob_node(b, "Reshape", dav2_n(d, "%s.tT,%s.map_shape", p, p), dav2_n(d, "%s.map", p));
        dav2_conv(d, dav2_n(d, "proj%d", i), dav2_n(d, "%s.map", p), dav2_n(d, "%s.pj", p), D, och[i], 1, 1, 0, 1);
    }
    /* resize layers */
    const int64_t k4 = 4, k2 = 2;
    dav2_w(d, "rs0.weight", sqrt(1.0 / (double)och[0]), 0, 4, (int64_t[]){och[0], och[0], k4, k4});
    dav2_w(d, "rs0.bias", 0.02, 0, 1, (int64_t[]){och[0]});
    n = ob_node(b, "ConvTranspose", "L0.pj,rs0.weight,rs0.bias", "L0.rs");
    ob_attr_ints(b, n, "kernel_shape", 2, (int64_t[]){k4, k4});
    ob_attr_ints(b, n, "strides", 2, (int64_t[]){k4, k4});
    ob_attr_ints(b, n, "pads", 4, (int64_t[]){0, 0, 0, 0});
    dav2_w(d, "rs1.weight", sqrt(1.0 / (double)och[1]), 0, 4, (int64_t[]){och[1], och[1], k2, k2});
    dav2_w(d, "rs1.bias", 0.02, 0, 1, (int64_t[]){och[1]});
    n = ob_node(b, "ConvTranspose", "L1.pj,rs1.weight,rs1.bias", "L1.rs");
    ob_attr_ints(b, n, "kernel_shape", 2, (int64_t[]){k2, k2});
    ob_attr_ints(b, n, "strides", 2, (int64_t[]){k2, k2});
    ob_node(b, "Identity", "L2.pj", "L2.rs");
    dav2_conv(d, "rs3", "L3.pj", "L3.rs", och[3], och[3], 3, 2, 1, 1);
    /* layer_rn: 3x3 to the feature width, no bias */
    for (int i = 0; i < 4; i++)
        dav2_conv(d, dav2_n(d, "layer%d_rn", i + 1), dav2_n(d, "L%d.rs", i), dav2_n(d, "L%d.rn", i), och[i], F, 3, 1, 1, 0);
    /* fusion, deepest first */
    float sc2[4] = {1, 1, 2, 2};
    ob_init_f(b, "scale2", 1, (int64_t[]){4}, sc2);
    for (int i = 3; i >= 0; i--) {
        char p[16];
        snprintf(p, sizeof p, "ref%d", i + 1);
        const char *x = dav2_n(d, "L%d.rn", i);
        if (i < 3) {
            dav2_rcu(d, dav2_n(d, "%s.rcu1", p), x, dav2_n(d, "%s.r1o", p), F);
            ob_node(b, "Add", dav2_n(d, "path%d,%s.r1o", i + 2, p), dav2_n(d, "%s.sum", p));
            x = dav2_n(d, "%s.sum", p);
        }
        dav2_rcu(d, dav2_n(d, "%s.rcu2", p), x, dav2_n(d, "%s.r2o", p), F);
        if (i > 0) dav2_resize_like(d, p, dav2_n(d, "%s.r2o", p), dav2_n(d, "L%d.rn", i - 1), dav2_n(d, "%s.up", p));
        else dav2_resize(d, dav2_n(d, "%s.r2o,,scale2", p), dav2_n(d, "%s.up", p));
        dav2_conv(d, dav2_n(d, "%s.out_conv", p), dav2_n(d, "%s.up", p), dav2_n(d, "path%d", i + 1), F, F, 1, 1, 0, 1);
    }
    /* output head */
    dav2_conv(d, "output_conv1", "path1", "oc1", F, F / 2, 3, 1, 1, 1);
    if (!c->dynamic_hw) dav2_i(d, "img_hw", 2, (int64_t[]){img, img});
    ob_node(b, "Shape", "oc1", "oc1.shape");
    ob_node(b, "Slice", "oc1.shape,sl0,sl2,axes0", "oc1.nc");
    n = ob_node(b, "Concat", "oc1.nc,img_hw", "oc1.sizes");
    ob_attr_i(b, n, "axis", 0);
    dav2_resize(d, "oc1,,,oc1.sizes", "oc1.up");
    dav2_conv(d, "output_conv2.0", "oc1.up", "oc2a", F / 2, 32, 3, 1, 1, 1);
    ob_node(b, "Relu", "oc2a", "oc2ar");
    dav2_conv(d, "output_conv2.2", "oc2ar", "oc2b", 32, 1, 1, 1, 0, 1);
    ob_node(b, "Relu", "oc2b", "depth4");
    ob_node(b, "Squeeze", "depth4,axes1", "depth");
    ob_output(b, "depth");
}

#endif
