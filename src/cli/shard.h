/* shard.h: parsing `run --shard` (shard.c). */
#ifndef DI_CLI_SHARD_H
#define DI_CLI_SHARD_H

#include <stddef.h>

/* value: "I/N" or "auto" (the scheduler's variables; shards_opt is --shards,
** 0 when not given). Fills the shard, the count and, in used, where they came
** from; -1 with a message printed when bad. */
int di_cli_shard(const char *value, long long shards_opt, int *shard, int *shards,
                 char *used, size_t used_size);

#endif
