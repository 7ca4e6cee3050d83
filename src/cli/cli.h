/*
** cli.h: the subcommands. Only src/cli prints to people and chooses exit
** codes; the library below returns statuses and messages.
*/
#ifndef DI_CLI_H
#define DI_CLI_H

#include <signal.h>

#include "core/core.h"

enum {
    DI_EXIT_OK = 0,
    DI_EXIT_SOME_FAILED = 1, /* some items failed; the rest were done */
    DI_EXIT_USAGE = 2,       /* usage or setup error */
    DI_EXIT_SIGINT = 130,
    DI_EXIT_SIGTERM = 143,
};

typedef struct di_command {
    const char *name;
    const char *summary;
    int (*main)(int argc, char **argv); /* argv[0] is the subcommand name */
} di_command;

/* One declaration per subcommand, each in its own cmd_NAME.c. */
int di_cmd_score(int argc, char **argv);
int di_cmd_run(int argc, char **argv);
int di_cmd_init(int argc, char **argv);
int di_cmd_status(int argc, char **argv);
int di_cmd_infer(int argc, char **argv);
int di_cmd_model(int argc, char **argv);
int di_cmd_demo(int argc, char **argv);
int di_cmd_report(int argc, char **argv);

/* Process set-up before any subcommand runs (process.c): settles the OpenMP
** wait policy (re-executing once when it must) and hides passwords given in
** database URLs from the process's command line. */
void di_cli_prepare_process(int argc, char **argv);
/* `run`: whether other processes kept the machine busy when it started (the
** look that chose its OpenMP spin, process.c); false when the user's own
** OMP_WAIT_POLICY or GOMP_SPINCOUNT made that look unnecessary. Kept from
** the process's start: the variable that carried it across run's exec is
** gone from the environment by then, so that no child inherits it. */
bool di_cli_run_loaded(void);

/* Copies text for a terminal: control characters as \xNN (a value from a
** database or a file cannot drive the terminal), and a text longer than
** about 500 bytes cut in the middle with " ... ". out_size >= 2100 holds
** any result. */
void di_cli_escape(const char *in, char *out, size_t out_size);
/* Prints "depthindex: message" on stderr (one line), escaped and bounded as
** di_cli_escape does. */
void di_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv[i] is -h or --help. */
int di_cli_wants_help(int argc, char **argv);
/* For a command that finishes its current item on SIGINT/SIGTERM (score's
** file, init's panorama) and then exits 130/143 (process.c): the handler
** only records the signal in di_cli_stop_signal and gives the signal back
** its default action, so a second one ends the process at once. */
extern volatile sig_atomic_t di_cli_stop_signal;
void di_cli_catch_stop_signals(void);

#endif
