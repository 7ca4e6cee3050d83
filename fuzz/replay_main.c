/*
** replay_main.c: runs a fuzz target's LLVMFuzzerTestOneInput over files and
** directories of files without libFuzzer, so that `make test` replays every
** corpus file through the readers in the plain and sanitizer builds.
** Usage: replay FILE|DIR...   (prints how many inputs ran)
*/
#include "fuzz_common.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
    uint8_t *data;
    size_t size;
    di_error e;
    if (di_read_file(path, DI_IO_MAX_FILE_BYTES, &data, &size, &e) != 0) {
        fprintf(stderr, "replay: %s\n", e.msg);
        return -1;
    }
    /* An exact-size copy, so that ASan sees reads past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    free(data);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
    return 1;
}

int main(int argc, char **argv)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[i]) < 0)
                return 1;
            n++;
            continue;
        }
        struct dirent **names;
        int k = scandir(argv[i], &names, NULL, alphasort);
        if (k < 0) {
            perror(argv[i]);
            return 1;
        }
        for (int j = 0; j < k; j++) {
            if (names[j]->d_name[0] != '.') {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s", argv[i], names[j]->d_name);
                if (replay_file(path) < 0)
                    return 1;
                n++;
            }
            free(names[j]);
        }
        free(names);
    }
    printf("replayed %d inputs\n", n);
    return n > 0 ? 0 : 1;
}
