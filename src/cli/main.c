/* main.c: `depthindex SUBCOMMAND ...` dispatch, --help and --version. */
#include "cli.h"
#include "di_config.h"
#include "nn/nn.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const di_command commands[] = {
    {"score", "score depth map files (PNG, NPY, PFM)", di_cmd_score},
    {"run", "score the faces listed in a database (the main job)", di_cmd_run},
    {"init", "create the schema; with --demo, a synthetic data set", di_cmd_init},
    {"status", "done, pending and failed faces in a database", di_cmd_status},
    {"infer", "run an ONNX model on an NPY tensor", di_cmd_infer},
    {"model", "describe an ONNX model and what of it is supported", di_cmd_model},
    {"demo", "write synthetic street-canyon depth maps", di_cmd_demo},
    {"report", "an HTML report of the scores, pictures and failures", di_cmd_report},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* Where a long message is cut: the first and the last bytes stay (the
** start says what, the end usually why). */
#define MSG_HEAD 360
#define MSG_TAIL 160

/* Moves p back to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t p)
{
    while (p > 0 && ((unsigned char)s[p] & 0xC0) == 0x80)
        p--;
    return p;
}

void di_cli_escape(const char *in, char *out, size_t out_size)
{
    size_t n = strlen(in), o = 0;
    char cut[MSG_HEAD + MSG_TAIL + 16];
    if (n > MSG_HEAD + MSG_TAIL + 5) {
        size_t head = char_start(in, MSG_HEAD), tail = char_start(in, n - MSG_TAIL);
        memcpy(cut, in, head);
        memcpy(cut + head, " ... ", 5);
        size_t rest = n - tail; /* MSG_TAIL and at most 3 bytes of a character */
        memcpy(cut + head + 5, in + tail, rest);
        cut[head + 5 + rest] = '\0';
        in = cut;
    }
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 5 < out_size; p++) {
        if (*p < 0x20 || *p == 0x7F)
            o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", *p);
        else
            out[o++] = (char)*p;
    }
    out[o < out_size ? o : out_size - 1] = '\0';
}

void di_cli_error(const char *fmt, ...)
{
    /* Messages carry values from outside (database rows and errors, file
    ** names, option values): escaped and bounded before they reach the
    ** terminal. */
    char msg[16384], out[4 * (MSG_HEAD + MSG_TAIL + 16)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    di_cli_escape(msg, out, sizeof out);
    fprintf(stderr, "depthindex: %s\n", out);
}

int di_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: depthindex SUBCOMMAND [OPTIONS]\n"
               "       depthindex --version | --help\n\n"
               "Computes the depth congestion index of street-level images.\n\n"
               "subcommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-8s %s\n", "version", "print the version and what this build contains");
    fprintf(f, "\n`depthindex SUBCOMMAND --help` describes each one.\n");
}

static void version(void)
{
    printf("depthindex %s\n", DI_VERSION_STRING);
    printf("engines: cpu%s\n", di_nn_cuda_built() ? " cuda" : "");
    printf("database backends: %s\n", di_store_backends_built());
    printf("depth map formats: png npy pfm\n");
    printf("image formats: jpeg\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return DI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        version();
        return DI_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        di_cli_prepare_process(argc, argv);
        return commands[i].main(argc - 1, argv + 1);
    }
    di_cli_error("unknown subcommand '%s' (see depthindex --help)", argv[1]);
    return DI_EXIT_USAGE;
}
