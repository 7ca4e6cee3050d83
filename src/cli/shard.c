/* shard.c: `run --shard I/N` and `--shard auto`: which shard of the table's
** chunks this worker prefers, from the option or from the scheduler that
** started it. Every scheduler variable that is set is read; two that give
** different shards are an error (a launcher inside an array job can set
** both, and a silent pick would make two workers share a shard). */
#include "cli.h"
#include "options.h"
#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A non-negative decimal variable: 1 read, 0 unset, -1 bad (message printed). */
static int env_int(const char *name, long long *out)
{
    const char *v = getenv(name);
    if (!v || !v[0])
        return 0;
    if (!di_opt_int(v, 0, 1000000000, out)) {
        di_cli_error("--shard auto: %s='%s' is not a number", name, v);
        return -1;
    }
    return 1;
}

typedef struct source {
    const char *what;
    long long index, count;
} source;

/* Reads one scheduler's pair. count_var NULL: the count is --shards. */
static int read_source(const char *index_var, const char *count_var, const char *min_var,
                       long long shards_opt, source *out)
{
    long long index, count = shards_opt, min = 0;
    int r = env_int(index_var, &index);
    if (r <= 0)
        return r;
    if (count_var) {
        int rc = env_int(count_var, &count);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            di_cli_error("--shard auto: %s is set but %s is not", index_var, count_var);
            return -1;
        }
    } else if (count <= 0) {
        di_cli_error("--shard auto: %s is set; give the number of shards with --shards N "
                     "(the job's completions)", index_var);
        return -1;
    }
    if (min_var && env_int(min_var, &min) < 0)
        return -1;
    index -= min; /* Slurm arrays may start at any number (--array=1-8) */
    if (index < 0 || count < 1 || index >= count) {
        di_cli_error("--shard auto: %s gives shard %lld of %lld", index_var, index, count);
        return -1;
    }
    out->index = index;
    out->count = count;
    return 1;
}

int di_cli_shard(const char *value, long long shards_opt, int *shard, int *shards,
                 char *used, size_t used_size)
{
    if (strcmp(value, "auto") != 0) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", value);
        char *slash = strchr(buf, '/');
        long long i, n;
        if (!slash) {
            di_cli_error("--shard: '%s' is not I/N (0-based) or auto", value);
            return -1;
        }
        *slash = '\0';
        if (!di_opt_int(buf, 0, 1000000, &i) || !di_opt_int(slash + 1, 1, 1000000, &n) ||
            i >= n) {
            di_cli_error("--shard: '%s' is not I/N with 0 <= I < N", value);
            return -1;
        }
        *shard = (int)i;
        *shards = (int)n;
        snprintf(used, used_size, "--shard %lld/%lld", i, n);
        return 0;
    }
    static const struct {
        const char *index, *count, *min, *what;
    } vars[] = {
        {"JOB_COMPLETION_INDEX", NULL, NULL, "JOB_COMPLETION_INDEX (Kubernetes) with --shards"},
        {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN",
         "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (Slurm)"},
        {"AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE", NULL,
         "AWS_BATCH_JOB_ARRAY_INDEX/AWS_BATCH_JOB_ARRAY_SIZE (AWS Batch)"},
        {"RANK", "WORLD_SIZE", NULL, "RANK/WORLD_SIZE (torchrun-style launcher)"},
    };
    source found[4];
    int nfound = 0;
    for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++) {
        source s = {vars[k].what, 0, 0};
        int r = read_source(vars[k].index, vars[k].count, vars[k].min, shards_opt, &s);
        if (r < 0)
            return -1;
        if (r > 0)
            found[nfound++] = s;
    }
    if (nfound == 0) {
        di_cli_error("--shard auto: none of JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, "
                     "AWS_BATCH_JOB_ARRAY_INDEX, RANK is set (give --shard I/N)");
        return -1;
    }
    for (int k = 1; k < nfound; k++)
        if (found[k].index != found[0].index || found[k].count != found[0].count) {
            di_cli_error("--shard auto: %s says %lld/%lld but %s says %lld/%lld",
                         found[0].what, found[0].index, found[0].count, found[k].what,
                         found[k].index, found[k].count);
            return -1;
        }
    if (shards_opt > 0 && found[0].count != shards_opt) {
        di_cli_error("--shard auto: %s gives %lld shards, --shards says %lld", found[0].what,
                     found[0].count, shards_opt);
        return -1;
    }
    *shard = (int)found[0].index;
    *shards = (int)found[0].count;
    snprintf(used, used_size, "%s", found[0].what);
    return 0;
}
