/* clock.c: monotonic time for rates, ETAs and retry deadlines. */
#include "core.h"

#include <errno.h>
#include <time.h>

double di_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void di_deadline(clockid_t clock, double seconds, struct timespec *until)
{
    clock_gettime(clock, until);
    if (seconds <= 0)
        return;
    until->tv_sec += (time_t)seconds;
    until->tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until->tv_nsec >= 1000000000L) {
        until->tv_sec++;
        until->tv_nsec -= 1000000000L;
    }
}

void di_sleep(double seconds)
{
    if (seconds <= 0)
        return;
    struct timespec ts;
    ts.tv_sec = (time_t)seconds;
    ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
    /* A signal may cut the sleep short; callers re-check their stop flags. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        break;
}
