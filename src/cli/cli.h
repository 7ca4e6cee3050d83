/*
** cli.h: the subcommands. Only src/cli prints to people and chooses exit
** codes; the library below returns statuses and messages.
*/
#ifndef DI_CLI_H
#define DI_CLI_H

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

/* One declaration per subcommand, each in its own cmd_NAME.c. They are weak
** so that a subcommand whose file is not part of this build is reported as
** missing instead of breaking the link while parts land one by one. */
#define DI_CMD_DECL(name) \
    int di_cmd_##name(int argc, char **argv) __attribute__((weak))
DI_CMD_DECL(score);
DI_CMD_DECL(run);
DI_CMD_DECL(init);
DI_CMD_DECL(status);
DI_CMD_DECL(infer);
DI_CMD_DECL(model);
DI_CMD_DECL(demo);

/* Prints "depthindex: message" on stderr (one line). */
void di_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv[i] is -h or --help. */
int di_cli_wants_help(int argc, char **argv);

#endif
