/*
** load_tensor.c: a TensorProto's data (raw_data, typed fields or external
** data) copied into a malloc'd buffer of the engine's element type, every
** declared size checked before anything is allocated.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define MAX_TENSOR_ELEMS ((int64_t)1 << 30)

/* Copies a TensorProto's data into a malloc'd buffer of the engine's dtype. */
int di_nn_tensor_from_proto(loader *L, const Onnx__TensorProto *t, int *dtype, int *ndim,
                            int64_t *dims, void **data, di_error *err)
{
    const char *tname = t->name ? t->name : "(unnamed)";
    int dt = t->data_type;
    /* float16 is read as it is stored, then widened to float32 (fp16.c) */
    size_t es = dt == DI_DT_FLOAT16 ? 2 : di_dtype_size(dt);
    if (!es)
        return di_fail(err, DI_EUNSUPPORTED, "%s: tensor '%s': element type %s is not supported",
                       L->name, tname, di_dtype_name(dt));
    if (t->n_dims > DI_NN_MAX_DIMS)
        return di_fail(err, DI_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)",
                       L->name, tname, t->n_dims, DI_NN_MAX_DIMS);
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0)
            return di_fail(err, DI_EFORMAT, "%s: tensor '%s': negative dimension", L->name, tname);
        dims[i] = t->dims[i];
    }
    int64_t n = di_shape_numel((int)t->n_dims, dims);
    if (n < 0 || n > MAX_TENSOR_ELEMS || !di_nn_shape_sane((int)t->n_dims, dims))
        return di_fail(err, DI_ENOMEM, "%s: tensor '%s': absurd size", L->name, tname);
    size_t bytes = (size_t)n * es;
    bool external =
        t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* sizes are checked before anything is allocated */
    size_t have = 0;
    if (!external && t->has_raw_data) {
        if (t->raw_data.len != bytes)
            return di_fail(err, DI_EFORMAT,
                           "%s: tensor '%s': raw_data has %zu bytes, its shape needs %zu", L->name,
                           tname, t->raw_data.len, bytes);
    } else if (!external) {
        have = dt == DI_DT_FLOAT    ? t->n_float_data
               : dt == DI_DT_DOUBLE ? t->n_double_data
               : dt == DI_DT_INT64  ? t->n_int64_data
                                    : t->n_int32_data;
        if (have != (size_t)n)
            return di_fail(err, DI_EFORMAT, "%s: tensor '%s': has %zu values, its shape needs %lld",
                           L->name, tname, have, (long long)n);
    }
    uint8_t *buf = malloc(bytes ? bytes : 1);
    if (!buf)
        return di_fail(err, DI_ENOMEM, "%s: tensor '%s': out of memory", L->name, tname);
    int rc = DI_OK;
    if (external) {
        rc = di_nn_read_external(L, t, tname, buf, bytes, err);
    } else if (t->has_raw_data) {
        if (bytes)
            memcpy(buf, t->raw_data.data, bytes);
    } else if (bytes) {
        switch (dt) {
        case DI_DT_FLOAT: memcpy(buf, t->float_data, bytes); break;
        case DI_DT_DOUBLE: memcpy(buf, t->double_data, bytes); break;
        case DI_DT_INT64: memcpy(buf, t->int64_data, bytes); break;
        default: /* int32, uint8, int8, bool live in int32_data */
            for (int64_t i = 0; i < n; i++) {
                if (dt == DI_DT_FLOAT16)
                    ((uint16_t *)buf)[i] = (uint16_t)t->int32_data[i];
                else if (dt == DI_DT_INT32)
                    ((int32_t *)buf)[i] = t->int32_data[i];
                else
                    buf[i] = (uint8_t)t->int32_data[i];
            }
            break;
        }
    }
    if (!rc && dt == DI_DT_FLOAT16) {
        float *f = di_nn_fp16_widen((const uint16_t *)buf, n);
        free(buf);
        buf = (uint8_t *)f;
        dt = DI_DT_FLOAT;
        if (!f)
            rc = di_fail(err, DI_ENOMEM, "%s: tensor '%s': out of memory", L->name, tname);
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
    if (rc)
        return rc;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, data);
    free(data);
    if (!t)
        return di_fail(err, DI_EFORMAT, "%s: not a TensorProto", path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    loader L = {path, dir, 0, 0};
    rc = di_nn_tensor_from_proto(&L, t, &out->dtype, &out->ndim, out->dims, &out->data, err);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return rc;
}

/* ---- the graph ---- */
