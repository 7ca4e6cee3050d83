/*
** nn.h: the ONNX inference engine. A model file is loaded once into a graph
** (shape inference per input shape: a symbolic batch, height and width;
** constant folding, fusion, a static memory plan); a session runs batches of
** N x C x H x W float32 into caller-owned memory. Backends live side by side (cpu/, cuda/), as in ggml.
**
** A session is used by one thread at a time; other threads may run other
** sessions or other work meanwhile.
*/
#ifndef DI_NN_H
#define DI_NN_H

#include "../core/core.h"

typedef enum di_nn_device { DI_NN_CPU = 0, DI_NN_CUDA = 1 } di_nn_device;
typedef enum di_nn_precision { DI_NN_FP32 = 0, DI_NN_FP16, DI_NN_BF16, DI_NN_TF32 } di_nn_precision;

typedef struct di_nn_options {
    int threads; /* CPU threads; 0 = all cores */
    di_nn_device device;
    int device_index;          /* cuda:N */
    di_nn_precision precision; /* CPU: FP32 or BF16 (native bf16 only: di_nn_cpu_bf16;
                                ** TF32 runs as FP32; FP16 refused) */
    bool profile;              /* collect time per op type */
    bool whole_batch;          /* CPU: always run a batch as one pass (see di_nn_run) */
} di_nn_options;

void di_nn_options_default(di_nn_options *o);

typedef struct di_nn_session di_nn_session;

/* Loads and prepares the model. Unsupported ops or attribute values are
** reported here, naming the node and the op, never in the middle of a run. */
int di_nn_session_create(const char *onnx_path, const di_nn_options *opt, di_nn_session **out,
                         di_error *err);
void di_nn_session_destroy(di_nn_session *s);

/* The first input's per-image shape (C, H, W) with the batch left out; a
** symbolic height or width reads as the size set by di_nn_set_input_size
** (DI_EUNSUPPORTED while none is set). */
int di_nn_input_chw(const di_nn_session *s, int *c, int *h, int *w);
/* Which dimensions of the first input the file leaves symbolic: bit d for
** dimension d (bit 0 is the batch). */
unsigned di_nn_input_symbolic(const di_nn_session *s);
/* The height and width the batch API feeds a 4-D first input whose height
** or width is symbolic (a file's fixed dimension must be given as it is).
** The plan for the new shape is made now (shape chains folded for it), so
** that a size the graph cannot take (a zero-sized Resize, a Reshape that does
** not fit) fails here, naming the node; the session's plans for other sizes
** stay cached and share the weights. */
int di_nn_set_input_size(di_nn_session *s, int height, int width, di_error *err);
/* The patch size of a ViT-style model (its first Conv from the input has
** kernel = stride, 14 for DINOv2): input sides must be multiples of it. 1
** when the model has none. */
int di_nn_input_patch(const di_nn_session *s);
/* Whether the first output ends in Sigmoid times a positive constant (through
** Squeeze, Reshape, Cast and the like), as Depth Anything V2's metric head
** (depth in metres up to max_depth); *scale is the constant (guess.c). */
bool di_nn_output_sigmoid_scale(const di_nn_session *s, float *scale);
/* The first output's shape for a batch of n: dims[0] is n. */
int di_nn_output_shape(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err);

/* Runs a batch. input holds batch*C*H*W floats; output receives the first
** output, output_capacity floats at most (an error if too small).
** On the CPU, a graph that computes every image on its own (only per-image
** ops, every activation batch-major; checked once per session) runs its batch
** image by image through the batch-1 plan: the same numbers, and the
** activations of one image stay in cache (a batch of 8 in one pass is 10 to
** 50 % slower per image on MiDaS). options.whole_batch turns that off,
** except for a graph whose result for one image depends on the whole batch
** (DynamicQuantizeLinear's scale): that always runs image by image, so that
** an image's result does not depend on its batch-mates. */
int di_nn_run(di_nn_session *s, const float *input, int batch, float *output,
              size_t output_capacity, di_error *err);

/* Floating-point operations of one run at this batch size (multiply-add
** counted as two), or -1 with err filled. */
double di_nn_flops(di_nn_session *s, int batch, di_error *err);

/* What the planner makes of the model for a batch of n (the batch API's
** input): for `depthindex model` and the like, without engine internals.
** It describes the backend-neutral plan (every backend starts from it; no
** CPU primitive is built for it), whose values are all in the plain
** layout: reorders is 0 and activation_bytes counts plain tensors. */
typedef struct di_nn_description {
    int nodes;               /* nodes of the graph */
    int steps;               /* steps of the plan (reorders included) */
    int fused;               /* nodes fused into the step before them */
    int folded;              /* nodes folded into constants at plan time */
    int reorders;            /* layout changes between steps */
    size_t activation_bytes; /* the plan's arena */
    double flops;            /* per run (multiply-add = 2) */
} di_nn_description;
int di_nn_describe(di_nn_session *s, int batch, di_nn_description *d, di_error *err);

/* With options.profile: time per op type summed over the profiled runs. */
typedef struct di_nn_op_time {
    const char *op; /* op type; "Conv" includes its fused Relu/Clip/Add */
    double seconds;
    int calls;
} di_nn_op_time;
int di_nn_profile(const di_nn_session *s, di_nn_op_time *times, int max, int *runs);
void di_nn_profile_reset(di_nn_session *s);

/* Writes a self-contained copy of an ONNX model whose external-data weights
** are replaced by deterministic ones from seed (He-normal for weights,
** N(0, 0.01) for biases): the real architecture with made-up weights, for
** tests and benchmarks. *filled: how many initializers were filled. */
int di_nn_fill_weights(const char *in_path, const char *out_path, uint64_t seed, int *filled,
                       di_error *err);
/* The same with a choice of scaling: DI_NN_FILL_HE is di_nn_fill_weights;
** DI_NN_FILL_SCALED draws the same numbers and then scales each Conv's
** weights so that every Conv's output has a mean square of one on a
** unit-variance input and a residual branch adds a fraction of its stream's
** (as trained networks do, whose folded batch norms keep activations of order
** one; fill_scale.c): for measuring rounding (bf16) on weights that do not
** amplify it as He-normal ones do at this depth. */
typedef enum di_nn_fill_mode { DI_NN_FILL_HE = 0, DI_NN_FILL_SCALED } di_nn_fill_mode;
int di_nn_fill_weights_mode(const char *in_path, const char *out_path, uint64_t seed,
                            di_nn_fill_mode mode, int *filled, di_error *err);

/* Native bf16 on this CPU as oneDNN dispatches it (ONEDNN_MAX_CPU_ISA
** limits it): "AMX" or "AVX512-BF16", or NULL when the CPU has none (oneDNN
** would emulate bf16, slower than fp32, so the CPU backend refuses it), also
** when oneDNN cannot be loaded (a session says why). */
const char *di_nn_cpu_bf16(void);
/* oneDNN's name for the instruction set it dispatches to ("avx512_core_bf16"). */
const char *di_nn_cpu_isa(void);

/* Which backends this build has. */
bool di_nn_cuda_built(void);
/* Number of CUDA devices present (0 when none or not built). For choosing a
** device: on a machine without an NVIDIA driver (no /dev/nvidiactl, WSL's
** /dev/dxg or /proc/driver/nvidia) it answers 0 without loading the CUDA
** backend, so that a CPU-only process never maps the GPU libraries. */
int di_nn_cuda_device_count(void);
/* The number (always asking the backend); when 0, why into why
** (cudaGetDeviceCount's message, or "built without CUDA"). */
int di_nn_cuda_device_status(char *why, size_t why_size);

/* Host buffers for batches: page-locked (pinned) when a CUDA device is
** present, so that uploads and downloads are asynchronous and at full
** speed; plain 64-byte aligned memory otherwise. Free with di_nn_free_host. */
void *di_nn_alloc_host(size_t bytes);
void di_nn_free_host(void *p);

/* An asynchronous run: queued (on CUDA: upload, compute, download on the
** session's streams); output is valid after the matching di_nn_wait. At most
** two runs in flight per session, waited in order, so that the upload of
** one batch and the download of another overlap a compute. On the CPU the
** run happens inside di_nn_run_async. */
int di_nn_run_async(di_nn_session *s, const float *input, int batch, float *output,
                    size_t output_capacity, di_error *err);
int di_nn_wait(di_nn_session *s, di_error *err);

#endif
