/* queue.c: the bounded blocking FIFO between pipeline stages.
** A ring of pointers under one mutex: items are few and large (a batch, a
** depth map), so contention on the lock is never the cost. */
#include "core.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct di_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items;
    size_t capacity, head, count;
    bool closed;
};

di_queue *di_queue_create(size_t capacity)
{
    if (capacity == 0)
        capacity = 1;
    di_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->items = calloc(capacity, sizeof *q->items);
    if (!q->items) {
        free(q);
        return NULL;
    }
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    /* not_empty runs on the monotonic clock, for di_queue_pop_timed */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->not_empty, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

void di_queue_destroy(di_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

int di_queue_push(di_queue *q, void *item)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == q->capacity && !q->closed)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return DI_EINTR;
    }
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
    return DI_OK;
}

static void *take_locked(di_queue *q)
{
    void *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_signal(&q->not_full);
    return item;
}

void *di_queue_pop(di_queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->lock);
    void *item = q->count ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->lock);
    return item;
}

void *di_queue_pop_timed(di_queue *q, double seconds, bool *closed)
{
    struct timespec until;
    di_deadline(CLOCK_MONOTONIC, seconds, &until);
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed && seconds > 0)
        if (pthread_cond_timedwait(&q->not_empty, &q->lock, &until) != 0)
            break; /* timed out */
    void *item = q->count ? take_locked(q) : NULL;
    *closed = !item && q->closed;
    pthread_mutex_unlock(&q->lock);
    return item;
}

void *di_queue_try_pop(di_queue *q)
{
    pthread_mutex_lock(&q->lock);
    void *item = q->count ? take_locked(q) : NULL;
    pthread_mutex_unlock(&q->lock);
    return item;
}

void di_queue_close(di_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t di_queue_length(di_queue *q)
{
    pthread_mutex_lock(&q->lock);
    size_t n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

size_t di_queue_capacity(const di_queue *q)
{
    return q->capacity;
}
