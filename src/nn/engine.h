/*
** engine.h: sessions and plans (internal to src/nn, and for its tests).
**
** A plan is everything that depends on the input shapes: concrete shapes,
** folded constants, fused steps, oneDNN primitives, the memory plan (one
** arena; buffers reused by liveness). A session keeps a few plans, one per
** set of input shapes (in practice one per batch size).
*/
#ifndef DI_NN_ENGINE_H
#define DI_NN_ENGINE_H

#include "nn.h"
#include "op.h"

typedef struct di_nn_step {
    int node;         /* node index, or -1 for a reorder */
    const char *name; /* op type for profiles ("Reorder" for reorders) */
    di_nn_kctx k;
    di_nn_tensor *from, *to; /* reorder: from's layout into plain */
    void *convert;           /* reorder: the layout hooks' state (convert_step) */
    double flops;
} di_nn_step;

/* The layouts that kernels choose at plan time, as the planner sees them:
** an opaque handle per tensor (di_nn_tensor.layout) and these hooks. The
** planner's kernels are the CPU backend's (it runs their prepare, also for
** the folded nodes of a plan for another backend), so the layouts are the
** CPU's: oneDNN's blocked layouts (cpu/layout.c). A blocked tensor's buffer
** is bytes(t) long; a plain one's is its element count times its element
** size. */
typedef struct di_nn_layout_hooks {
    /* Gives ts[0..n-1] a plain layout each, from one block that the caller
    ** frees with free() once the tensors are gone; NULL when out of memory. */
    void *(*make)(di_nn_tensor *ts, int n);
    size_t (*bytes)(const di_nn_tensor *t);                     /* t blocked */
    bool (*same)(const di_nn_tensor *a, const di_nn_tensor *b); /* both blocked */
    bool (*is_plain)(const di_nn_tensor *t); /* t blocked, but laid out row-major */
    bool (*is_bf16)(const di_nn_tensor *t);  /* t blocked, its elements bf16 */
    /* A step that converts st->from (blocked) into st->to (plain, same shape):
    ** its state in st->convert, freed by convert_free. */
    int (*convert_step)(di_nn_env *env, di_nn_step *st, di_error *err);
    void (*convert_free)(void *convert);
    /* The data of t (blocked, at t->data) into dst, plain: a folded constant. */
    int (*to_plain)(di_nn_env *env, const di_nn_tensor *t, void *dst, di_error *err);
} di_nn_layout_hooks;
extern const di_nn_layout_hooks di_nn_cpu_layouts; /* cpu/layout.c */
/* Frees the session's CPU environment (the oneDNN engine and stream, made
** on first use). */
void di_nn_cpu_env_release(di_nn_env *env);
/* oneDNN CPU engines made by this process so far (tests: a CUDA session, or
** a plan for another backend, makes none). */
long di_nn_cpu_engines_made(void);

/* Tensors in and out of a general run (tests, conformance). */
typedef struct di_nn_io {
    int dtype, ndim;
    int64_t dims[DI_NN_MAX_DIMS];
    void *data; /* in: caller's; out: malloc'd by the engine, caller frees */
} di_nn_io;

/* What a plan was built for (its input shapes) and when it was last used:
** the first member of every backend's plan, so that one plan cache
** (di_nn_cache_lookup) serves them all. */
typedef struct di_nn_plan_key {
    int ninputs;
    int64_t in_dims[8][DI_NN_MAX_DIMS];
    int in_ndim[8];
    int in_dtype[8];
    uint64_t last_used;
} di_nn_plan_key;

void di_nn_plan_key_set(di_nn_plan_key *k, const di_nn_io *ins, int nins);
/* A backend's plan cache: n slots of plans that each start with a key. The
** slot whose plan is for these inputs (its last use stamped from *clock),
** or -1 and in *victim the slot to fill: a free one, else the least
** recently used. */
int di_nn_cache_lookup(void *const *slots, int n, const di_nn_io *ins, int nins, uint64_t *clock,
                       int *victim);

typedef struct di_nn_plan {
    di_nn_plan_key key;     /* first: the plan cache's */
    di_nn_tensor *vals;     /* one per graph value */
    void *val_layouts;      /* their layouts (di_nn_layout_hooks.make) */
    di_nn_tensor **shadows; /* plain copies of blocked values */
    int nshadows;
    di_nn_tensor **outputs; /* per graph output: plain tensors */
    di_nn_step *steps;
    int nsteps;
    void **node_params; /* per node: its params (k.params), or NULL */
    void **owned;       /* folded constants' buffers */
    int nowned;
    uint8_t *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;
    double flops; /* per run */
} di_nn_plan;

#define DI_NN_MAX_PLANS 4
#define DI_NN_MAX_PROFILE 64

typedef struct di_nn_profile_entry {
    const char *op;
    double seconds;
    int count;
} di_nn_profile_entry;

/* A backend: what a session calls to run its plans (session.c calls nothing
** else). attach makes the backend's state for a new session (and may plan
** the declared shapes, so that errors show at load time); detach undoes it,
** also after a failed attach. The batch calls get checked arguments (batch
** >= 1, buffers, one graph input). submit queues a run (or runs it: on the
** CPU), wait waits for the oldest queued one. */
typedef struct di_nn_backend {
    const char *name;
    int (*attach)(di_nn_session *s, di_error *err);
    void (*detach)(di_nn_session *s);
    int (*output_shape)(di_nn_session *s, int batch, int64_t *dims, int *ndim, di_error *err);
    int (*run)(di_nn_session *s, const float *input, int batch, float *output,
               size_t output_capacity, di_error *err);
    int (*submit)(di_nn_session *s, const float *input, int batch, float *output,
                  size_t output_capacity, di_error *err);
    int (*wait)(di_nn_session *s, di_error *err);
    int (*run_io)(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                  di_error *err);
    double (*flops)(di_nn_session *s, int batch, di_error *err);
} di_nn_backend;

extern const di_nn_backend di_nn_backend_cpu;  /* cpu/backend.c */
extern const di_nn_backend di_nn_backend_cuda; /* cuda/dispatch.c */
/* Loads oneDNN where it is loaded on first use (dnnl_lazy.c): DI_OK, or an
** error naming the library and the reason. Called before anything asks
** oneDNN a question, whose stub could otherwise only end the process. */
int di_nn_cpu_load(di_error *err);

struct di_nn_session {
    di_nn_graph *g;
    const di_nn_backend *backend;
    di_nn_options opt;
    di_nn_env env;
    void **persist; /* per node */
    di_nn_plan *plans[DI_NN_MAX_PLANS];
    uint64_t clock;
    di_nn_profile_entry prof[DI_NN_MAX_PROFILE];
    int nprof;
    int runs_profiled;
    struct di_nn_cuda *cuda; /* the CUDA backend's state (cuda/), NULL on the CPU */
    int cpu_pending;         /* di_nn_run_async on the CPU: runs not yet waited */
    int per_sample;          /* -1 unknown, 0 no, 1 yes: batch tiling is exact */
    int64_t in_hw[2];        /* di_nn_set_input_size: symbolic H, W of input 0 (0: unset) */
};

int di_nn_session_create_graph(di_nn_graph *g, const di_nn_options *opt, di_nn_session **out,
                               di_error *err);
/* bf16: which nodes compute in float32 all the same (precision.c); *keep
** is calloc'd, one bool per node. */
int di_nn_precision_policy(const di_nn_graph *g, bool **keep, di_error *err);
/* Runs with explicit inputs (one per graph input); fills outs[noutputs]. */
int di_nn_run_io(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_io *outs, int nouts,
                 di_error *err);
/* Output i of a run_io (a backend's): its shape into out and out->data
** malloc'd for bytes, which the backend then fills; an error when the model
** has no output i. */
int di_nn_io_output(const di_nn_session *s, int i, int dtype, int ndim, const int64_t *dims,
                    size_t bytes, di_nn_io *out, di_error *err);
/* Frees what the kernels keep per session and node (s->persist: reordered
** weights); they make it again when a plan needs it. */
void di_nn_release_persist(di_nn_session *s);
/* The declared shape of input 0 with its batch set to n (the batch API). */
int di_nn_batch_io(const di_nn_session *s, int n, di_nn_io *io, di_error *err);
/* The plan for these input shapes, built when not cached. */
int di_nn_get_plan(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_plan **out,
                   di_error *err);
void di_nn_plan_free(di_nn_plan *p, di_nn_session *s);
int di_nn_plan_build(di_nn_session *s, const di_nn_io *ins, int nins, di_nn_plan **out,
                     di_error *err);
/* The precision changes of a plan per run (a bf16 session on the CPU): steps
** that make a bf16 value float32 (*to_f32: the reorders named "Reorder bf16"
** in the profile) and bf16 steps that read a float32 activation (*to_bf16:
** the kernel converts it first). Conversions inside a kernel that writes
** float32 (MatMul's operands) are not counted. */
void di_nn_plan_bf16_conversions(const di_nn_plan *p, int *to_f32, int *to_bf16);
/* DI_NN_PLAN_NEUTRAL: a plan for another backend than the CPU: its steps
** have their shapes and params (op->infer) and no CPU kernel state, but for
** ops that have no infer yet and for nodes folded into constants. */
enum { DI_NN_PLAN_NEUTRAL = 1 };
int di_nn_plan_build_flags(di_nn_session *s, const di_nn_io *ins, int nins, int flags,
                           di_nn_plan **out, di_error *err);

/* The planner's parts (plan.c, plan_memory.c): a tensor's bytes (its oneDNN
** layout's when blocked), 64-byte aligned memory, and laying a plan's
** tensors into its arena once its steps are built (flags: the plan's,
** DI_NN_PLAN_NEUTRAL). */
size_t di_nn_tensor_bytes(const di_nn_tensor *t);
void *di_nn_aligned(size_t bytes);
int di_nn_plan_memory(const di_nn_graph *g, di_nn_plan *p, int flags, di_error *err);

/* The largest tensor a plan may hold (default 16 GiB); fuzzing lowers it. */
extern size_t di_nn_max_tensor_bytes;

const di_nn_graph *di_nn_session_graph(const di_nn_session *s);

/* Reads a serialized ONNX TensorProto file (the conformance data's
** input_N.pb / output_N.pb) into out (data malloc'd). */
int di_nn_tensor_pb_read(const char *path, di_nn_io *out, di_error *err);

#endif
