/* waker.c - waking a loop from another thread: a loop source on an eventfd (hosted). */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/loop.h>

/* One cache line each: every loop turn reads pending, and the wakers of a shard group are made
 * together by one thread, next to each other (weir_shard_group_create). */
struct weir_loop_waker {
	WEIR_CACHE_ALIGNED int fd;
	atomic_int pending;	/* woken since the last poll: set before the fd is written */
	struct weir_loop *loop; /* NULL while detached */
	struct weir_loop_source *src;
	int (*poll)(void *arg);
	void *arg;
};

/* The loop polls every source every turn: without a wake this costs an atomic load, not a read of
 * the eventfd nor the user's poll. The fd is edge-triggered, so a write the poll did not drain (a
 * wake between the flag and the read) wakes the loop once, not for ever; and the flag is set
 * before the write (after whatever the waker published), so a wake is never missed: its flag is
 * seen by this poll or by the one its write wakes. */
static int waker_poll(void *arg)
{
	struct weir_loop_waker *w = arg;
	uint64_t n;

	/* A load first: an exchange on every turn would take the line for writing each time. */
	if (!atomic_load_explicit(&w->pending, memory_order_relaxed) ||
	    !atomic_exchange(&w->pending, 0))
		return 0;
	if (read(w->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		n = 0; /* drained by an earlier poll */
	return w->poll(w->arg) + 1;
}

static const struct weir_loop_source_ops waker_ops = { .poll = waker_poll };

int weir_loop_waker_create(struct weir_loop_waker **out)
{
	struct weir_loop_waker *w;

	WEIR_EINVAL_IF(out == NULL);
	w = weir__zalloc_lines(1, sizeof(*w));
	if (w == NULL)
		return WEIR_ENOMEM;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0) {
		free(w);
		return WEIR_EIO;
	}
	*out = w;
	return 0;
}

int weir_loop_waker_attach(struct weir_loop_waker *w, struct weir_loop *loop,
			   int (*poll)(void *arg), void *arg)
{
	WEIR_EINVAL_IF(w == NULL || loop == NULL || poll == NULL || w->loop != NULL);
	w->poll = poll;
	w->arg = arg;
	if (weir_loop_add(loop, &waker_ops, w, w->fd, WEIR_LOOP_SOURCE_EDGE, &w->src) < 0)
		return WEIR_ENOMEM;
	w->loop = loop;
	return 0;
}

void weir_loop_waker_detach(struct weir_loop_waker *w)
{
	if (w == NULL || w->loop == NULL)
		return;
	weir_loop_remove(w->loop, w->src);
	w->loop = NULL;
	w->src = NULL;
}

void weir_loop_waker_wake(struct weir_loop_waker *w)
{
	uint64_t one = 1;

	if (w == NULL)
		return;
	atomic_store(&w->pending, 1);
	/* A full counter (2^64 - 2 unseen wakes) wakes the loop already: nothing is lost. */
	if (write(w->fd, &one, sizeof(one)) < 0)
		return;
}

void weir_loop_waker_destroy(struct weir_loop_waker *w)
{
	if (w == NULL)
		return;
	weir_loop_waker_detach(w);
	close(w->fd);
	free(w);
}
