/* loop.h - the event loop: one per thread that runs a stack (a shard), it runs every event source
 * until stopped.
 *
 * A source is anything that needs the CPU: a netdev's receive path, lwIP's timers, a signal fd.
 * Each turn the loop calls every source's poll(); when no source did any work it sleeps until the
 * earliest deadline any source reports, or until one of the sources' file descriptors becomes
 * readable (interrupt mode, e.g. TAP). A source without a file descriptor (poll mode, e.g. DPDK)
 * keeps the loop busy-polling, unless it is marked WEIR_LOOP_SOURCE_MAY_SLEEP.
 *
 * Not thread-safe: a loop and its sources belong to one thread. weir_loop_stop() alone may be
 * called from a signal handler, and weir_loop_waker_wake() from any thread (hosted).
 */
#ifndef WEIR_LOOP_H
#define WEIR_LOOP_H

#include <stdint.h>

struct weir_loop;

struct weir_loop_source_ops {
	/* Required. Does pending work without blocking; returns how many units of work it did
	 * (frames, timers, ...), 0 when it found nothing to do. */
	int (*poll)(void *arg);
	/* Optional. Absolute weir_clock_now_ns() time at which poll() must run again even if the
	 * fd stays quiet, or WEIR_DEADLINE_NEVER. */
	uint64_t (*next_deadline_ns)(void *arg);
};

enum weir_loop_source_flags {
	/* The source has no fd but does not need busy polling: the loop may sleep (bounded by the
	 * deadline) even though it cannot be woken by the source. */
	WEIR_LOOP_SOURCE_MAY_SLEEP = 1 << 0,
	/* Hosted: wake the loop when the fd becomes readable, not for as long as it is (epoll's
	 * edge trigger): for a source that does not read its fd every turn (a waker). */
	WEIR_LOOP_SOURCE_EDGE = 1 << 1,
};

struct weir_loop_source;

/* Creates a loop. Returns 0 and sets *out, or WEIR_EINVAL / WEIR_ENOMEM / WEIR_EIO. */
int weir_loop_create(struct weir_loop **out);
/* Destroys a loop; its sources must have been removed. NULL is ignored. */
void weir_loop_destroy(struct weir_loop *loop);

/* Adds a source. fd >= 0 is a file descriptor that becomes readable when poll() has work; fd < 0
 * makes it a poll-mode source. ops and arg must outlive the source. Returns 0 and sets *out, or
 * WEIR_EINVAL (NULL loop/ops/poll, bad fd) / WEIR_ENOMEM / WEIR_EIO. */
int weir_loop_add(struct weir_loop *loop, const struct weir_loop_source_ops *ops, void *arg, int fd,
		  unsigned flags, struct weir_loop_source **out);
/* Removes and frees a source. NULL is ignored. */
void weir_loop_remove(struct weir_loop *loop, struct weir_loop_source *src);

/* Stops waking the loop on the source's fd (e.g. a device whose peer hung up: its fd would stay
 * readable forever); the source is polled on its deadline from then on. Returns 0 or WEIR_EINVAL.
 */
int weir_loop_source_forget_fd(struct weir_loop *loop, struct weir_loop_source *src);

/* Runs one turn: polls every source once and, if none did work, sleeps at most max_wait_ns
 * (0 = never sleep) or until the earliest deadline or fd event. Returns the work done (>= 0) or
 * WEIR_EINVAL / WEIR_EIO. */
int weir_loop_run_once(struct weir_loop *loop, uint64_t max_wait_ns);
/* Runs turns until weir_loop_stop(). Returns 0, or a negative code if a turn failed. */
int weir_loop_run(struct weir_loop *loop);
/* Makes weir_loop_run() return after the current turn. Async-signal-safe. */
void weir_loop_stop(struct weir_loop *loop);

/* Waking a loop from another thread (hosted only). A waker may be woken from any thread (or a
 * signal handler) at any time while it exists; while attached to a loop, its poll(arg) runs in
 * that loop's thread soon after a wake, and only then (wakes not yet seen merge into one; what
 * the waking thread wrote before the wake is visible to poll). Create and destroy anywhere (nobody
 * may wake it after destroy); attach and detach in the loop's thread, detach before the loop goes.
 * create returns 0 and sets *out, or WEIR_EINVAL / WEIR_ENOMEM / WEIR_EIO; attach returns 0,
 * WEIR_EINVAL (attached already) or WEIR_ENOMEM. NULL is ignored by the others. */
struct weir_loop_waker;
int weir_loop_waker_create(struct weir_loop_waker **out);
int weir_loop_waker_attach(struct weir_loop_waker *w, struct weir_loop *loop,
			   int (*poll)(void *arg), void *arg);
void weir_loop_waker_wake(struct weir_loop_waker *w);
void weir_loop_waker_detach(struct weir_loop_waker *w);
void weir_loop_waker_destroy(struct weir_loop_waker *w);

/* Counters for tests and stats: turns run, sleeps taken, total ns slept. */
struct weir_loop_stats {
	uint64_t turns;
	uint64_t sleeps;
	uint64_t slept_ns;
};
void weir_loop_get_stats(const struct weir_loop *loop, struct weir_loop_stats *out);

#endif /* WEIR_LOOP_H */
