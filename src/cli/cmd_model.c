/* cmd_model.c: `depthindex model M.onnx`: what a model is and what of it the
** engine supports; `--fill-weights OUT` writes a copy with made-up weights. */
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "presets.h"
#include "nn/engine.h"

static void help(void)
{
    printf("usage: depthindex model [OPTIONS] MODEL.onnx\n\n"
           "Prints the model's opset and other domains, local functions, symbolic\n"
           "dimensions, element types, inputs and outputs, op counts, parameter\n"
           "count, GFLOP per image (batch 1; multiply-add = 2; a symbolic height\n"
           "and width at 518, or the multiple of the patch size below it) and every\n"
           "op or attribute the engine does not support; \"runs: yes\" or \"runs: no\";\n"
           "the preset of run it would guess and why (a trailing Sigmoid x max_depth:\n"
           "depth-anything-metric).\n"
           "Exit status 1 when something does not run. Weights stored as external\n"
           "data that are missing are counted (as zeros) and reported.\n\n"
           "options:\n"
           "  --fill-weights OUT.onnx  write a self-contained copy whose external\n"
           "                           weights are deterministic made-up values\n"
           "                           (He-normal weights, N(0,0.01) biases)\n"
           "  --fill-scale he|scaled   he [default]: as drawn; scaled: each Conv's\n"
           "                           weights scaled so that activations stay of\n"
           "                           order one, as in a trained network (for\n"
           "                           measuring bf16; README, bf16 on the CPU)\n"
           "  --seed N                 seed for --fill-weights (default 1)\n"
           "  -h, --help               this help\n");
}

static void print_shape(const di_nn_value *v)
{
    printf("%s [", di_dtype_name(v->dtype));
    if (v->ndim < 0) printf("?");
    for (int d = 0; d < v->ndim; d++) {
        if (d) printf(", ");
        if (v->dims[d] < 0) printf("?");
        else printf("%lld", (long long)v->dims[d]);
    }
    printf("]");
}

typedef struct op_count {
    const char *op;
    int n;
} op_count;

static int cmp_count(const void *a, const void *b)
{
    const op_count *x = a, *y = b;
    if (x->n != y->n) return y->n - x->n;
    return strcmp(x->op, y->op);
}

static int describe(const char *path)
{
    di_error err;
    di_error_clear(&err);
    di_nn_graph *g;
    if (di_nn_graph_load_flags(path, DI_NN_LOAD_INFO, &g, &err)) {
        di_cli_error("%s", err.msg);
        return DI_EXIT_SOME_FAILED;
    }
    printf("model: %s (opset %lld)\n", path, (long long)g->opset);
    if (g->file_info) printf("%s", g->file_info);
    for (int i = 0; i < g->ninputs; i++) {
        printf("input: %s ", g->values[g->inputs[i]].name);
        print_shape(&g->values[g->inputs[i]]);
        printf("%s\n", i == 0 ? "  (the leading dimension is the batch)" : "");
    }
    for (int i = 0; i < g->noutputs; i++) {
        printf("output: %s ", g->values[g->outputs[i]].name);
        print_shape(&g->values[g->outputs[i]]);
        printf("\n");
    }
    op_count *counts = calloc((size_t)g->nnodes + 1, sizeof *counts);
    int nc = 0;
    for (int i = 0; counts && i < g->nnodes; i++) {
        int j = 0;
        while (j < nc && strcmp(counts[j].op, g->nodes[i].op_type)) j++;
        if (j == nc) counts[nc++] = (op_count){g->nodes[i].op_type, 0};
        counts[j].n++;
    }
    if (counts) qsort(counts, (size_t)nc, sizeof *counts, cmp_count);
    printf("nodes: %d\n", g->nnodes);
    for (int j = 0; j < nc; j++) printf("  %-22s %d\n", counts[j].op, counts[j].n);
    free(counts);
    printf("parameters: %lld (%.2f M)\n", (long long)g->param_count, (double)g->param_count / 1e6);
    if (g->missing_external)
        printf("weights: %d initializers are stored as external data that is missing (counted as zeros)\n", g->missing_external);
    int status = DI_EXIT_OK;
    if (g->nunsupported) {
        printf("unsupported: %d\n", g->nunsupported);
        for (int i = 0; i < g->nunsupported; i++) printf("  %s\n", g->unsupported[i]);
        printf("GFLOP per image: unknown (unsupported ops)\nruns: no\n");
        di_nn_graph_free(g);
        return DI_EXIT_SOME_FAILED;
    }
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = 1;
    di_nn_session *s;
    if (di_nn_session_create_graph(g, &opt, &s, &err)) { /* takes g */
        printf("unsupported: 1\n  %s\nruns: no\n", err.msg);
        return DI_EXIT_SOME_FAILED;
    }
    /* a symbolic height and width: planned at run's default size */
    if (di_nn_input_symbolic(s) & 0xc) {
        int patch = di_nn_input_patch(s), side = 518 / patch * patch;
        if (di_nn_set_input_size(s, side, side, &err)) {
            printf("unsupported: 1\n  %s\nruns: no\n", err.msg);
            di_nn_session_destroy(s);
            return DI_EXIT_SOME_FAILED;
        }
        printf("input size: %dx%d for this report (height and width are symbolic; "
               "`run --size` chooses; patch size %d)\n", side, side, patch);
    }
    if (s->g->ninputs >= 1) {
        const di_nn_value *in0 = &s->g->values[s->g->inputs[0]];
        int fh = in0->ndim == 4 && in0->dims[2] > 0 ? (int)in0->dims[2] : 0;
        int fw = in0->ndim == 4 && in0->dims[3] > 0 ? (int)in0->dims[3] : 0;
        di_model_facts facts = {.opset = (int)s->g->opset, .input = in0->name,
                                .symbolic = di_nn_input_symbolic(s),
                                .patch = di_nn_input_patch(s), .h = fh, .w = fw};
        facts.sigmoid_scale = di_nn_output_sigmoid_scale(s, &facts.max_depth);
        char why[512];
        const char *guess = di_preset_guess(&facts, why, sizeof why);
        printf("preset: %s (%s)\n", guess ? guess : "none", why);
    }
    double flops = di_nn_flops(s, 1, &err);
    if (flops < 0) {
        printf("unsupported: 1\n  %s\nruns: no\n", err.msg);
        status = DI_EXIT_SOME_FAILED;
    } else {
        printf("GFLOP per image: %.3f\n", flops / 1e9);
        /* what the engine made of it at batch 1 */
        di_nn_description d;
        if (di_nn_describe(s, 1, &d, &err) == DI_OK)
            printf("plan at batch 1: %d steps for %d nodes (%d fused into the step before, %d folded into constants, %d reorders), activations %.1f MB\n",
                   d.steps, d.nodes, d.fused, d.folded, d.reorders, (double)d.activation_bytes / 1e6);
        printf("unsupported: none\nruns: yes\n");
    }
    di_nn_session_destroy(s);
    return status;
}

int di_cmd_model(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        help();
        return DI_EXIT_OK;
    }
    const char *fill = NULL, *model = NULL;
    unsigned long long seed = 1;
    di_nn_fill_mode mode = DI_NN_FILL_HE;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;
        long long n;
        if ((v = di_opt_value(argc, argv, &i, "--fill-weights", &bad))) fill = v;
        else if ((v = di_opt_value(argc, argv, &i, "--fill-scale", &bad))) {
            if (strcmp(v, "he") && strcmp(v, "scaled")) {
                di_cli_error("--fill-scale: he or scaled, not %s", v);
                return DI_EXIT_USAGE;
            }
            mode = strcmp(v, "he") ? DI_NN_FILL_SCALED : DI_NN_FILL_HE;
        } else if ((v = di_opt_value(argc, argv, &i, "--seed", &bad))) {
            if (!di_opt_int(v, 0, LLONG_MAX, &n)) {
                di_cli_error("--seed: not a number: %s", v);
                return DI_EXIT_USAGE;
            }
            seed = (unsigned long long)n;
        } else if (bad) {
            return DI_EXIT_USAGE; /* di_opt_value said what is missing */
        } else if (argv[i][0] == '-' && argv[i][1]) {
            di_cli_error("model: unknown option: %s (see depthindex model --help)", argv[i]);
            return DI_EXIT_USAGE;
        } else if (!model) model = argv[i];
        else {
            di_cli_error("model: one model file at a time");
            return DI_EXIT_USAGE;
        }
    }
    if (!model) {
        di_cli_error("model: no model file (see depthindex model --help)");
        return DI_EXIT_USAGE;
    }
    if (fill) {
        di_error err;
        di_error_clear(&err);
        int filled;
        if (di_nn_fill_weights_mode(model, fill, seed, mode, &filled, &err)) {
            di_cli_error("%s", err.msg);
            return DI_EXIT_SOME_FAILED;
        }
        printf("%s: %d initializers filled (seed %llu)\n", fill, filled, seed);
        return DI_EXIT_OK;
    }
    return describe(model);
}
