/* cmd_infer.c: `depthindex infer`: run an ONNX model on an NPY tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "options.h"
#include "io/io.h"
#include "nn/nn.h"

static void help(void)
{
    printf("usage: depthindex infer --model M.onnx --input X.npy [OPTIONS]\n\n"
           "Runs the model on the input (float32, N x C x H x W; any batch size N)\n"
           "and prints the median time per run as `N ms`.\n\n"
           "options:\n"
           "  --model M.onnx   the model (external data next to it)\n"
           "  --input X.npy    the input tensor (float32 NPY)\n"
           "  --output Y.npy   write the first output there\n"
           "  --threads N      CPU threads (default: all cores)\n"
           "  --repeat R       time R runs (default 1) and print the median\n"
           "  --profile        also print the time per op type (mean per run)\n"
           "  --device cpu|cuda[:N]  where to run (default cpu)\n"
           "  --precision fp32|tf32|fp16|bf16|auto  compute precision (default fp32);\n"
           "                   cpu: fp32 or bf16 (a CPU with native bf16: AVX512-BF16\n"
           "                   or AMX); auto: bf16 where the CPU has it, else fp32\n"
           "  -h, --help       this help\n");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_time(const void *a, const void *b)
{
    const di_nn_op_time *x = a, *y = b;
    return x->seconds < y->seconds ? 1 : x->seconds > y->seconds ? -1 : 0;
}

int di_cmd_infer(int argc, char **argv)
{
    if (di_cli_wants_help(argc, argv)) {
        help();
        return DI_EXIT_OK;
    }
    const char *model = NULL, *input = NULL, *output = NULL;
    int threads = 0, repeat = 1;
    bool profile = false;
    di_nn_device device = DI_NN_CPU;
    int device_index = 0;
    di_nn_precision precision = DI_NN_FP32;
    bool precision_auto = false;
    for (int i = 1; i < argc; i++) {
        bool bad = false;
        const char *v;
        long long n;
        if ((v = di_opt_value(argc, argv, &i, "--model", &bad))) model = v;
        else if ((v = di_opt_value(argc, argv, &i, "--input", &bad))) input = v;
        else if ((v = di_opt_value(argc, argv, &i, "--output", &bad))) output = v;
        else if ((v = di_opt_value(argc, argv, &i, "--threads", &bad))) {
            if (!di_opt_int(v, 1, 1024, &n)) {
                di_cli_error("--threads: expected 1 to 1024, not '%s'", v);
                return DI_EXIT_USAGE;
            }
            threads = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--repeat", &bad))) {
            if (!di_opt_int(v, 1, 1000000, &n)) {
                di_cli_error("--repeat: expected a positive count, not '%s'", v);
                return DI_EXIT_USAGE;
            }
            repeat = (int)n;
        } else if ((v = di_opt_value(argc, argv, &i, "--device", &bad))) { /* (cuda) device and precision */
            if (!di_opt_device(v, &device, &device_index)) {
                di_cli_error("--device: expected cpu, cuda or cuda:N, not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if ((v = di_opt_value(argc, argv, &i, "--precision", &bad))) {
            if (!di_opt_precision(v, &precision, &precision_auto)) {
                di_cli_error("--precision: expected fp32, tf32, fp16, bf16 or auto, not '%s'", v);
                return DI_EXIT_USAGE;
            }
        } else if (di_opt_flag(argv, i, "--profile")) profile = true;
        else if (!bad) {
            di_cli_error("infer: unknown option: %s (see depthindex infer --help)", argv[i]);
            return DI_EXIT_USAGE;
        }
        if (bad) return DI_EXIT_USAGE; /* di_opt_value said what is missing */
    }
    if (!model || !input) {
        di_cli_error("infer: --model and --input are required (see depthindex infer --help)");
        return DI_EXIT_USAGE;
    }
    if (device == DI_NN_CUDA) { /* (cuda) a setup error before any work */
        char why[160];
        if (!di_nn_cuda_built()) {
            di_cli_error("--device cuda: this depthindex was built without CUDA");
            return DI_EXIT_USAGE;
        }
        if (di_nn_cuda_device_status(why, sizeof why) == 0) {
            di_cli_error("no CUDA device: %s", why);
            return DI_EXIT_USAGE;
        }
    }
    di_error err;
    di_error_clear(&err);
    di_tensor x = {0};
    /* What cannot start (an unreadable input, a corrupt or unsupported
    ** model, shapes that do not fit) is a setup error, exit 2, as in run. */
    if (di_npy_read_tensor(input, &x, &err)) {
        di_cli_error("%s", err.msg);
        return DI_EXIT_USAGE;
    }
    di_nn_options opt;
    di_nn_options_default(&opt);
    opt.threads = threads;
    opt.profile = profile;
    opt.device = device;
    opt.device_index = device_index;
    opt.precision = precision_auto ? di_opt_precision_auto(device) : precision;
    di_nn_session *s = NULL;
    int status = DI_EXIT_SOME_FAILED;
    float *y = NULL;
    double *times = NULL;
    status = DI_EXIT_USAGE;
    if (di_nn_session_create(model, &opt, &s, &err)) {
        di_cli_error("%s", err.msg);
        goto done;
    }
    int c, h, w;
    /* a symbolic height and width: the input file's */
    if ((di_nn_input_symbolic(s) & 0xc) && x.ndim == 4 &&
        di_nn_set_input_size(s, (int)(x.dims[2] > 16384 ? 0 : x.dims[2]),
                             (int)(x.dims[3] > 16384 ? 0 : x.dims[3]), &err)) {
        di_cli_error("%s", err.msg);
        goto done;
    }
    if (di_nn_input_chw(s, &c, &h, &w)) {
        di_cli_error("%s: the first input is not N x C x H x W with fixed C, H, W", model);
        goto done;
    }
    if (x.ndim != 4 || x.dims[1] != c || x.dims[2] != h || x.dims[3] != w || x.dims[0] < 1 || x.dims[0] > 1 << 20) {
        char got[160] = "";
        for (int d = 0; d < x.ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "", (long long)x.dims[d]);
        di_cli_error("%s: shape %s does not fit the model's input N x %d x %d x %d", input, got, c, h, w);
        goto done;
    }
    status = DI_EXIT_SOME_FAILED; /* from here on, the run itself failed */
    int batch = (int)x.dims[0];
    int64_t od[8];
    int ond;
    if (di_nn_output_shape(s, batch, od, &ond, &err)) {
        di_cli_error("%s", err.msg);
        goto done;
    }
    size_t on = 1;
    for (int d = 0; d < ond; d++) on *= (size_t)od[d];
    y = malloc(on * sizeof(float) + 1);
    times = malloc((size_t)repeat * sizeof(double));
    if (!y || !times) {
        di_cli_error("out of memory");
        goto done;
    }
    di_nn_profile_reset(s);
    for (int r = 0; r < repeat; r++) {
        double t0 = di_now();
        if (di_nn_run(s, x.data, batch, y, on, &err)) {
            di_cli_error("%s", err.msg);
            goto done;
        }
        times[r] = di_now() - t0;
    }
    qsort(times, (size_t)repeat, sizeof(double), cmp_double);
    double med = repeat % 2 ? times[repeat / 2] : 0.5 * (times[repeat / 2 - 1] + times[repeat / 2]);
    if (output && di_npy_write_f32(output, y, od, ond, &err)) {
        di_cli_error("%s", err.msg);
        goto done;
    }
    printf("%.3f ms\n", med * 1e3);
    if (profile) {
        di_nn_op_time t[64];
        int runs, n = di_nn_profile(s, t, 64, &runs);
        double total = 0;
        for (int i = 0; i < n; i++) total += t[i].seconds;
        qsort(t, (size_t)n, sizeof t[0], cmp_time);
        printf("%-16s %10s %8s %6s\n", "op", "ms/run", "calls", "%");
        for (int i = 0; i < n; i++)
            printf("%-16s %10.3f %8d %6.1f\n", t[i].op, t[i].seconds * 1e3 / (runs ? runs : 1), t[i].calls / (runs ? runs : 1), total > 0 ? 100 * t[i].seconds / total : 0);
    }
    status = DI_EXIT_OK;
done:
    free(times);
    free(y);
    di_nn_session_destroy(s);
    di_tensor_free(&x);
    return status;
}
