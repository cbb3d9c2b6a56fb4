/* waker.c - waking a loop from another thread: a loop source on an eventfd (hosted). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <weir/error.h>
#include <weir/loop.h>

struct weir_loop_waker {
	int fd;
	struct weir_loop *loop; /* NULL while detached */
	struct weir_loop_source *src;
	int (*poll)(void *arg);
	void *arg;
};

static int waker_poll(void *arg)
{
	struct weir_loop_waker *w = arg;
	uint64_t n;

	/* Reset the count first: a wake that comes while poll() runs wakes the loop again. */
	if (read(w->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		n = 0;
	return w->poll(w->arg) + (n != 0);
}

static const struct weir_loop_source_ops waker_ops = { .poll = waker_poll };

int weir_loop_waker_create(struct weir_loop_waker **out)
{
	struct weir_loop_waker *w;

	WEIR_EINVAL_IF(out == NULL);
	w = calloc(1, sizeof(*w));
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
	if (weir_loop_add(loop, &waker_ops, w, w->fd, 0, &w->src) < 0)
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

	/* A full counter (2^64 - 2 unseen wakes) wakes the loop already: nothing is lost. */
	if (w != NULL && write(w->fd, &one, sizeof(one)) < 0)
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
