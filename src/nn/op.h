/*
** op.h: the interface between the engine and one operator's kernel.
**
** To add an op: write a `const di_nn_op di_op_NAME` in a cpu/ops_*.c file and
** list it in ops.c's table. This header knows no oneDNN type: the CPU
** kernels reach oneDNN through cpu/cpu.h. The engine calls, for each node:
**
**   check(graph, node)   once at load time. Look only at attributes (and at
**                        which inputs are present). Any attribute value the
**                        kernel does not implement must fail here, with
**                        di_nn_unsupported(), so that a model is refused when
**                        it is loaded, never in the middle of a run.
**   infer(k)             once per plan, for every backend (backend-neutral:
**                        src/nn/infer_*.c): checks the input element types
**                        and shapes, decodes the attributes into k->params
**                        (op->params_size bytes, zeroed, owned by the plan)
**                        and fills every output's dtype/ndim/dims. A backend
**                        reads the shapes and params; it does not decode or
**                        compute them again. Params that hold allocated
**                        memory (Resize's tables) are freed by the op's
**                        release_params.
**   prepare(k)           once per plan (a plan = one set of input shapes,
**                        e.g. one batch size; plans are cached), the CPU
**                        backend's: after infer. The input
**                        tensors have dtype, ndim, dims and a layout; constant
**                        inputs (initializers, folded values) also have
**                        data. Without infer, prepare fills every output's
**                        dtype/ndim/dims. It
**                        may choose a oneDNN layout for an output (out->blocked
**                        and out->layout->md, cpu/cpu.h), builds oneDNN
**                        primitives, may ask for
**                        scratch bytes (k->scratch_bytes) and keeps what it
**                        needs in k->state (freed by release()). A plan for
**                        another backend (DI_NN_PLAN_NEUTRAL) skips the
**                        prepare of an op with infer, but for folded nodes.
**                        A kernel without DI_OP_BLOCKED_OK only ever sees plain
**                        (dense row-major) inputs: the engine reorders blocked
**                        values first. One with the flag may still return
**                        DI_NN_NEED_PLAIN from prepare to get plain inputs.
**   run(k)               every run: input data in in[i]->data, write the outputs
**                        to out[i]->data (buffers from the memory plan, sized
**                        from the shape, or from the layout when blocked). k->scratch
**                        is scratch_bytes of 64-byte aligned memory.
**
** When every input of a node is constant (or the op has DI_OP_SHAPE_ONLY and
** its inputs' shapes are known, like Shape), the engine runs it once at plan
** time and its outputs become constants: this is the constant folding.
**
** Fusion: the engine may attach post-ops (ops with a post_kind: Relu, Clip
** with constant bounds, Add of a same-shape tensor; Gelu on CPU plans only,
** DI_POST_GELU) to a node whose op has
** DI_OP_POSTOPS; the kernel applies them in order to its output (k->post /
** k->npost).
*/
#ifndef DI_NN_OP_H
#define DI_NN_OP_H

#include "graph.h"
#include "unary.h"

#define DI_NN_NEED_PLAIN 1 /* prepare(): give me plain inputs */
#define DI_NN_NO_FUSE 2    /* prepare(): these post-ops do not fit (e.g. a broadcasting Add) */

typedef struct di_nn_tensor {
    int dtype;
    int ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    void *data; /* run time; at plan time only for constants */
    bool is_const;
    bool blocked;                /* not plain row-major: in the layout that `layout` describes */
    struct di_nn_layout *layout; /* opaque here: the CPU backend's (cpu/cpu.h);
                                  ** owned by the plan */
} di_nn_tensor;

/* DI_POST_GELU (erf) and DI_POST_GELU_TANH (approximate=tanh) are fused
** into CPU plans only: a plan for another backend (DI_NN_PLAN_NEUTRAL) runs
** Gelu as its own step, so the CUDA backend never meets these kinds. */
enum { DI_POST_RELU = 1, DI_POST_CLIP, DI_POST_SUM, DI_POST_GELU, DI_POST_GELU_TANH };
typedef struct di_nn_postop {
    int kind;
    float lo, hi;         /* Clip bounds */
    di_nn_tensor *addend; /* DI_POST_SUM: same shape as the output */
} di_nn_postop;

typedef struct di_nn_env {
    int threads;
    int64_t opset;             /* the model's default-domain opset */
    struct di_nn_cpu_env *cpu; /* the CPU backend's (cpu/cpu.h), made on first use */
    bool bf16;                 /* CPU precision bf16: Conv, MatMul and Gemm compute in bf16 (f32
               ** accumulation); blocked outputs may hold bf16 (layout_is_bf16) */
    const struct di_nn_node *nodes; /* the graph's, for keep_fp32's index */
    bool *keep_fp32; /* bf16: per node, computes in float32 all the same (precision.c) */
} di_nn_env;

typedef struct di_nn_kctx {
    const di_nn_node *node;
    int nin, nout;
    di_nn_tensor **in; /* in[i] is NULL for an omitted optional input */
    di_nn_tensor **out;
    int npost;
    di_nn_postop post[4];
    void *params;   /* per plan: the op's decoded attributes (infer), plan-owned */
    void *state;    /* per plan, kernel-owned */
    void **persist; /* per session and node: survives plans (e.g. reordered weights) */
    size_t scratch_bytes;
    void *scratch;
    di_nn_env *env;
    /* a bf16 session (CPU): the planner says that every consumer of out[0]
    ** reads bf16 (DI_OP_BF16_OK) and that it is no graph output, so a kernel
    ** that computes in bf16 may write it in bf16 (a blocked bf16 layout)
    ** instead of float32 that the next op would convert again */
    bool bf16_consumers;
    /* set by a prepare that counts its own precision changes (bf16_counted):
    ** the float32 inputs the kernel converts to bf16 in a pass of their own at
    ** each run (MatMul's A), for di_nn_plan_bf16_conversions; 0 for a kernel
    ** that rounds to bf16 as it computes (LayerNormalization writing bf16).
    ** Other kernels with a bf16 output count one per float32 input. */
    bool bf16_counted;
    int bf16_cvt;
} di_nn_kctx;

/* An op's properties: what the planner and the session may assume of every
** node of that op, whatever the backend. The engine reads these, never op
** names: an op that forgets one loses an optimisation, visibly in its
** definition, and nothing else. */
enum {
    DI_OP_BLOCKED_OK = 1,    /* may take inputs in oneDNN blocked layouts */
    DI_OP_SHAPE_ONLY = 2,    /* outputs depend only on input shapes (Shape, Size) */
    DI_OP_POSTOPS = 4,       /* applies fused post-ops (see post_kind) */
    DI_OP_ELEMENTWISE = 8,   /* unary, output layout = input layout (Relu, Clip) */
    DI_OP_PER_IMAGE = 16,    /* image i of the output depends only on image i of
                              ** the inputs (with batch-major activations): a batch
                              ** may run image by image (session.c) */
    DI_OP_BROADCAST = 32,    /* elementwise over its inputs with numpy broadcast
                              ** (Add, Mul...): a constant operand with a batch of
                              ** its own mixes images */
    DI_OP_VIEW = 64,         /* the output is the input's data unchanged, under
                              ** another shape (Reshape, Squeeze, Identity) */
    DI_OP_BATCH_STATS = 128, /* a statistic over the whole input, batch included
                              ** (DynamicQuantizeLinear's scale): the result of
                              ** one image would depend on its batch-mates, so a
                              ** batch always runs image by image (cpu/backend.c) */
    DI_OP_BF16_OK = 256,     /* with DI_OP_BLOCKED_OK: also takes blocked inputs whose
                              ** md holds bf16 (oneDNN kernels, shape-only ops); others
                              ** get them reordered to plain float32 */
    DI_OP_PARTS = 512,       /* the outputs are consecutive parts of input 0 along the
                              ** axis in its params (di_nn_axis_params: Split); where
                              ** every axis before it has size 1 each part is a byte
                              ** range of the input, which a CPU plan makes a window
                              ** of the input's buffer (plan_memory.c): no copy */
};

typedef struct di_nn_op {
    const char *name;
    int min_in, max_in;
    unsigned flags;
    int post_kind; /* DI_POST_*: a node of this op may be fused into the
                    ** preceding DI_OP_POSTOPS node as this post-op; 0: never */
    int unary;     /* DI_U_*: a unary elementwise op of this kind (unary.h) */
    int (*check)(const di_nn_graph *g, const di_nn_node *n, di_error *err);
    int (*infer)(di_nn_kctx *k, di_error *err); /* backend-neutral shapes and params */
    size_t params_size;                         /* bytes of k->params infer fills */
    /* Frees what infer allocated inside its params (Resize's tables), when
    ** the plan goes or before infer runs again; NULL: nothing to free. Called
    ** on params infer has only partly filled, and on zeroed ones. */
    void (*release_params)(void *params);
    int (*prepare)(di_nn_kctx *k, di_error *err);
    int (*run)(di_nn_kctx *k, di_error *err);
    void (*release)(void *state);
    void (*release_persist)(void *persist);
    double (*flops)(const di_nn_kctx *k); /* multiply-add = 2; NULL: elementwise count */
} di_nn_op;

/* A unary elementwise op as every backend computes it: its kind (Gelu
** with approximate=tanh is DI_U_GELU_TANH) and its constants with the
** ONNX defaults (alpha: LeakyRelu, Elu, HardSigmoid, Selu; beta:
** HardSigmoid; gamma: Selu). Decoded from the node, once per plan. */
typedef struct di_nn_unary_params {
    int kind;
    float alpha, beta, gamma;
} di_nn_unary_params;
void di_nn_unary_params_of(const di_nn_node *n, di_nn_unary_params *p);
/* The unary params of a planned step of a unary op: its infer's (k->params). */
const di_nn_unary_params *di_nn_unary_params_in(const di_nn_kctx *k);

/* The backend-neutral infer steps (infer_elem.c), shared by op families:
** unary math (float; Neg and Abs on integers too), Relu/Clip (float, scalar
** bounds), binary arithmetic (Add...Pow, numpy broadcast), comparisons
** (bool out), Where, logic (And, Or, Xor, Not), PRelu, the variadic Max,
** Min, Sum, Mean, and Cast. */
int di_nn_infer_unary(di_nn_kctx *k, di_error *err);
int di_nn_infer_clamp(di_nn_kctx *k, di_error *err);
int di_nn_infer_binary(di_nn_kctx *k, di_error *err);
int di_nn_infer_compare(di_nn_kctx *k, di_error *err);
int di_nn_infer_where(di_nn_kctx *k, di_error *err);
int di_nn_infer_logic(di_nn_kctx *k, di_error *err);
int di_nn_infer_prelu(di_nn_kctx *k, di_error *err);
int di_nn_infer_variadic(di_nn_kctx *k, di_error *err);
int di_nn_infer_cast(di_nn_kctx *k, di_error *err);
/* Conv (infer_conv.c): pads resolved from auto_pad (top, left, bottom,
** right), and its multiply-adds x 2 (the op's flops). */
typedef struct di_nn_conv_params {
    int64_t group, strides[2], dilations[2], pads[4];
    double flops;
} di_nn_conv_params;
int di_nn_infer_conv(di_nn_kctx *k, di_error *err);
double di_nn_conv_flops(const di_nn_kctx *k);
/* MatMul (infer_matmul.c): A, B and the product C as rank-r shapes (1-D
** operands and missing batch axes promoted to 1); empty: C has no element or
** the inner dimension is 0 (the result is zeros). */
typedef struct di_nn_matmul_params {
    int r;
    int64_t ad[6], bd[6], cd[6];
    float scale; /* "_scale": a Mul folded in by rewrite.c */
    bool empty;
} di_nn_matmul_params;
int di_nn_infer_matmul(di_nn_kctx *k, di_error *err);
/* Gemm: Y (m x n) = alpha * A' B' + beta * C, C broadcast from c_rows x c_cols. */
typedef struct di_nn_gemm_params {
    bool trans_a, trans_b;
    int64_t m, n, k, c_rows, c_cols;
    float alpha, beta;
} di_nn_gemm_params;
int di_nn_infer_gemm(di_nn_kctx *k, di_error *err);
/* MaxPool, AveragePool, GlobalAveragePool (infer_pool.c): per spatial axis
** the window, and pads (begins, then ends) as the output shape needs them. */
enum { DI_POOL_MAX = 1, DI_POOL_AVG, DI_POOL_AVG_INCLUDE_PAD };
typedef struct di_nn_pool_params {
    int spatial, algorithm;
    int64_t kernel[3], strides[3], dilations[3], pads[6];
} di_nn_pool_params;
int di_nn_infer_pool(di_nn_kctx *k, di_error *err);
/* ConvTranspose (infer_deconv.c): per spatial axis the stride, dilation
** and the padding a deconvolution primitive takes (the end's less the
** output_padding and the rows no window reaches). */
typedef struct di_nn_deconv_params {
    int spatial;
    int64_t group, strides[3], dilations[3], pad_begin[3], pad_end[3];
} di_nn_deconv_params;
int di_nn_infer_deconv(di_nn_kctx *k, di_error *err);
/* Softmax, LogSoftmax (infer_norm.c): rows of n elements, inner apart,
** outer x inner of them; axis normalised to 0..rank-1. */
typedef struct di_nn_softmax_params {
    int axis;
    bool log;
    int64_t outer, n, inner;
} di_nn_softmax_params;
int di_nn_infer_softmax(di_nn_kctx *k, di_error *err);
/* _FusedAttention (infer_attention.c; made by rewrite_attention.c):
** O = softmax(scale * Q K^T) V over the last two axes, the leading axes
** (batch, heads) broadcast. Each operand is described as oneDNN takes it:
** dims and element strides over [lead..., rows, cols] (rank = nlead + 2),
** so that a transposed K ([.., d, Tk]: k_trans) or an output written as
** [B, T, H, dv] (out_perm: the Transpose after it absorbed) costs no copy. */
typedef struct di_nn_attention_params {
    int nlead;
    int64_t tq, tk, d, dv;
    int64_t qd[6], qs[6]; /* Q [lead..., tq, d] */
    int64_t kd[6], ks[6]; /* K^T [lead..., d, tk] */
    int64_t vd[6], vs[6]; /* V [lead..., tk, dv] */
    int64_t od[6], os[6]; /* O [lead..., tq, dv] */
    float scale;
    double flops;
    /* one input [B, T, 3, H, hd] (qkv packed: the heads' split Transpose and
    ** Gathers absorbed): Q, K and V at element offsets off[] of it */
    bool packed;
    int64_t off[3];
} di_nn_attention_params;
int di_nn_infer_attention(di_nn_kctx *k, di_error *err);
/* The views (infer_shape.c): output shapes only, no params. */
int di_nn_infer_squeeze(di_nn_kctx *k, di_error *err);
int di_nn_infer_unsqueeze(di_nn_kctx *k, di_error *err);
int di_nn_infer_reshape(di_nn_kctx *k, di_error *err);
int di_nn_infer_flatten(di_nn_kctx *k, di_error *err);
int di_nn_infer_identity(di_nn_kctx *k, di_error *err);
/* Transpose, Slice, Expand, DepthToSpace, SpaceToDepth (infer_view.c): the output as a strided view
** of the input: element strides (0: broadcast; negative: backwards) and the
** element offset of the first. */
typedef struct di_nn_view_params {
    int nd;
    int64_t dims[DI_NN_MAX_DIMS], str[DI_NN_MAX_DIMS], off;
} di_nn_view_params;
int di_nn_infer_transpose(di_nn_kctx *k, di_error *err);
int di_nn_infer_slice(di_nn_kctx *k, di_error *err);
int di_nn_infer_expand(di_nn_kctx *k, di_error *err);
int di_nn_infer_d2s(di_nn_kctx *k, di_error *err);
/* Constant, Shape, ConstantOfShape (infer_const.c); Shape's dims range. */
typedef struct di_nn_shape_params {
    int64_t start, end;
} di_nn_shape_params;
int di_nn_infer_constant(di_nn_kctx *k, di_error *err);
int di_nn_infer_shape(di_nn_kctx *k, di_error *err);
int di_nn_infer_constant_of_shape(di_nn_kctx *k, di_error *err);
/* Range, Tile (infer_pad.c): output shapes only. */
int di_nn_infer_range(di_nn_kctx *k, di_error *err);
int di_nn_infer_tile(di_nn_kctx *k, di_error *err);
/* LayerNormalization (infer_norm.c): rows of n elements from the axis on;
** scale and bias of n elements or 1 (bias_n 0: none). */
typedef struct di_nn_layernorm_params {
    int axis;
    int64_t rows, n, scale_n, bias_n;
    float epsilon;
} di_nn_layernorm_params;
int di_nn_infer_layernorm(di_nn_kctx *k, di_error *err);
int di_nn_infer_batchnorm(di_nn_kctx *k, di_error *err);
/* The reductions (infer_norm.c): the input's dims, which are reduced,
** the output's element count and the elements reduced into each. */
typedef struct di_nn_reduce_params {
    int ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    bool red[DI_NN_MAX_DIMS];
    int64_t out_n, count;
} di_nn_reduce_params;
int di_nn_infer_reduce(di_nn_kctx *k, di_error *err);
/* Concat, Split, Gather (infer_tensor.c). */
typedef struct di_nn_axis_params {
    int64_t axis; /* normalised to 0..rank-1 */
} di_nn_axis_params;
/* Split: its axis first (read as di_nn_axis_params too) and where each part
** starts along it, so that an omitted output (no name) still moves the
** parts after it. */
typedef struct di_nn_split_params {
    int64_t axis;
    int64_t start[64];
} di_nn_split_params;
typedef struct di_nn_gather_params {
    int64_t outer, axis_dim, inner, nidx;
} di_nn_gather_params;
int di_nn_infer_concat(di_nn_kctx *k, di_error *err);
int di_nn_infer_split(di_nn_kctx *k, di_error *err);
int di_nn_infer_gather(di_nn_kctx *k, di_error *err);
/* Size, Dropout, CastLike (infer_misc.c): shapes only. */
int di_nn_infer_size(di_nn_kctx *k, di_error *err);
int di_nn_infer_dropout(di_nn_kctx *k, di_error *err);
int di_nn_infer_castlike(di_nn_kctx *k, di_error *err);
/* ThresholdedRelu ... IsInf (infer_activ.c, cpu/ops_activ.c). */
enum {
    DI_ACTIV_THRESHOLDEDRELU,
    DI_ACTIV_SHRINK,
    DI_ACTIV_MISH,
    DI_ACTIV_TAN,
    DI_ACTIV_ASIN,
    DI_ACTIV_ACOS,
    DI_ACTIV_ATAN,
    DI_ACTIV_SINH,
    DI_ACTIV_COSH,
    DI_ACTIV_ASINH,
    DI_ACTIV_ACOSH,
    DI_ACTIV_ATANH,
    DI_ACTIV_ISNAN,
    DI_ACTIV_ISINF,
    DI_ACTIV_COUNT
};

typedef struct di_nn_activ_params {
    int kind;
    float alpha, lambd, bias;
    bool detect_pos, detect_neg;
} di_nn_activ_params;
int di_nn_infer_activ(di_nn_kctx *k, di_error *err);
/* ArgMax, ArgMin (infer_norm.c): rows of n, inner apart. */
typedef struct di_nn_arg_params {
    int64_t outer, n, inner;
} di_nn_arg_params;
int di_nn_infer_arg(di_nn_kctx *k, di_error *err);
int di_nn_infer_instancenorm(di_nn_kctx *k, di_error *err);
/* Mod (infer_misc.c): the broadcast output and each input's strides. */
typedef struct di_nn_mod_params {
    int ndim;
    int64_t dims[DI_NN_MAX_DIMS], sa[DI_NN_MAX_DIMS], sb[DI_NN_MAX_DIMS];
    int64_t n;
} di_nn_mod_params;
int di_nn_infer_mod(di_nn_kctx *k, di_error *err);
int di_nn_infer_cumsum(di_nn_kctx *k, di_error *err); /* params: di_nn_axis_params */
int di_nn_infer_gather_elements(di_nn_kctx *k, di_error *err);
typedef struct di_nn_trilu_params {
    int64_t k; /* the diagonal's offset */
} di_nn_trilu_params;
int di_nn_infer_trilu(di_nn_kctx *k, di_error *err);
/* Pad (infer_pad.c): mode 0 constant, 1 reflect, 2 edge; the pads before
** each axis (those after follow from the output shape). */
typedef struct di_nn_pad_params {
    int nd, mode;
    int64_t begin[DI_NN_MAX_DIMS];
} di_nn_pad_params;
int di_nn_infer_pad(di_nn_kctx *k, di_error *err);
/* RoundFloat16 and the integer ops of quantized files (infer_quant.c).
** QuantizeLinear, DequantizeLinear: per tensor (channels 1) or per channel
** along axis, channel c of element i being (i / inner) % channels. */
typedef struct di_nn_qlinear_params {
    int64_t axis, channels, inner;
} di_nn_qlinear_params;
/* MatMulInteger: A as m x k rows, B k x n; B's zero point per column. */
typedef struct di_nn_matmul_int_params {
    int64_t m, k, n;
    bool b_zp_per_column;
    /* _MatMulIntegerToFloat on the CPU: where in scratch the int32 product and
    ** a row per thread go when a fused Add's operand shares the output */
    size_t p_off, row_off;
} di_nn_matmul_int_params;
int di_nn_infer_round16(di_nn_kctx *k, di_error *err);
int di_nn_infer_dql(di_nn_kctx *k, di_error *err);
int di_nn_infer_quantize(di_nn_kctx *k, di_error *err);
int di_nn_infer_dequantize(di_nn_kctx *k, di_error *err);
int di_nn_infer_matmul_int(di_nn_kctx *k, di_error *err);
/* _MatMulIntegerToFloat (rewrite_quant.c): MatMulInteger's params, a float output */
int di_nn_infer_matmul_int_float(di_nn_kctx *k, di_error *err);
/* ConvInteger: 2-D only, params a di_nn_conv_params (pads top, left,
** bottom, right; flops as Conv's). */
int di_nn_infer_conv_int(di_nn_kctx *k, di_error *err);
typedef struct di_nn_cast_params {
    int to; /* DI_DT_*: the attribute `to` */
} di_nn_cast_params;

/* Resize (infer_resize.c): its tables, worked out once per plan by its
** infer for the last two axes: the source rows (y0, y1) and columns (x0, x1)
** of every output row and column with the linear weights (nearest: y0 ==
** y1, weight 0); cubic: 4 sources and weights each. The arrays are malloc'd
** (release_params frees them); every backend reads these rather than work
** them out again. */
typedef struct di_nn_resize_tables {
    bool linear, cubic;
    int64_t ih, iw, oh, ow;
    int64_t *y0, *y1, *x0, *x1;
    float *wy, *wx;
    int64_t *cy, *cx;
    float *wcy, *wcx;
} di_nn_resize_tables;
typedef struct di_nn_resize_params {
    di_nn_resize_tables t;
} di_nn_resize_params;
int di_nn_check_resize(const di_nn_graph *g, const di_nn_node *n, di_error *err);
int di_nn_infer_resize(di_nn_kctx *k, di_error *err);
void di_nn_resize_release_params(void *params);
/* The tables of a planned Resize step (its infer's params); NULL for another. */
const di_nn_resize_tables *di_nn_resize_tables_of(const di_nn_kctx *k);

/* The kernel table (ops.c). */
const di_nn_op *di_nn_find_op(const char *op_type);
void di_nn_op_names(const char **names, int *count, int max);

/* Helpers for kernels. */
/* An error about node n, "node 'name' (Op): message", marked DI_NAMED_NODE
** so that the engine names the node only once. */
int di_nn_node_fail(di_error *err, int code, const di_nn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Names node n in err's message unless it already does; returns err->code. */
int di_nn_error_at_node(di_error *err, const di_nn_node *n);
int di_nn_node_failv(di_error *err, int code, const di_nn_node *n, const char *fmt, va_list ap);
/* The same for a step of a backend's plan that may have no node. */
int di_nn_step_failv(di_error *err, int code, const char *name, const char *op_type,
                     const char *fmt, va_list ap);
int di_nn_unsupported(di_error *err, const di_nn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int di_nn_shape_error(di_error *err, const di_nn_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void di_nn_set_shape(di_nn_tensor *t, int dtype, int ndim, const int64_t *dims);
int64_t di_nn_numel(const di_nn_tensor *t);
/* Reads a constant integer tensor (int64 or int32) into vals; count in *n. */
int di_nn_const_ints(const di_nn_tensor *t, int64_t *vals, int max, int *n);
/* Multidirectional (numpy) broadcast of a and b into out dims. */
int di_nn_broadcast(const di_nn_node *n, const di_nn_tensor *a, const di_nn_tensor *b, int *ndim,
                    int64_t *dims, di_error *err);
/* Load-time sanity of window attributes (Conv, pools, ConvTranspose): every
** value of pads, strides, dilations, kernel_shape, output_padding within
** sensible bounds; an error naming the attribute otherwise. */
int di_nn_check_window_attrs(const di_nn_node *n, di_error *err);
/* A shape the engine can hold: no negative dimension, and the product of
** the dimensions (zeros counted as ones) at most 2^40. */
bool di_nn_shape_sane(int ndim, const int64_t *dims);
/* Row-major strides (in elements) of a dense tensor of these dims. */
void di_nn_contiguous_strides(int nd, const int64_t *dims, int64_t *st);
/* The input 0 has an element type the engine knows (any size); else
** DI_EUNSUPPORTED naming the node. */
int di_nn_any_type(const di_nn_kctx *k, di_error *err);
/* An ints attribute of exactly cnt values into v (each dflt when the
** attribute is absent); DI_EUNSUPPORTED when it has another count. */
int di_nn_attr_ints_exact(const di_nn_node *n, const char *name, int cnt, int64_t *v, int64_t dflt);
#endif
