/* options.c: option parsing shared by every subcommand. */
#include "options.h"
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char di_cli_db_help[] =
    "  --db URL              sqlite:PATH, mysql://user[:pass]@host[:port]/db or\n"
    "                        postgresql://user[:pass]@host[:port]/db (required)\n"
    "  --password-file F     read the database password from F (else the URL's,\n"
    "                        else $DEPTHINDEX_DB_PASSWORD)\n"
    "  --table T             table of panoramas [panorama]\n"
    "  --faces a,b,...       face names [xm,xp,zm,zp]\n"
    "  --column PATTERN      result column per face [{face}_depth_index]\n";

const char *di_opt_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        di_cli_error("%s needs a value", name);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

bool di_opt_device(const char *v, di_nn_device *device, int *index)
{
    long long idx = 0;
    if (strcmp(v, "cpu") == 0) {
        *device = DI_NN_CPU;
        return true;
    }
    if (strncmp(v, "cuda", 4) != 0 || (v[4] != '\0' && v[4] != ':'))
        return false;
    if (v[4] == ':' && !di_opt_int(v + 5, 0, 1024, &idx))
        return false;
    *device = DI_NN_CUDA;
    *index = (int)idx;
    return true;
}

bool di_opt_precision(const char *v, di_nn_precision *p, bool *automatic)
{
    static const struct {
        const char *name;
        di_nn_precision p;
    } names[] = {{"fp32", DI_NN_FP32}, {"tf32", DI_NN_TF32}, {"fp16", DI_NN_FP16},
                 {"bf16", DI_NN_BF16}, {"auto", DI_NN_FP32}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(v, names[i].name) == 0) {
            *p = names[i].p;
            *automatic = strcmp(v, "auto") == 0;
            return true;
        }
    return false;
}

di_nn_precision di_opt_precision_auto(di_nn_device device)
{
    return device == DI_NN_CPU && di_nn_cpu_bf16() ? DI_NN_BF16 : DI_NN_FP32;
}

bool di_opt_flag(char **argv, int i, const char *name)
{
    return strcmp(argv[i], name) == 0;
}

bool di_opt_int(const char *text, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool di_opt_double(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool di_opt_doubles(const char *text, int n, double *out)
{
    char buf[256];
    if (strlen(text) >= sizeof buf)
        return false;
    strcpy(buf, text);
    char *save = NULL;
    int k = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (k == n || !di_opt_double(tok, -1e30, 1e30, &out[k]))
            return false;
        k++;
    }
    return k == n;
}

void di_cli_db_init(di_cli_db *db)
{
    memset(db, 0, sizeof *db);
    di_store_config_default(&db->store);
}

static int parse_faces(di_cli_db *db, const char *text)
{
    if (strlen(text) >= sizeof db->faces_buf) {
        di_cli_error("--faces: too long");
        return -1;
    }
    strcpy(db->faces_buf, text);
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(db->faces_buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == DI_STORE_MAX_FACES) {
            di_cli_error("--faces: at most %d faces", DI_STORE_MAX_FACES);
            return -1;
        }
        if (strlen(tok) > 64) {
            di_cli_error("--faces: '%.40s...' is too long (64 max)", tok);
            return -1;
        }
        if (!di_ident_valid(tok)) {
            di_cli_error("--faces: '%s' is not a plain name (letters, digits, _)", tok);
            return -1;
        }
        for (int k = 0; k < n; k++)
            if (strcmp(db->store.faces[k], tok) == 0) {
                di_cli_error("--faces: '%s' is given twice", tok);
                return -1;
            }
        db->store.faces[n++] = tok;
    }
    if (n == 0) {
        di_cli_error("--faces: no face names");
        return -1;
    }
    db->store.nfaces = n;
    return 1;
}

int di_cli_db_option(di_cli_db *db, int argc, char **argv, int *i)
{
    bool bad = false;
    const char *v;
    if ((v = di_opt_value(argc, argv, i, "--db", &bad)))
        db->store.url = v;
    else if ((v = di_opt_value(argc, argv, i, "--password-file", &bad)))
        db->password_file = v;
    else if ((v = di_opt_value(argc, argv, i, "--table", &bad))) {
        if (strlen(v) > 64) {
            di_cli_error("--table: '%.40s...' is too long (64 max)", v);
            return -1;
        }
        if (!di_ident_valid(v)) {
            di_cli_error("--table: '%s' is not a plain name (letters, digits, _)", v);
            return -1;
        }
        db->store.table = v;
    } else if ((v = di_opt_value(argc, argv, i, "--faces", &bad)))
        return parse_faces(db, v);
    else if ((v = di_opt_value(argc, argv, i, "--column", &bad))) {
        if (!strstr(v, "{face}")) {
            di_cli_error("--column: '%s' has no {face}", v);
            return -1;
        }
        db->store.column_pattern = v;
    }
    if (bad)
        return -1;
    return v ? 1 : 0;
}

int di_cli_db_finish(di_cli_db *db)
{
    if (!db->store.url) {
        di_cli_error("--db URL is required (for example --db sqlite:depthindex.db)");
        return -1;
    }
    if (db->password_file) {
        /* di_read_file refuses directories, FIFOs and devices with a clear
        ** reason instead of reading nothing (an empty password) or waiting. */
        uint8_t *data = NULL;
        size_t n = 0;
        di_error err;
        if (di_read_file(db->password_file, sizeof db->password - 1, &data, &n, &err)) {
            if (err.code == DI_ENOMEM)
                di_cli_error("--password-file %s: longer than %zu bytes", db->password_file,
                             sizeof db->password - 1);
            else
                di_cli_error("--password-file %s", err.msg);
            return -1;
        }
        memcpy(db->password, data, n);
        free(data);
        db->password[n] = '\0';
        while (n > 0 && (db->password[n - 1] == '\n' || db->password[n - 1] == '\r'))
            db->password[--n] = '\0';
        if (n == 0 || strlen(db->password) != n) {
            di_cli_error("--password-file %s: %s", db->password_file,
                         n == 0 ? "empty" : "holds a NUL byte");
            return -1;
        }
        db->store.password = db->password;
    }
    return 0;
}

void di_cli_db_error(const di_cli_db *db, const char *msg)
{
    char out[1024];
    snprintf(out, sizeof out, "%s", msg);
    /* Every password this command knows of: file, environment, URL. */
    const char *secrets[3] = {db->store.password, getenv("DEPTHINDEX_DB_PASSWORD"), NULL};
    di_url u;
    if (db->store.url && di_url_parse(db->store.url, &u, NULL) == 0 && u.has_password)
        secrets[2] = u.password;
    for (int s = 0; s < 3; s++) {
        const char *pw = secrets[s];
        size_t n = pw ? strlen(pw) : 0;
        if (n < 3)
            continue;
        char *hit;
        while ((hit = strstr(out, pw))) {
            size_t tail = strlen(hit + n);
            memmove(hit + 3, hit + n, tail + 1);
            memcpy(hit, "***", 3);
        }
    }
    di_cli_error("%s", out);
}
