/* loop_epoll.c - the hosted event loop: poll every source, sleep in epoll when all are idle. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "loop"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/loop.h>

struct weir_loop_source {
	const struct weir_loop_source_ops *ops;
	void *arg;
	int fd;
	unsigned flags;
};

/* epoll_wait counts in milliseconds; a poll-mode device that may sleep when idle asks for less
 * (DPDK's idle_sleep_us). epoll_pwait2 (glibc 2.35, Linux 5.11) takes nanoseconds; without it a
 * sub-millisecond wait becomes 1 ms. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define HAVE_EPOLL_PWAIT2 1
#else
#define HAVE_EPOLL_PWAIT2 0
#endif

struct weir_loop {
	int epfd;
	int no_pwait2; /* the kernel lacks epoll_pwait2 (ENOSYS) */
	struct weir_loop_source **srcs;
	unsigned nsrcs, cap;
	unsigned busy_sources; /* sources that forbid sleeping */
	volatile sig_atomic_t stop;
	struct weir_loop_stats stats;
};

int weir_loop_create(struct weir_loop **out)
{
	struct weir_loop *loop;

	WEIR_EINVAL_IF(out == NULL);
	loop = calloc(1, sizeof(*loop));
	if (loop == NULL)
		return WEIR_ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return WEIR_EIO;
	}
	*out = loop;
	return 0;
}

void weir_loop_destroy(struct weir_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->nsrcs != 0)
		weir_log_warn("destroying a loop with %u sources still attached", loop->nsrcs);
	for (unsigned i = 0; i < loop->nsrcs; i++)
		free(loop->srcs[i]);
	free(loop->srcs);
	close(loop->epfd);
	free(loop);
}

int weir_loop_add(struct weir_loop *loop, const struct weir_loop_source_ops *ops, void *arg, int fd,
		  unsigned flags, struct weir_loop_source **out)
{
	struct weir_loop_source *src;

	if (loop == NULL || ops == NULL || ops->poll == NULL || out == NULL ||
	    (flags & ~(unsigned)(WEIR_LOOP_SOURCE_MAY_SLEEP | WEIR_LOOP_SOURCE_EDGE)) != 0 ||
	    ((flags & WEIR_LOOP_SOURCE_EDGE) && fd < 0))
		return WEIR_EINVAL;
	if (loop->nsrcs == loop->cap) {
		unsigned cap = loop->cap ? loop->cap * 2 : 8;
		struct weir_loop_source **n = realloc(loop->srcs, cap * sizeof(*n));

		if (n == NULL)
			return WEIR_ENOMEM;
		loop->srcs = n;
		loop->cap = cap;
	}
	src = calloc(1, sizeof(*src));
	if (src == NULL)
		return WEIR_ENOMEM;
	src->ops = ops;
	src->arg = arg;
	src->fd = fd;
	src->flags = flags;
	if (fd >= 0) {
		struct epoll_event ev = {
			.events = EPOLLIN | ((flags & WEIR_LOOP_SOURCE_EDGE) ? EPOLLET : 0u),
			.data.ptr = src,
		};

		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = errno;

			free(src);
			return e == EBADF || e == EPERM || e == EEXIST ? WEIR_EINVAL : WEIR_EIO;
		}
	} else if (!(flags & WEIR_LOOP_SOURCE_MAY_SLEEP)) {
		loop->busy_sources++;
	}
	loop->srcs[loop->nsrcs++] = src;
	*out = src;
	return 0;
}

void weir_loop_remove(struct weir_loop *loop, struct weir_loop_source *src)
{
	if (loop == NULL || src == NULL)
		return;
	for (unsigned i = 0; i < loop->nsrcs; i++) {
		if (loop->srcs[i] != src)
			continue;
		if (src->fd >= 0)
			epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
		else if (!(src->flags & WEIR_LOOP_SOURCE_MAY_SLEEP))
			loop->busy_sources--;
		loop->srcs[i] = loop->srcs[--loop->nsrcs];
		free(src);
		return;
	}
	weir_log_warn("removing a source that is not attached");
}

int weir_loop_source_forget_fd(struct weir_loop *loop, struct weir_loop_source *src)
{
	WEIR_EINVAL_IF(loop == NULL || src == NULL);
	if (src->fd >= 0) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, src->fd, NULL);
		src->fd = -1;
		src->flags |= WEIR_LOOP_SOURCE_MAY_SLEEP;
	}
	return 0;
}

int weir_loop_run_once(struct weir_loop *loop, uint64_t max_wait_ns)
{
	uint64_t deadline = WEIR_DEADLINE_NEVER, now;
	int work = 0;

	WEIR_EINVAL_IF(loop == NULL);
	loop->stats.turns++;
	for (unsigned i = 0; i < loop->nsrcs; i++) {
		int n = loop->srcs[i]->ops->poll(loop->srcs[i]->arg);

		if (n > 0)
			work += n;
	}
	if (work > 0 || max_wait_ns == 0 || loop->busy_sources > 0 || loop->stop)
		return work;

	for (unsigned i = 0; i < loop->nsrcs; i++) {
		const struct weir_loop_source *s = loop->srcs[i];

		if (s->ops->next_deadline_ns != NULL) {
			uint64_t d = s->ops->next_deadline_ns(s->arg);

			if (d < deadline)
				deadline = d;
		}
	}
	now = weir_clock_now_ns();
	if (deadline != WEIR_DEADLINE_NEVER) {
		uint64_t until = deadline > now ? deadline - now : 0;

		if (until < max_wait_ns)
			max_wait_ns = until;
	}
	if (max_wait_ns > 0) {
		/* Round up: waking a little late is harmless, waking early spins. */
		uint64_t ms64 = (max_wait_ns + WEIR_NS_PER_MS - 1) / WEIR_NS_PER_MS;
		int ms = ms64 > 60000 ? 60000 : (int)ms64;
		struct epoll_event evs[16];
		int n;

		if (max_wait_ns == WEIR_DEADLINE_NEVER)
			ms = -1;
		n = -2;
#if HAVE_EPOLL_PWAIT2
		if (max_wait_ns < WEIR_NS_PER_MS && !loop->no_pwait2) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)max_wait_ns };

			n = epoll_pwait2(loop->epfd, evs, (int)WEIR_ARRAY_SIZE(evs), &ts, NULL);
			if (n < 0 && errno == ENOSYS) {
				loop->no_pwait2 = 1;
				n = -2;
			}
		}
#endif
		if (n == -2)
			n = epoll_wait(loop->epfd, evs, (int)WEIR_ARRAY_SIZE(evs), ms);
		if (n < 0 && errno != EINTR)
			return WEIR_EIO;
		loop->stats.sleeps++;
		loop->stats.slept_ns += weir_clock_now_ns() - now;
	}
	return 0;
}

int weir_loop_run(struct weir_loop *loop)
{
	WEIR_EINVAL_IF(loop == NULL);
	while (!loop->stop) {
		int rc = weir_loop_run_once(loop, WEIR_DEADLINE_NEVER);

		if (rc < 0)
			return rc;
	}
	loop->stop = 0;
	return 0;
}

void weir_loop_stop(struct weir_loop *loop)
{
	if (loop != NULL)
		loop->stop = 1;
}

void weir_loop_get_stats(const struct weir_loop *loop, struct weir_loop_stats *out)
{
	if (loop != NULL && out != NULL)
		*out = loop->stats;
}
