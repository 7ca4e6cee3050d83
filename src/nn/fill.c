/*
** fill.c: deterministic weights for a model whose weights are absent.
**
** Every float initializer stored as external data gets values drawn from a
** fixed-seed generator (splitmix64, Box-Muller): He-normal N(0, sqrt(2 /
** fan_in)) for tensors of rank >= 2 (fan_in = product of all dimensions but
** the first), N(0, 0.01) for biases and other small tensors. The result is a
** self-contained ONNX file (weights inline as raw_data) with the same
** architecture and cost as the real model.
**
** DI_NN_FILL_SCALED (fill_scale.c) then rescales each Conv's weights so that
** the network behaves as a trained one does in one respect that matters for
** rounding: its activations stay of order one instead of growing at every
** residual Add (see fill_scale.c for the method and why).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fill.h"
#include "nn.h"
#include "onnx.pb-c.h"

typedef struct rng {
    uint64_t s;
    bool have;
    double spare;
} rng;

static uint64_t next_u64(rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform01(rng *r) /* (0, 1] */
{
    return ((double)(next_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

static double normal(rng *r)
{
    if (r->have) {
        r->have = false;
        return r->spare;
    }
    double u = uniform01(r), v = uniform01(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->have = true;
    return m * cos(2 * M_PI * v);
}

int di_nn_fill_weights(const char *in_path, const char *out_path, uint64_t seed, int *filled,
                       di_error *err)
{
    return di_nn_fill_weights_mode(in_path, out_path, seed, DI_NN_FILL_HE, filled, err);
}

int di_nn_fill_weights_mode(const char *in_path, const char *out_path, uint64_t seed,
                            di_nn_fill_mode mode, int *filled, di_error *err)
{
    uint8_t *data;
    size_t size;
    int rc = di_read_file(in_path, (size_t)1 << 31, &data, &size, err);
    if (rc)
        return rc;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, size, data);
    free(data);
    if (!mp || !mp->graph) {
        if (mp)
            onnx__model_proto__free_unpacked(mp, NULL);
        return di_fail(err, DI_EFORMAT, "%s: not a valid ONNX model", in_path);
    }
    rng r = {seed, false, 0};
    int count = 0;
    float **bufs = calloc(mp->graph->n_initializer + 1, sizeof(float *));
    size_t nbufs = 0;
    if (!bufs)
        rc = di_fail(err, DI_ENOMEM, "out of memory");
    for (size_t i = 0; i < mp->graph->n_initializer && !rc; i++) {
        Onnx__TensorProto *t = mp->graph->initializer[i];
        if (!(t->has_data_location &&
              t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL))
            continue;
        if (t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
            rc = di_fail(err, DI_EUNSUPPORTED, "%s: initializer '%s' is external and not float32",
                         in_path, t->name ? t->name : "");
            break;
        }
        int64_t n = 1, fan_in = 1;
        for (size_t d = 0; d < t->n_dims; d++) {
            if (t->dims[d] < 0 || t->dims[d] > ((int64_t)1 << 31)) {
                rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s': bad dimension", in_path,
                             t->name ? t->name : "");
                break;
            }
            n *= t->dims[d];
            if (d > 0)
                fan_in *= t->dims[d];
            if (n > ((int64_t)1 << 31)) {
                rc = di_fail(err, DI_EFORMAT, "%s: initializer '%s': absurd size", in_path,
                             t->name ? t->name : "");
                break;
            }
        }
        if (rc)
            break;
        float *buf = malloc((size_t)n * sizeof(float) + 1);
        if (!buf) {
            rc = di_fail(err, DI_ENOMEM, "out of memory");
            break;
        }
        bufs[nbufs++] = buf;
        double sd = t->n_dims >= 2 && fan_in > 0 ? sqrt(2.0 / (double)fan_in) : 0.01;
        for (int64_t j = 0; j < n; j++)
            buf[j] = (float)(normal(&r) * sd);
        /* inline it; the external-data entries are dropped */
        for (size_t e = 0; e < t->n_external_data; e++)
            onnx__string_string_entry_proto__free_unpacked(t->external_data[e], NULL);
        free(t->external_data);
        t->external_data = NULL;
        t->n_external_data = 0;
        t->has_data_location = 0;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
        if (t->has_raw_data)
            free(t->raw_data.data);
        t->has_raw_data = 1;
        t->raw_data.data = (uint8_t *)buf;
        t->raw_data.len = (size_t)n * sizeof(float);
        count++;
    }
    if (!rc && mode == DI_NN_FILL_SCALED)
        rc = di_nn_fill_scale(mp, in_path, err);
    if (!rc) {
        size_t len = onnx__model_proto__get_packed_size(mp);
        uint8_t *out = malloc(len ? len : 1);
        FILE *f = NULL;
        if (!out)
            rc = di_fail(err, DI_ENOMEM, "out of memory");
        else {
            onnx__model_proto__pack(mp, out);
            f = fopen(out_path, "wb");
            if (!f)
                rc = di_fail(err, DI_EIO, "%s: cannot create", out_path);
            else if (fwrite(out, 1, len, f) != len)
                rc = di_fail(err, DI_EIO, "%s: write failed", out_path);
            if (f && fclose(f) && !rc)
                rc = di_fail(err, DI_EIO, "%s: write failed", out_path);
        }
        free(out);
    }
    /* the buffers now belong to the protobuf tree, which frees raw_data */
    free(bufs);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!rc && filled)
        *filled = count;
    return rc;
}
