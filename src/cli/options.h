/*
** options.h: option parsing shared by every subcommand:
** "--name VALUE" or "--name=VALUE", numbers with range checks, and the
** database options every database subcommand takes.
*/
#ifndef DI_CLI_OPTIONS_H
#define DI_CLI_OPTIONS_H

#include "nn/nn.h"
#include "store/store.h"

/* When argv[*i] is the option `name`, returns its value (advancing *i past a
** separate value) and sets *bad when the value is missing; else NULL. */
const char *di_opt_value(int argc, char **argv, int *i, const char *name, bool *bad);
/* --device: "cpu", "cuda" or "cuda:N" (N 0 to 1024); false otherwise. */
bool di_opt_device(const char *v, di_nn_device *device, int *index);
/* --precision: fp32, tf32, fp16, bf16 or auto (*automatic set, *p FP32);
** false otherwise. */
bool di_opt_precision(const char *v, di_nn_precision *p, bool *automatic);
/* What --precision auto means on this device: bf16 on a CPU with native
** bf16 (di_nn_cpu_bf16), else fp32 (the default: scores that do not depend
** on the machine). */
di_nn_precision di_opt_precision_auto(di_nn_device device);
/* True when argv[*i] is exactly the flag `name`. */
bool di_opt_flag(char **argv, int i, const char *name);

/* Strict numbers: the whole text, within [lo, hi]; false otherwise (and the
** CLI says which option was bad). */
bool di_opt_int(const char *text, long long lo, long long hi, long long *out);
bool di_opt_double(const char *text, double lo, double hi, double *out);
/* "a,b" or "a,b,c": exactly n numbers separated by commas. */
bool di_opt_doubles(const char *text, int n, double *out);

/* The database options: --db URL, --password-file F, --table T,
** --faces a,b,c, --column PATTERN. */
typedef struct di_cli_db {
    di_store_config store;
    const char *password_file;
    char password[256];
    char faces_buf[256];
} di_cli_db;

void di_cli_db_init(di_cli_db *db);
/* 1: argv[*i] was a database option (consumed); 0: not one; -1: bad (a
** message was printed). */
int di_cli_db_option(di_cli_db *db, int argc, char **argv, int *i);
/* After parsing: --db given, password file read. -1 (message printed) or 0. */
int di_cli_db_finish(di_cli_db *db);
/* Prints "depthindex: message" for a store error, with the password (if it
** ever appeared) replaced by ***. */
void di_cli_db_error(const di_cli_db *db, const char *msg);
/* The help text of the database options. */
extern const char di_cli_db_help[];

#endif
