/* loop.c - the bare-metal event loop: poll every source, sleep in the board's idle (WFI) until
 * the earliest deadline or an interrupt when all are idle. No heap: one loop, a fixed number of
 * sources (CONFIG_WEIR_BAREMETAL_LOOP_SOURCES). */
#include <stddef.h>

#include <weir/board.h>
#include <weir/clock.h>
#include <weir/config.h>
#include <weir/error.h>
#include <weir/loop.h>

#ifndef CONFIG_WEIR_BAREMETAL_LOOP_SOURCES
#define CONFIG_WEIR_BAREMETAL_LOOP_SOURCES 8
#endif

struct weir_loop_source {
	const struct weir_loop_source_ops *ops;
	void *arg;
	unsigned flags;
	int used;
};

struct weir_loop {
	int used;
	struct weir_loop_source srcs[CONFIG_WEIR_BAREMETAL_LOOP_SOURCES];
	unsigned busy_sources; /* sources that forbid sleeping */
	volatile int stop;
	struct weir_loop_stats stats;
};

static struct weir_loop the_loop;
/* Set by interrupt handlers (weir_baremetal_wake), cleared when the loop starts a turn. */
static volatile int wake_pending;

void weir_baremetal_wake(void)
{
	wake_pending = 1;
}

int weir_baremetal_wake_pending(void)
{
	return wake_pending;
}

int weir_loop_create(struct weir_loop **out)
{
	WEIR_EINVAL_IF(out == NULL);
	if (the_loop.used)
		return WEIR_ENOMEM; /* one loop on a board */
	the_loop = (struct weir_loop){ .used = 1 };
	*out = &the_loop;
	return 0;
}

void weir_loop_destroy(struct weir_loop *loop)
{
	if (loop != NULL)
		loop->used = 0;
}

int weir_loop_add(struct weir_loop *loop, const struct weir_loop_source_ops *ops, void *arg, int fd,
		  unsigned flags, struct weir_loop_source **out)
{
	/* No file descriptors without an OS: a source is woken by an interrupt or its deadline. */
	WEIR_EINVAL_IF(loop == NULL || ops == NULL || ops->poll == NULL || out == NULL || fd >= 0 ||
		       (flags & ~(unsigned)WEIR_LOOP_SOURCE_MAY_SLEEP) != 0);
	for (unsigned i = 0; i < CONFIG_WEIR_BAREMETAL_LOOP_SOURCES; i++) {
		struct weir_loop_source *s = &loop->srcs[i];

		if (s->used)
			continue;
		*s = (struct weir_loop_source){ .ops = ops, .arg = arg, .flags = flags, .used = 1 };
		if (!(flags & WEIR_LOOP_SOURCE_MAY_SLEEP))
			loop->busy_sources++;
		*out = s;
		return 0;
	}
	return WEIR_ENOMEM;
}

void weir_loop_remove(struct weir_loop *loop, struct weir_loop_source *src)
{
	if (loop == NULL || src == NULL || !src->used)
		return;
	if (!(src->flags & WEIR_LOOP_SOURCE_MAY_SLEEP))
		loop->busy_sources--;
	src->used = 0;
}

int weir_loop_source_forget_fd(struct weir_loop *loop, struct weir_loop_source *src)
{
	WEIR_EINVAL_IF(loop == NULL || src == NULL);
	return 0; /* there are none */
}

int weir_loop_run_once(struct weir_loop *loop, uint64_t max_wait_ns)
{
	uint64_t deadline = WEIR_DEADLINE_NEVER, now;
	int work = 0;

	WEIR_EINVAL_IF(loop == NULL);
	loop->stats.turns++;
	/* Before polling: an interrupt from here on makes the idle below return at once. */
	wake_pending = 0;
	for (unsigned i = 0; i < CONFIG_WEIR_BAREMETAL_LOOP_SOURCES; i++) {
		struct weir_loop_source *s = &loop->srcs[i];

		if (s->used) {
			int n = s->ops->poll(s->arg);

			if (n > 0)
				work += n;
		}
	}
	if (work > 0 || max_wait_ns == 0 || loop->busy_sources > 0 || loop->stop)
		return work;
	for (unsigned i = 0; i < CONFIG_WEIR_BAREMETAL_LOOP_SOURCES; i++) {
		const struct weir_loop_source *s = &loop->srcs[i];

		if (s->used && s->ops->next_deadline_ns != NULL) {
			uint64_t d = s->ops->next_deadline_ns(s->arg);

			if (d < deadline)
				deadline = d;
		}
	}
	now = weir_clock_now_ns();
	if (max_wait_ns != WEIR_DEADLINE_NEVER && now + max_wait_ns < deadline)
		deadline = now + max_wait_ns;
	if (deadline > now) {
		weir_board_idle(deadline);
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
