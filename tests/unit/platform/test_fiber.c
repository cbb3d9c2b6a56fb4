/* test_fiber.c - fibers: scheduling, events, deadlines, cancellation, scopes and stacks. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/loop.h>

#include "weir_tests.h"

static struct weir_loop *loop;

static void start(void)
{
	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_fibers_init(loop), 0);
}

/* Every test ends here: the scheduler stops, and nothing it owned is left. */
static void finish(void)
{
	struct weir_fiber_stats st;

	weir_fibers_fini();
	weir_fiber_get_stats(&st);
	ck_assert_uint_eq(st.live, 0);
	ck_assert_uint_eq(st.ready, 0);
	ck_assert_uint_eq(st.scopes, 0);
	ck_assert_uint_eq(st.spawned, st.finished);
	weir_loop_destroy(loop);
	loop = NULL;
}

static struct weir_fiber_stats stats(void)
{
	struct weir_fiber_stats st;

	weir_fiber_get_stats(&st);
	return st;
}

/* Runs loop turns (never sleeping) until every spawned fiber finished. */
static void run_until_all_finished(void)
{
	for (int i = 0; stats().finished != stats().spawned; i++) {
		ck_assert_int_lt(i, 1000000);
		ck_assert_int_ge(weir_loop_run_once(loop, 5 * WEIR_NS_PER_MS), 0);
	}
}

static void spawn(weir_fiber_fn fn, void *arg, struct weir_fiber **out)
{
	ck_assert_int_eq(weir_fiber_spawn(NULL, fn, arg, NULL, out), 0);
}

/* --- small fiber bodies ----------------------------------------------------------------------- */

static void count_fn(void *arg)
{
	(*(int *)arg)++;
}

struct waiter {
	struct weir_event *ev;
	uint64_t deadline;
	int rc;	  /* what the wait returned */
	int woke; /* 1 once the wait returned */
	int *order, *norder, idx;
};

static void wait_fn(void *arg)
{
	struct waiter *w = arg;

	w->rc = weir_event_wait(w->ev, w->deadline);
	w->woke = 1;
	if (w->order != NULL)
		w->order[(*w->norder)++] = w->idx;
}

static void sleep_forever_fn(void *arg)
{
	int *rc = arg;

	*rc = weir_fiber_sleep_until(WEIR_DEADLINE_NEVER);
}

/* --- scheduling ------------------------------------------------------------------------------- */

START_TEST(test_init_rejects_null_and_second_start)
{
	ck_assert_int_eq(weir_fibers_init(NULL), WEIR_EINVAL);
	start();
	ck_assert_int_eq(weir_fibers_init(loop), WEIR_EBUSY);
	ck_assert_uint_eq(stats().scopes, 1);
	finish();
}
END_TEST

START_TEST(test_spawn_runs_on_loop_turn)
{
	struct weir_fiber *f;
	int n = 0;

	start();
	spawn(count_fn, &n, &f);
	ck_assert_int_eq(n, 0); /* ready, not run */
	ck_assert_uint_eq(stats().ready, 1);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(n, 1);
	ck_assert_uint_eq(stats().finished, 1);
	ck_assert_uint_eq(stats().live, 1); /* record kept until joined */
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

struct spawner {
	int spawned_done; /* set by the spawner right after weir_fiber_spawn() */
	int seen;	  /* what the child saw */
};

static void spawned_child_fn(void *arg)
{
	struct spawner *s = arg;

	s->seen = s->spawned_done;
}

static void spawner_fn(void *arg)
{
	struct spawner *s = arg;

	ck_assert_int_eq(weir_fiber_spawn(NULL, spawned_child_fn, s, NULL, NULL), 0);
	s->spawned_done = 1;
}

START_TEST(test_spawned_fiber_waits_for_spawner_to_block)
{
	struct spawner s = { 0 };

	start();
	spawn(spawner_fn, &s, NULL);
	run_until_all_finished();
	ck_assert_int_eq(s.seen, 1);
	finish();
}
END_TEST

static char trace[64];
static size_t ntrace;

static void yield_letter_fn(void *arg)
{
	for (int i = 0; i < 3; i++) {
		trace[ntrace++] = *(const char *)arg;
		ck_assert_int_eq(weir_fiber_yield(), 0);
	}
}

START_TEST(test_yield_interleaves_fibers)
{
	struct weir_fiber *a, *b;

	start();
	spawn(yield_letter_fn, "A", &a);
	spawn(yield_letter_fn, "B", &b);
	ck_assert_int_eq(weir_fiber_join(a), 0);
	ck_assert_int_eq(weir_fiber_join(b), 0);
	trace[ntrace] = '\0';
	ck_assert_str_eq(trace, "ABABAB");
	finish();
}
END_TEST

struct sleeper {
	uint64_t ns;
	uint64_t t0, t1;
	int rc;
};

static void sleep_fn(void *arg)
{
	struct sleeper *s = arg;

	s->t0 = weir_clock_now_ns();
	s->rc = weir_fiber_sleep_ns(s->ns);
	s->t1 = weir_clock_now_ns();
}

START_TEST(test_sleep_wakes_after_deadline)
{
	struct sleeper s = { .ns = 30 * WEIR_NS_PER_MS };
	struct weir_loop_stats ls;
	struct weir_fiber *f;

	start();
	spawn(sleep_fn, &s, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_uint_ge(s.t1 - s.t0, 30 * WEIR_NS_PER_MS);
	ck_assert_uint_lt(s.t1 - s.t0, 1 * WEIR_NS_PER_S);
	/* The loop slept until the deadline instead of spinning. */
	weir_loop_get_stats(loop, &ls);
	ck_assert_uint_ge(ls.sleeps, 1);
	ck_assert_uint_lt(ls.turns, 20);
	finish();
}
END_TEST

static int wake_order[256], nwake;

struct timed {
	uint64_t deadline;
	int idx, rc;
	uint64_t woke_at;
};

static void sleep_until_fn(void *arg)
{
	struct timed *t = arg;

	t->rc = weir_fiber_sleep_until(t->deadline);
	t->woke_at = weir_clock_now_ns();
	if (t->rc == 0)
		wake_order[nwake++] = t->idx;
}

START_TEST(test_sleepers_wake_in_deadline_order)
{
	enum { N = 200 };
	static struct timed t[N];
	struct weir_fiber *f[N];
	uint64_t base;

	start();
	/* Far enough out that spawning and the first turn finish first, even under ASan. */
	base = weir_clock_now_ns() + 200 * WEIR_NS_PER_MS;
	for (int i = 0; i < N; i++) {
		/* Distinct deadlines 0..20 ms after base, in scrambled spawn order. */
		t[i] = (struct timed){ .deadline = base + (uint64_t)((i * 7919) % N) * 100000,
				       .idx = i };
		spawn(sleep_until_fn, &t[i], &f[i]);
	}
	ck_assert_int_eq(weir_loop_run_once(loop, 0), N); /* all asleep now */
	for (int i = 0; i < N; i += 5)
		ck_assert_int_eq(weir_fiber_cancel(f[i]), 0); /* out of the middle of the heap */
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(weir_fiber_join(f[i]), 0);
	ck_assert_int_eq(nwake, N - N / 5);
	for (int i = 0; i < N; i++) {
		if (i % 5 == 0) {
			ck_assert_int_eq(t[i].rc, WEIR_ECANCELED);
			continue;
		}
		ck_assert_int_eq(t[i].rc, 0);
		ck_assert_uint_ge(t[i].woke_at, t[i].deadline);
	}
	for (int i = 1; i < nwake; i++)
		ck_assert_uint_lt(t[wake_order[i - 1]].deadline, t[wake_order[i]].deadline);
	finish();
}
END_TEST

static void yield_100_fn(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(weir_fiber_yield(), 0);
}

START_TEST(test_loop_does_not_sleep_while_fibers_ready)
{
	struct weir_loop_stats ls;
	uint64_t t0 = weir_clock_now_ns();

	start();
	spawn(yield_100_fn, NULL, NULL);
	while (stats().finished == 0)
		ck_assert_int_gt(weir_loop_run_once(loop, 1 * WEIR_NS_PER_S), 0);
	weir_loop_get_stats(loop, &ls);
	ck_assert_uint_eq(ls.sleeps, 0);
	ck_assert_uint_lt(weir_clock_now_ns() - t0, 1 * WEIR_NS_PER_S);
	finish();
}
END_TEST

/* --- events ----------------------------------------------------------------------------------- */

START_TEST(test_event_wait_times_out)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev };
	struct weir_fiber *f;
	uint64_t t0;

	start();
	weir_event_init(&ev);
	t0 = weir_clock_now_ns();
	w.deadline = t0 + 20 * WEIR_NS_PER_MS;
	spawn(wait_fn, &w, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(w.rc, WEIR_ETIMEDOUT);
	ck_assert_uint_ge(weir_clock_now_ns(), w.deadline);
	ck_assert_uint_lt(weir_clock_now_ns() - t0, 1 * WEIR_NS_PER_S);
	ck_assert(!weir_event_has_waiters(&ev));
	finish();
}
END_TEST

START_TEST(test_event_wait_past_deadline_does_not_block)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = 0 };

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, NULL);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	/* One resume, no second: the wait returned without switching. */
	ck_assert_uint_eq(stats().switches, 1);
	ck_assert_int_eq(w.woke, 1);
	ck_assert_int_eq(w.rc, WEIR_ETIMEDOUT);
	finish();
}
END_TEST

START_TEST(test_event_signal_wakes_one_fifo)
{
	struct weir_event ev;
	struct waiter w[3];
	int order[3], norder = 0;

	start();
	weir_event_init(&ev);
	for (int i = 0; i < 3; i++) {
		w[i] = (struct waiter){ .ev = &ev,
					.deadline = WEIR_DEADLINE_NEVER,
					.order = order,
					.norder = &norder,
					.idx = i };
		spawn(wait_fn, &w[i], NULL);
	}
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 3);
	ck_assert(weir_event_has_waiters(&ev));
	weir_event_signal(&ev);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(norder, 1);
	weir_event_signal(&ev);
	weir_event_signal(&ev);
	ck_assert(!weir_event_has_waiters(&ev));
	weir_event_signal(&ev); /* nobody waits: a no-op, not remembered */
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 2);
	ck_assert_int_eq(norder, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(order[i], i);
		ck_assert_int_eq(w[i].rc, 0);
	}
	finish();
}
END_TEST

START_TEST(test_event_broadcast_wakes_all)
{
	struct weir_event ev;
	struct waiter w[4];

	start();
	weir_event_init(&ev);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){ .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
		spawn(wait_fn, &w[i], NULL);
	}
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 4);
	weir_event_broadcast(&ev);
	ck_assert(!weir_event_has_waiters(&ev));
	ck_assert_uint_eq(stats().ready, 4);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(w[i].woke, 1);
		ck_assert_int_eq(w[i].rc, 0);
	}
	finish();
}
END_TEST

START_TEST(test_signal_from_main_context_does_not_switch)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	uint64_t switches;

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, NULL);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	switches = stats().switches;
	weir_event_signal(&ev);
	ck_assert_int_eq(w.woke, 0);
	ck_assert_uint_eq(stats().switches, switches);
	ck_assert_uint_eq(stats().ready, 1);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(w.woke, 1);
	finish();
}
END_TEST

struct signaller {
	struct weir_event *ev;
	struct waiter *w;
	int woke_when_signalled; /* the waiter's state right after the signal */
};

static void signal_fn(void *arg)
{
	struct signaller *s = arg;

	weir_event_signal(s->ev);
	s->woke_when_signalled = s->w->woke;
}

START_TEST(test_signal_from_fiber_does_not_switch)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct signaller s = { .ev = &ev, .w = &w, .woke_when_signalled = -1 };

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, NULL);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	spawn(signal_fn, &s, NULL);
	run_until_all_finished();
	ck_assert_int_eq(s.woke_when_signalled, 0);
	ck_assert_int_eq(w.woke, 1);
	ck_assert_int_eq(w.rc, 0);
	finish();
}
END_TEST

START_TEST(test_timed_out_waiter_leaves_event)
{
	struct weir_event *ev = malloc(sizeof(*ev));
	struct waiter a, b;
	struct weir_fiber *fa, *fb;

	start();
	weir_event_init(ev);
	a = (struct waiter){ .ev = ev, .deadline = weir_clock_now_ns() + 10 * WEIR_NS_PER_MS };
	b = (struct waiter){ .ev = ev, .deadline = WEIR_DEADLINE_NEVER };
	spawn(wait_fn, &a, &fa);
	spawn(wait_fn, &b, &fb);
	ck_assert_int_eq(weir_fiber_join(fa), 0);
	ck_assert_int_eq(a.rc, WEIR_ETIMEDOUT);
	/* Only b is left on the list, and the list is intact. */
	ck_assert(weir_event_has_waiters(ev));
	weir_event_signal(ev);
	ck_assert(!weir_event_has_waiters(ev));
	ck_assert_int_eq(weir_fiber_join(fb), 0);
	ck_assert_int_eq(b.rc, 0);
	free(ev); /* no fiber refers to it any more (ASan checks) */
	finish();
}
END_TEST

/* --- cancellation ----------------------------------------------------------------------------- */

START_TEST(test_cancel_wakes_waiter_with_ecanceled)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct weir_fiber *f;

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, &f);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert(!weir_event_has_waiters(&ev));   /* off the list at once */
	ck_assert_int_eq(weir_fiber_cancel(f), 0); /* idempotent */
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(w.rc, WEIR_ECANCELED);
	finish();
}
END_TEST

START_TEST(test_cancel_wakes_sleeper)
{
	struct sleeper s = { .ns = 60 * WEIR_NS_PER_S };
	struct weir_fiber *f;

	start();
	spawn(sleep_fn, &s, &f);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(s.rc, WEIR_ECANCELED);
	ck_assert_uint_lt(s.t1 - s.t0, 1 * WEIR_NS_PER_S);
	finish();
}
END_TEST

struct after_cancel {
	struct weir_event ev;
	int first, wait, sleep, yield, cancelled;
	uint64_t switches_before, switches_after, elapsed;
};

static void after_cancel_fn(void *arg)
{
	struct after_cancel *c = arg;
	uint64_t t0;

	c->first = weir_event_wait(&c->ev, WEIR_DEADLINE_NEVER);
	t0 = weir_clock_now_ns();
	c->switches_before = stats().switches;
	c->wait = weir_event_wait(&c->ev, weir_clock_now_ns() + 10 * WEIR_NS_PER_S);
	c->sleep = weir_fiber_sleep_ns(10 * WEIR_NS_PER_S);
	c->yield = weir_fiber_yield();
	c->switches_after = stats().switches;
	c->elapsed = weir_clock_now_ns() - t0;
	c->cancelled = weir_fiber_cancelled();
}

START_TEST(test_cancelled_fiber_later_waits_fail_fast)
{
	struct after_cancel c = { 0 };
	struct weir_fiber *f;

	start();
	weir_event_init(&c.ev);
	spawn(after_cancel_fn, &c, &f);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(c.first, WEIR_ECANCELED);
	ck_assert_int_eq(c.wait, WEIR_ECANCELED);
	ck_assert_int_eq(c.sleep, WEIR_ECANCELED);
	ck_assert_int_eq(c.yield, WEIR_ECANCELED);
	ck_assert_int_eq(c.cancelled, 1);
	ck_assert_uint_eq(c.switches_after, c.switches_before); /* none of them blocked */
	ck_assert_uint_lt(c.elapsed, 100 * WEIR_NS_PER_MS);
	finish();
}
END_TEST

START_TEST(test_cancel_before_first_run_still_runs_fn)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct weir_fiber *f;

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, &f);
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(w.woke, 1); /* fn ran, so it could release what arg owns */
	ck_assert_int_eq(w.rc, WEIR_ECANCELED);
	finish();
}
END_TEST

START_TEST(test_cancel_finished_fiber_is_ignored)
{
	struct weir_fiber *f;
	int n = 0;

	start();
	spawn(count_fn, &n, &f);
	run_until_all_finished();
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(weir_fiber_cancel(NULL), WEIR_EINVAL);
	ck_assert_int_eq(n, 1);
	finish();
}
END_TEST

/* --- join ------------------------------------------------------------------------------------- */

START_TEST(test_join_from_main_context_drives_loop)
{
	struct sleeper s = { .ns = 20 * WEIR_NS_PER_MS };
	struct weir_loop_stats ls;
	struct weir_fiber *f;

	start();
	spawn(sleep_fn, &s, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0); /* nobody else runs the loop */
	ck_assert_uint_ge(s.t1 - s.t0, 20 * WEIR_NS_PER_MS);
	weir_loop_get_stats(loop, &ls);
	ck_assert_uint_ge(ls.turns, 2);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

struct joiner {
	struct sleeper child;
	int rc;
	uint64_t joined_at;
};

static void joiner_fn(void *arg)
{
	struct joiner *j = arg;
	struct weir_fiber *child;

	ck_assert_int_eq(weir_fiber_spawn(NULL, sleep_fn, &j->child, NULL, &child), 0);
	j->rc = weir_fiber_join(child);
	j->joined_at = weir_clock_now_ns();
}

START_TEST(test_join_from_fiber)
{
	struct joiner j = { .child = { .ns = 10 * WEIR_NS_PER_MS }, .rc = -1 };
	struct weir_fiber *f;

	start();
	spawn(joiner_fn, &j, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(j.rc, 0);
	ck_assert_int_eq(j.child.rc, 0);
	ck_assert_uint_ge(j.joined_at, j.child.t1);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

struct bad_join {
	struct weir_fiber *target;
	int self_rc, null_rc, second_rc;
};

static void bad_join_fn(void *arg)
{
	struct bad_join *b = arg;

	b->self_rc = weir_fiber_join(weir_fiber_self());
	b->null_rc = weir_fiber_join(NULL);
}

START_TEST(test_join_rejects_self_and_null)
{
	struct bad_join b = { 0 };
	struct weir_fiber *f;

	start();
	ck_assert_int_eq(weir_fiber_join(NULL), WEIR_EINVAL);
	spawn(bad_join_fn, &b, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(b.self_rc, WEIR_EINVAL);
	ck_assert_int_eq(b.null_rc, WEIR_EINVAL);
	finish();
}
END_TEST

static void join_target_fn(void *arg)
{
	struct bad_join *b = arg;

	b->second_rc = weir_fiber_join(b->target);
}

START_TEST(test_second_concurrent_join_is_einval)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct bad_join b1 = { 0 }, b2 = { 0 };
	struct weir_fiber *j1, *j2;

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, &b1.target);
	b2.target = b1.target;
	spawn(join_target_fn, &b1, &j1);
	spawn(join_target_fn, &b2, &j2);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 3);
	ck_assert_int_eq(b2.second_rc, WEIR_EINVAL); /* j1 is joining */
	weir_event_signal(&ev);
	ck_assert_int_eq(weir_fiber_join(j1), 0);
	ck_assert_int_eq(b1.second_rc, 0);
	ck_assert_int_eq(weir_fiber_join(j2), 0);
	finish();
}
END_TEST

START_TEST(test_cancelled_joiner_leaves_target_unjoined)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct bad_join b = { .second_rc = 1 };
	struct weir_fiber *j;

	start();
	weir_event_init(&ev);
	spawn(wait_fn, &w, &b.target);
	spawn(join_target_fn, &b, &j);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 2);
	ck_assert_int_eq(weir_fiber_cancel(j), 0);
	ck_assert_int_eq(weir_fiber_join(j), 0);
	ck_assert_int_eq(b.second_rc, WEIR_ECANCELED);
	ck_assert_uint_eq(stats().live, 1); /* the target, still waiting */
	weir_event_signal(&ev);
	ck_assert_int_eq(weir_fiber_join(b.target), 0);
	ck_assert_int_eq(w.rc, 0);
	finish();
}
END_TEST

START_TEST(test_join_survives_scope_close)
{
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct bad_join b = { .second_rc = 1 };
	struct weir_scope *s;
	struct weir_fiber *j;

	start();
	weir_event_init(&ev);
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_int_eq(weir_fiber_spawn(s, wait_fn, &w, NULL, &b.target), 0);
	spawn(join_target_fn, &b, &j); /* root scope */
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 2);
	/* The target finishes and its scope goes while the joiner still holds the handle. */
	ck_assert_int_eq(weir_scope_close(s), 0);
	ck_assert_int_eq(w.rc, WEIR_ECANCELED);
	ck_assert_int_eq(weir_fiber_join(j), 0);
	ck_assert_int_eq(b.second_rc, 0);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

/* --- scopes ----------------------------------------------------------------------------------- */

struct item_log {
	int order[8], n;
	uint32_t running_at_close; /* unfinished fibers when the first item closed */
};

struct test_item {
	struct weir_scope_item item;
	struct item_log *log;
	int id;
};

static void test_item_close(struct weir_scope_item *item)
{
	struct test_item *t = (struct test_item *)item;
	struct weir_fiber_stats st = stats();

	if (t->log->n == 0)
		t->log->running_at_close = (uint32_t)(st.spawned - st.finished);
	t->log->order[t->log->n++] = t->id;
}

static void item_init(struct test_item *t, struct item_log *log, int id)
{
	memset(t, 0, sizeof(*t));
	t->item.close = test_item_close;
	t->log = log;
	t->id = id;
}

START_TEST(test_scope_close_cancels_fibers_and_closes_items_in_reverse)
{
	struct item_log log = { .running_at_close = 99 };
	struct test_item items[3];
	struct weir_scope *s;
	int rc[3] = { 1, 1, 1 };

	start();
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_uint_eq(stats().scopes, 2);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(weir_fiber_spawn(s, sleep_forever_fn, &rc[i], NULL, NULL), 0);
		item_init(&items[i], &log, i + 1);
		ck_assert_int_eq(weir_scope_attach(s, &items[i].item), 0);
	}
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 3);
	ck_assert_int_eq(weir_scope_close(s), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rc[i], WEIR_ECANCELED);
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(log.order[0], 3);
	ck_assert_int_eq(log.order[1], 2);
	ck_assert_int_eq(log.order[2], 1);
	ck_assert_uint_eq(log.running_at_close, 0); /* fibers finished before any item closed */
	ck_assert_uint_eq(stats().scopes, 1);
	ck_assert_uint_eq(stats().live, 0); /* unjoined records went with the scope */
	finish();
}
END_TEST

START_TEST(test_nested_scope_closed_with_parent)
{
	struct item_log log = { 0 };
	struct test_item a, b, c;
	struct weir_scope *parent, *child, *grandchild;
	int rc_child = 1, rc_grandchild = 1;

	start();
	ck_assert_int_eq(weir_scope_open(NULL, &parent), 0);
	item_init(&a, &log, 1);
	ck_assert_int_eq(weir_scope_attach(parent, &a.item), 0);
	ck_assert_int_eq(weir_scope_open(parent, &child), 0);
	ck_assert_int_eq(weir_scope_open(child, &grandchild), 0);
	item_init(&b, &log, 2);
	ck_assert_int_eq(weir_scope_attach(child, &b.item), 0);
	item_init(&c, &log, 3);
	ck_assert_int_eq(weir_scope_attach(parent, &c.item), 0);
	ck_assert_int_eq(weir_fiber_spawn(child, sleep_forever_fn, &rc_child, NULL, NULL), 0);
	ck_assert_int_eq(weir_fiber_spawn(grandchild, sleep_forever_fn, &rc_grandchild, NULL, NULL),
			 0);
	ck_assert_uint_eq(stats().scopes, 4);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 2);
	ck_assert_int_eq(weir_scope_close(parent), 0);
	ck_assert_int_eq(rc_child, WEIR_ECANCELED);
	ck_assert_int_eq(rc_grandchild, WEIR_ECANCELED);
	/* Reverse order of attachment, the child scope standing where it was opened. */
	ck_assert_int_eq(log.n, 3);
	ck_assert_int_eq(log.order[0], 3);
	ck_assert_int_eq(log.order[1], 2);
	ck_assert_int_eq(log.order[2], 1);
	ck_assert_uint_eq(stats().scopes, 1);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

struct closer {
	int worker_rc;
	int close_rc;
	int worker_done_at_close; /* worker finished when weir_scope_close() returned */
};

static void closer_fn(void *arg)
{
	struct closer *c = arg;
	struct weir_scope *s;

	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_int_eq(weir_fiber_spawn(s, sleep_forever_fn, &c->worker_rc, NULL, NULL), 0);
	ck_assert_int_eq(weir_fiber_sleep_ns(WEIR_NS_PER_MS), 0); /* let the worker block */
	c->close_rc = weir_scope_close(s);
	c->worker_done_at_close = c->worker_rc == WEIR_ECANCELED;
}

START_TEST(test_scope_close_from_fiber)
{
	struct closer c = { .worker_rc = 1, .close_rc = 1 };
	struct weir_fiber *f;

	start();
	spawn(closer_fn, &c, &f);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(c.close_rc, 0);
	ck_assert_int_eq(c.worker_done_at_close, 1);
	ck_assert_uint_eq(stats().scopes, 1);
	finish();
}
END_TEST

struct own_scope {
	struct weir_scope *outer, *inner;
	int own_rc, outer_rc, root_rc;
};

static void close_own_fn(void *arg)
{
	struct own_scope *o = arg;

	o->own_rc = weir_scope_close(weir_scope_current());
	o->outer_rc = weir_scope_close(o->outer);
	o->root_rc = weir_scope_close(NULL);
}

START_TEST(test_fiber_cannot_close_own_scope)
{
	struct own_scope o = { 0 };
	struct weir_fiber *f;

	start();
	ck_assert_int_eq(weir_scope_open(NULL, &o.outer), 0);
	ck_assert_int_eq(weir_scope_open(o.outer, &o.inner), 0);
	ck_assert_int_eq(weir_fiber_spawn(o.inner, close_own_fn, &o, NULL, &f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(o.own_rc, WEIR_EINVAL);
	ck_assert_int_eq(o.outer_rc, WEIR_EINVAL); /* an ancestor: it would wait for us */
	ck_assert_int_eq(o.root_rc, WEIR_EINVAL);
	ck_assert_int_eq(weir_scope_close(weir_scope_current()), WEIR_EINVAL); /* root */
	ck_assert_int_eq(weir_scope_close(o.outer), 0);
	finish();
}
END_TEST

struct closing_use {
	int sleep_rc, spawn_rc, open_rc, attach_rc;
	struct test_item item;
};

static void use_closing_scope_fn(void *arg)
{
	struct closing_use *u = arg;
	struct weir_scope *s;

	u->sleep_rc = weir_fiber_sleep_until(WEIR_DEADLINE_NEVER);
	/* Unwinding: our scope is closing and takes nothing new. */
	u->spawn_rc = weir_fiber_spawn(NULL, count_fn, NULL, NULL, NULL);
	u->open_rc = weir_scope_open(NULL, &s);
	u->attach_rc = weir_scope_attach(weir_scope_current(), &u->item.item);
}

START_TEST(test_closing_scope_rejects_spawn_open_attach)
{
	struct closing_use u = { 0 };
	struct item_log log = { 0 };
	struct weir_scope *s;

	start();
	item_init(&u.item, &log, 1);
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_int_eq(weir_fiber_spawn(s, use_closing_scope_fn, &u, NULL, NULL), 0);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 1);
	ck_assert_int_eq(weir_scope_close(s), 0);
	ck_assert_int_eq(u.sleep_rc, WEIR_ECANCELED);
	ck_assert_int_eq(u.spawn_rc, WEIR_EINVAL);
	ck_assert_int_eq(u.open_rc, WEIR_EINVAL);
	ck_assert_int_eq(u.attach_rc, WEIR_EINVAL);
	ck_assert_int_eq(log.n, 0);
	finish();
}
END_TEST

START_TEST(test_scope_detach_skips_close)
{
	struct item_log log = { 0 };
	struct test_item a, b;
	struct weir_scope *s;

	start();
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	item_init(&a, &log, 1);
	item_init(&b, &log, 2);
	ck_assert_int_eq(weir_scope_attach(s, &a.item), 0);
	ck_assert_int_eq(weir_scope_attach(s, &b.item), 0);
	weir_scope_detach(&a.item);
	weir_scope_detach(&a.item); /* not attached: no-op */
	weir_scope_detach(NULL);
	ck_assert_int_eq(weir_scope_close(s), 0);
	ck_assert_int_eq(log.n, 1);
	ck_assert_int_eq(log.order[0], 2);
	finish();
}
END_TEST

START_TEST(test_scope_attach_rejects_bad_args)
{
	struct item_log log = { 0 };
	struct test_item a;
	struct weir_scope *s;

	start();
	item_init(&a, &log, 1);
	ck_assert_int_eq(weir_scope_attach(NULL, &a.item), WEIR_EINVAL);
	ck_assert_int_eq(weir_scope_attach(weir_scope_current(), NULL), WEIR_EINVAL);
	a.item.close = NULL;
	ck_assert_int_eq(weir_scope_attach(weir_scope_current(), &a.item), WEIR_EINVAL);
	ck_assert_int_eq(weir_scope_open(NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_scope_close(NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_int_eq(weir_scope_close(s), 0);
	finish();
}
END_TEST

START_TEST(test_scope_close_frees_unjoined_finished_fibers)
{
	struct weir_scope *s;
	int n = 0;

	start();
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(weir_fiber_spawn(s, count_fn, &n, NULL, NULL), 0);
	run_until_all_finished();
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(stats().live, 5); /* records wait for a join or the scope */
	ck_assert_int_eq(weir_scope_close(s), 0);
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

START_TEST(test_detached_fiber_record_freed_when_it_finishes)
{
	struct weir_fiber *f, *g;
	int n = 0;

	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, &n, NULL, &f), 0);
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, &n, NULL, &g), 0);
	ck_assert_int_eq(weir_fiber_detach(f), 0);
	ck_assert_int_eq(weir_fiber_detach(f), WEIR_EINVAL); /* twice */
	ck_assert_uint_eq(stats().live, 2);
	run_until_all_finished();
	ck_assert_int_eq(n, 2);
	/* f went when it finished; g (not detached) waits for a join or its scope. */
	ck_assert_uint_eq(stats().live, 1);
	ck_assert_int_eq(weir_fiber_detach(g), 0); /* already finished: freed now */
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

START_TEST(test_detached_fiber_cannot_be_joined)
{
	struct weir_fiber *f;
	int n = 0;

	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, &n, NULL, &f), 0);
	ck_assert_int_eq(weir_fiber_detach(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_detach(NULL), WEIR_EINVAL);
	run_until_all_finished();
	ck_assert_uint_eq(stats().live, 0);
	finish();
}
END_TEST

struct protected_waiter {
	struct weir_event ev;
	int rc;
	uint64_t took;
};

static void protected_wait_fn(void *arg)
{
	struct protected_waiter *w = arg;
	uint64_t t0 = weir_clock_now_ns();

	w->rc = weir_event_wait_protected(&w->ev, t0 + 100 * WEIR_NS_PER_MS);
	w->took = weir_clock_now_ns() - t0;
}

START_TEST(test_protected_wait_ignores_cancellation)
{
	struct protected_waiter w = { .rc = 1 };
	struct weir_fiber *f;

	start();
	weir_event_init(&w.ev);
	ck_assert_int_eq(weir_fiber_spawn(NULL, protected_wait_fn, &w, NULL, &f), 0);
	weir_loop_run_once(loop, 0); /* it is waiting now */
	ck_assert_int_eq(weir_fiber_cancel(f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	/* Cancellation did not cut the wait short: it ran to its deadline. */
	ck_assert_int_eq(w.rc, WEIR_ETIMEDOUT);
	ck_assert_uint_ge(w.took, 90 * WEIR_NS_PER_MS);
	ck_assert_int_eq(weir_event_wait_protected(&w.ev, 0), WEIR_EINVAL); /* main context */
	finish();
}
END_TEST

/* --- misuse ----------------------------------------------------------------------------------- */

START_TEST(test_blocking_call_from_main_context_is_einval)
{
	struct weir_event ev;

	ck_assert_ptr_null(weir_scope_current()); /* no scheduler yet */
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, NULL, NULL, NULL), WEIR_EINVAL);
	start();
	weir_event_init(&ev);
	ck_assert_ptr_null(weir_fiber_self());
	ck_assert_ptr_nonnull(weir_scope_current());
	ck_assert_int_eq(weir_fiber_yield(), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_sleep_ns(1), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_sleep_until(WEIR_DEADLINE_NEVER), WEIR_EINVAL);
	ck_assert_int_eq(weir_event_wait(&ev, WEIR_DEADLINE_NEVER), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_cancelled(), 0);
	finish();
}
END_TEST

static void null_wait_fn(void *arg)
{
	*(int *)arg = weir_event_wait(NULL, WEIR_DEADLINE_NEVER);
}

START_TEST(test_spawn_rejects_bad_args)
{
	struct weir_fiber_opts small = { .stack_size = 4096 }, almost = { .stack_size = 8191 };
	struct weir_fiber_opts least = { .stack_size = 8192 };
	struct weir_fiber_opts huge = { .stack_size = (size_t)1 << 40 };
	_Alignas(64) unsigned char zeroed[256] = { 0 };
	struct weir_scope *fake_scope = (struct weir_scope *)zeroed; /* no scope's magic */
	struct weir_fiber *f = NULL;
	int rc = 1;

	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, NULL, NULL, NULL, &f), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, NULL, &small, &f), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, NULL, &almost, &f), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, NULL, &huge, &f), WEIR_EINVAL);
	ck_assert_int_eq(weir_fiber_spawn(fake_scope, count_fn, NULL, NULL, &f), WEIR_EINVAL);
	ck_assert_ptr_null(f);
	ck_assert_uint_eq(stats().spawned, 0);
	ck_assert_int_eq(weir_fiber_spawn(NULL, null_wait_fn, &rc, &least, &f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_int_eq(rc, WEIR_EINVAL);
	finish();
}
END_TEST

struct ident {
	struct weir_fiber *self;
	uint64_t id;
	const char *name;
};

static void ident_fn(void *arg)
{
	struct ident *i = arg;

	i->self = weir_fiber_self();
	i->id = weir_fiber_id(i->self);
	i->name = weir_fiber_name(i->self);
}

START_TEST(test_fiber_ids_and_names)
{
	char name[16] = "worker-1";
	struct weir_fiber_opts opts = { .name = name };
	struct ident a = { 0 }, b = { 0 };
	struct weir_fiber *fa, *fb;

	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, ident_fn, &a, &opts, &fa), 0);
	strcpy(name, "changed"); /* the fiber kept its own copy */
	ck_assert_int_eq(weir_fiber_spawn(NULL, ident_fn, &b, NULL, &fb), 0);
	ck_assert_uint_eq(weir_fiber_id(fa), 1);
	ck_assert_uint_eq(weir_fiber_id(fb), 2);
	ck_assert_str_eq(weir_fiber_name(fa), "worker-1");
	ck_assert_str_eq(weir_fiber_name(fb), "");
	run_until_all_finished();
	ck_assert_ptr_eq(a.self, fa);
	ck_assert_ptr_eq(b.self, fb);
	ck_assert_uint_eq(a.id, 1);
	ck_assert_str_eq(a.name, "worker-1");
	ck_assert_int_eq(weir_fiber_join(fa), 0);
	ck_assert_int_eq(weir_fiber_join(fb), 0);
	ck_assert_uint_eq(weir_fiber_id(NULL), 0);
	finish();
}
END_TEST

/* --- scale and stacks ------------------------------------------------------------------------- */

static void count_yield_count_fn(void *arg)
{
	(*(int *)arg)++;
	ck_assert_int_eq(weir_fiber_yield(), 0);
	(*(int *)arg)++;
}

START_TEST(test_many_fibers)
{
	enum { N = 10000 };
	int n = 0;

	start();
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(weir_fiber_spawn(NULL, count_yield_count_fn, &n, NULL, NULL), 0);
	ck_assert_uint_eq(stats().live, N);
	run_until_all_finished();
	ck_assert_int_eq(n, 2 * N);
	ck_assert_uint_eq(stats().finished, N);
	ck_assert_uint_eq(stats().switches, 2 * N);
	finish(); /* the root scope frees the 10000 unjoined records */
}
END_TEST

/* Recursion the compiler cannot flatten: each frame passes its buffer's address to the next. */
static __attribute__((noinline)) size_t recurse_to(volatile char *prev, uintptr_t top, size_t want)
{
	volatile char pad[256];

	pad[0] = (char)(prev[0] + 1);
	if (top - (uintptr_t)__builtin_frame_address(0) < want)
		return recurse_to(pad, top, want) + 1;
	return 1;
}

struct deep {
	size_t want, frames;
};

static void deep_fn(void *arg)
{
	struct deep *d = arg;
	volatile char seed = 0;

	d->frames = recurse_to(&seed, (uintptr_t)__builtin_frame_address(0), d->want);
}

START_TEST(test_deep_recursion_within_stack)
{
	struct weir_fiber_opts opts = { .stack_size = 64 * 1024, .name = "deep" };
	struct deep d = { .want = 48 * 1024 };
	struct weir_fiber *f;

	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, deep_fn, &d, &opts, &f), 0);
	ck_assert_int_eq(weir_fiber_join(f), 0);
	ck_assert_uint_ge(d.frames, 48 * 1024 / 1024); /* frames stay under 1 KiB, ASan included */
	finish();
}
END_TEST

static volatile unsigned long overflow_limit = ~0UL; /* never reached: keeps gcc quiet */

static __attribute__((noinline)) int recurse_forever(volatile char *prev, unsigned long depth)
{
	volatile char pad[256];

	pad[0] = (char)(prev[0] + 1);
	if (depth < overflow_limit)
		return recurse_forever(pad, depth + 1) + pad[0];
	return pad[0];
}

static void overflow_fn(void *arg)
{
	volatile char seed = 0;

	*(int *)arg = recurse_forever(&seed, 0);
}

static void no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
}

START_TEST(test_stack_overflow_hits_guard_page)
{
	struct weir_fiber_opts opts = { .stack_size = 16 * 1024, .name = "overflow" };
	struct weir_fiber *f;
	int sink = 0;

	no_core_dumps();
	start();
	ck_assert_int_eq(weir_fiber_spawn(NULL, overflow_fn, &sink, &opts, &f), 0);
	weir_fiber_join(f); /* dies here with SIGSEGV */
	ck_abort_msg("the overflow did not stop the process");
}
END_TEST

START_TEST(test_stack_overflow_message_names_fiber)
{
	static const char want[] = "weir: fiber stack overflow in fiber 1 'deep-diver'\n";
	char buf[4096];
	size_t len = 0;
	int fds[2], status;
	pid_t pid;

	start();
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct weir_fiber_opts opts = { .stack_size = 16 * 1024, .name = "deep-diver" };
		struct weir_fiber *f;
		int sink = 0;

		no_core_dumps();
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		if (weir_fiber_spawn(NULL, overflow_fn, &sink, &opts, &f) == 0)
			weir_fiber_join(f);
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child status %#x, stderr: %s", status, buf);
	ck_assert_msg(strstr(buf, want) != NULL, "stderr was: %s", buf);
	finish();
}
END_TEST

/* --- shutdown --------------------------------------------------------------------------------- */

START_TEST(test_fibers_fini_leaves_nothing)
{
	struct item_log log = { 0 };
	struct test_item root_item, nested_item;
	struct weir_event ev;
	struct waiter w = { .ev = &ev, .deadline = WEIR_DEADLINE_NEVER };
	struct weir_scope *s;
	int rc_sleep = 1, rc_nested = 1, n = 0;

	start();
	weir_event_init(&ev);
	item_init(&root_item, &log, 1);
	item_init(&nested_item, &log, 2);
	ck_assert_int_eq(weir_scope_attach(weir_scope_current(), &root_item.item), 0);
	ck_assert_int_eq(weir_scope_open(NULL, &s), 0);
	ck_assert_int_eq(weir_scope_attach(s, &nested_item.item), 0);
	spawn(sleep_forever_fn, &rc_sleep, NULL);
	spawn(wait_fn, &w, NULL);
	spawn(count_fn, &n, NULL);
	ck_assert_int_eq(weir_fiber_spawn(s, sleep_forever_fn, &rc_nested, NULL, NULL), 0);
	ck_assert_int_eq(weir_loop_run_once(loop, 0), 4);
	spawn(count_fn, &n, NULL); /* ready, never run before fini */

	weir_fibers_fini();
	ck_assert_int_eq(rc_sleep, WEIR_ECANCELED);
	ck_assert_int_eq(rc_nested, WEIR_ECANCELED);
	ck_assert_int_eq(w.rc, WEIR_ECANCELED);
	ck_assert_int_eq(n, 2);
	ck_assert(!weir_event_has_waiters(&ev));
	ck_assert_int_eq(log.n, 2);
	ck_assert_int_eq(log.order[0], 2);
	ck_assert_int_eq(log.order[1], 1);
	ck_assert_uint_eq(stats().live, 0);
	/* Stopped: nothing more is accepted, and the scheduler can start again. */
	ck_assert_int_eq(weir_fiber_spawn(NULL, count_fn, &n, NULL, NULL), WEIR_EINVAL);
	weir_fibers_fini(); /* a second fini is a no-op */
	ck_assert_int_eq(weir_fibers_init(loop), 0);
	spawn(count_fn, &n, NULL);
	finish();
	ck_assert_int_eq(n, 3);
}
END_TEST

Suite *weir_test_fiber_suite(void)
{
	Suite *s = suite_create("fiber");
	TCase *tc = tcase_create("fiber");
	TCase *ts = tcase_create("stack");

	tcase_add_test(tc, test_init_rejects_null_and_second_start);
	tcase_add_test(tc, test_detached_fiber_record_freed_when_it_finishes);
	tcase_add_test(tc, test_detached_fiber_cannot_be_joined);
	tcase_add_test(tc, test_protected_wait_ignores_cancellation);
	tcase_add_test(tc, test_spawn_runs_on_loop_turn);
	tcase_add_test(tc, test_spawned_fiber_waits_for_spawner_to_block);
	tcase_add_test(tc, test_yield_interleaves_fibers);
	tcase_add_test(tc, test_sleep_wakes_after_deadline);
	tcase_add_test(tc, test_sleepers_wake_in_deadline_order);
	tcase_add_test(tc, test_loop_does_not_sleep_while_fibers_ready);
	tcase_add_test(tc, test_event_wait_times_out);
	tcase_add_test(tc, test_event_wait_past_deadline_does_not_block);
	tcase_add_test(tc, test_event_signal_wakes_one_fifo);
	tcase_add_test(tc, test_event_broadcast_wakes_all);
	tcase_add_test(tc, test_signal_from_main_context_does_not_switch);
	tcase_add_test(tc, test_signal_from_fiber_does_not_switch);
	tcase_add_test(tc, test_timed_out_waiter_leaves_event);
	tcase_add_test(tc, test_cancel_wakes_waiter_with_ecanceled);
	tcase_add_test(tc, test_cancel_wakes_sleeper);
	tcase_add_test(tc, test_cancelled_fiber_later_waits_fail_fast);
	tcase_add_test(tc, test_cancel_before_first_run_still_runs_fn);
	tcase_add_test(tc, test_cancel_finished_fiber_is_ignored);
	tcase_add_test(tc, test_join_from_main_context_drives_loop);
	tcase_add_test(tc, test_join_from_fiber);
	tcase_add_test(tc, test_join_rejects_self_and_null);
	tcase_add_test(tc, test_second_concurrent_join_is_einval);
	tcase_add_test(tc, test_cancelled_joiner_leaves_target_unjoined);
	tcase_add_test(tc, test_join_survives_scope_close);
	tcase_add_test(tc, test_scope_close_cancels_fibers_and_closes_items_in_reverse);
	tcase_add_test(tc, test_nested_scope_closed_with_parent);
	tcase_add_test(tc, test_scope_close_from_fiber);
	tcase_add_test(tc, test_fiber_cannot_close_own_scope);
	tcase_add_test(tc, test_closing_scope_rejects_spawn_open_attach);
	tcase_add_test(tc, test_scope_detach_skips_close);
	tcase_add_test(tc, test_scope_attach_rejects_bad_args);
	tcase_add_test(tc, test_scope_close_frees_unjoined_finished_fibers);
	tcase_add_test(tc, test_blocking_call_from_main_context_is_einval);
	tcase_add_test(tc, test_spawn_rejects_bad_args);
	tcase_add_test(tc, test_fiber_ids_and_names);
	tcase_add_test(tc, test_fibers_fini_leaves_nothing);
	suite_add_tcase(s, tc);

	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_many_fibers);
	tcase_add_test(ts, test_deep_recursion_within_stack);
	tcase_add_test_raise_signal(ts, test_stack_overflow_hits_guard_page, SIGSEGV);
	tcase_add_test(ts, test_stack_overflow_message_names_fiber);
	suite_add_tcase(s, ts);
	return s;
}
