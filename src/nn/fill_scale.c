/*
** fill_scale.c: DI_NN_FILL_SCALED, generated weights that keep activations
** of order one, as a trained network's do.
**
** Why: He-normal weights keep the mean square of a plain Conv -> Relu chain
** constant, but every residual Add sums two streams of that size, so along
** MiDaS small's 27 Adds the activations grow by orders of magnitude; its
** Clip(0, 6) units then sit far in saturation, and a network of saturated
** units is chaotic: it amplifies any perturbation (bf16 rounding, or fp32
** summing in another order) about a hundredfold (README, "bf16 on the
** CPU"). A trained network is not like that: its batch norms (folded into
** the Convs of an exported file) hold each Conv's output near unit variance
** on real inputs, and training leaves a residual branch small against the
** stream it is added to. That is what LSUV (layer-sequential unit variance,
** Mishkin and Matas 2016) imposes on real data and Fixup/SkipInit on the
** residual branches; here it is done in expectation, with no data: for a
** weight tensor of zero-mean independent entries and any input x,
** E[(w . x)^2] = fan_in * mean(w^2) * E[x^2], so walking the graph in order
** and tracking the mean square of each activation (Relu and Clip(0, hi)
** halve it, as they do to a symmetric input; Add sums it; other ops keep
** it) gives the factor that brings each Conv's output to a mean square of
** one, or of BRANCH^2 for the last Conv of a residual branch.
**
** The numbers drawn are the same as He-normal's (fill.c), only multiplied:
** one factor per Conv weight tensor; biases stay N(0, 0.01).
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fill.h"

/* a residual branch's share of its stream, in RMS: small, as in trained
** residual networks (and as Fixup and SkipInit start them) */
#define BRANCH 0.5

typedef struct value {
    const char *name;
    double ms;     /* mean square; < 0: unknown */
    int producer;  /* node index, -1 for inputs and initializers */
    int consumers; /* how many node inputs read it */
    Onnx__TensorProto *init;
    bool scaled; /* a weight tensor already scaled once */
} value;

typedef struct walk {
    value *v;
    size_t n;
} walk;

static value *find(walk *w, const char *name)
{
    if (!name || !*name)
        return NULL;
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->v[i].name, name))
            return &w->v[i];
    return NULL;
}

static value *add(walk *w, const char *name)
{
    value *v = find(w, name);
    if (v || !name || !*name)
        return v;
    v = &w->v[w->n++];
    *v = (value){.name = name, .ms = -1, .producer = -1};
    return v;
}

/* the float values of an initializer stored as raw data, or NULL */
static float *raw_floats(const Onnx__TensorProto *t, size_t *n)
{
    if (!t || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || !t->has_raw_data)
        return NULL;
    *n = t->raw_data.len / sizeof(float);
    return (float *)t->raw_data.data;
}

static double mean_square(const Onnx__TensorProto *t)
{
    size_t n = 0;
    const float *f = raw_floats(t, &n);
    if (!f) {
        if (t && t->n_float_data) {
            f = t->float_data;
            n = t->n_float_data;
        } else
            return 0;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)f[i] * f[i];
    return n ? s / (double)n : 0;
}

/* Clip's lower bound (input 1 or the opset-6 attribute); 0 when absent
** counts as "halves the mean square" only when it is >= 0 */
static bool clip_halves(walk *w, const Onnx__NodeProto *nd)
{
    for (size_t a = 0; a < nd->n_attribute; a++)
        if (nd->attribute[a]->name && !strcmp(nd->attribute[a]->name, "min"))
            return nd->attribute[a]->f >= 0;
    value *lo = nd->n_input > 1 ? find(w, nd->input[1]) : NULL;
    if (!lo || !lo->init)
        return false;
    size_t n = 0;
    const float *f = raw_floats(lo->init, &n);
    if (f && n)
        return f[0] >= 0;
    return lo->init->n_float_data && lo->init->float_data[0] >= 0;
}

/* Whether node k's output is the end of a residual branch: a Conv output
** read only by an Add whose other input was made earlier (the stream). */
static bool branch_end(walk *w, const Onnx__GraphProto *g, size_t k)
{
    value *o = find(w, g->node[k]->output[0]);
    if (!o || o->consumers != 1)
        return false;
    for (size_t j = k + 1; j < g->n_node; j++) {
        const Onnx__NodeProto *nd = g->node[j];
        if (strcmp(nd->op_type, "Add") || nd->n_input != 2)
            continue;
        int mine = !strcmp(nd->input[0], o->name) ? 0 : !strcmp(nd->input[1], o->name) ? 1 : -1;
        if (mine < 0)
            continue;
        value *other = find(w, nd->input[1 - mine]);
        return other && !other->init && other->producer < (int)k;
    }
    return false;
}

int di_nn_fill_scale(Onnx__ModelProto *mp, const char *path, di_error *err)
{
    Onnx__GraphProto *g = mp->graph;
    size_t cap = g->n_input + g->n_initializer + 1;
    for (size_t k = 0; k < g->n_node; k++)
        cap += g->node[k]->n_input + g->node[k]->n_output;
    walk w = {calloc(cap, sizeof(value)), 0};
    if (!w.v)
        return di_fail(err, DI_ENOMEM, "out of memory");
    for (size_t i = 0; i < g->n_initializer; i++)
        add(&w, g->initializer[i]->name)->init = g->initializer[i];
    for (size_t i = 0; i < g->n_input; i++) {
        value *v = add(&w, g->input[i]->name);
        if (v && !v->init)
            v->ms = 1; /* a normalised picture */
    }
    for (size_t k = 0; k < g->n_node; k++) {
        const Onnx__NodeProto *nd = g->node[k];
        for (size_t i = 0; i < nd->n_input; i++) {
            value *v = add(&w, nd->input[i]);
            if (v)
                v->consumers++;
        }
        for (size_t i = 0; i < nd->n_output; i++) {
            value *v = add(&w, nd->output[i]);
            if (v)
                v->producer = (int)k;
        }
    }
    int rc = DI_OK;
    for (size_t k = 0; k < g->n_node && !rc; k++) {
        const Onnx__NodeProto *nd = g->node[k];
        if (!nd->n_output)
            continue;
        /* the mean square of the activation inputs: the largest (Add sums them) */
        double in_ms = -1, sum_ms = 0;
        for (size_t i = 0; i < nd->n_input; i++) {
            value *v = find(&w, nd->input[i]);
            if (!v)
                continue;
            double m = v->init ? mean_square(v->init) : v->ms < 0 ? 1 : v->ms;
            if (!v->init)
                in_ms = fmax(in_ms, m);
            sum_ms += m;
        }
        if (in_ms < 0)
            in_ms = 1;
        double ms = in_ms;
        if (!strcmp(nd->op_type, "Conv") && nd->n_input >= 2) {
            value *wt = find(&w, nd->input[1]);
            value *x = find(&w, nd->input[0]);
            size_t n = 0;
            float *f = wt ? raw_floats(wt->init, &n) : NULL;
            double x_ms = x && x->ms > 0 ? x->ms : 1;
            double target = branch_end(&w, g, k) ? BRANCH * BRANCH : 1;
            if (f && n && wt->init->n_dims >= 2 && !wt->scaled) {
                double fan_in = (double)n / (double)wt->init->dims[0];
                double now = fan_in * mean_square(wt->init) * x_ms;
                if (!(now > 0) || !isfinite(now)) {
                    rc = di_fail(err, DI_EFORMAT,
                                 "%s: Conv '%s': weights without spread, cannot scale", path,
                                 nd->name ? nd->name : "");
                    break;
                }
                float s = (float)sqrt(target / now);
                for (size_t i = 0; i < n; i++)
                    f[i] *= s;
                wt->scaled = true;
            }
            ms = target;
        } else if (!strcmp(nd->op_type, "Relu"))
            ms = in_ms / 2;
        else if (!strcmp(nd->op_type, "Clip"))
            ms = clip_halves(&w, nd) ? in_ms / 2 : in_ms;
        else if (!strcmp(nd->op_type, "Add") || !strcmp(nd->op_type, "Sum"))
            ms = sum_ms;
        for (size_t i = 0; i < nd->n_output; i++) {
            value *v = find(&w, nd->output[i]);
            if (v)
                v->ms = ms;
        }
    }
    free(w.v);
    return rc;
}
