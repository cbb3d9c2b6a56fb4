/* test_loop.c - the event loop: sleeps until the earliest deadline, wakes on fds, busy-polls. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/loop.h>

#include "weir_tests.h"

struct fake_src {
	int polls;
	int work; /* returned by poll() */
	uint64_t deadline;
};

static int fake_poll(void *arg)
{
	struct fake_src *f = arg;

	f->polls++;
	return f->work;
}

static uint64_t fake_deadline(void *arg)
{
	return ((struct fake_src *)arg)->deadline;
}

static const struct weir_loop_source_ops fake_ops = {
	.poll = fake_poll,
	.next_deadline_ns = fake_deadline,
};

START_TEST(test_loop_sleeps_until_deadline)
{
	struct fake_src f = { 0 };
	struct weir_loop *loop;
	struct weir_loop_source *src;
	struct weir_loop_stats st;
	uint64_t t0, dt;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, -1, WEIR_LOOP_SOURCE_MAY_SLEEP, &src),
			 0);
	t0 = weir_clock_now_ns();
	f.deadline = t0 + 30 * WEIR_NS_PER_MS;
	ck_assert_int_eq(weir_loop_run_once(loop, 5 * WEIR_NS_PER_S), 0);
	dt = weir_clock_now_ns() - t0;
	ck_assert_uint_ge(dt, 30 * WEIR_NS_PER_MS);
	ck_assert_uint_lt(dt, 1 * WEIR_NS_PER_S);
	weir_loop_get_stats(loop, &st);
	ck_assert_uint_eq(st.sleeps, 1);
	ck_assert_int_eq(f.polls, 1);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
}
END_TEST

START_TEST(test_loop_max_wait_bounds_sleep)
{
	struct fake_src f = { .deadline = WEIR_DEADLINE_NEVER };
	struct weir_loop *loop;
	struct weir_loop_source *src;
	uint64_t t0, dt;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, -1, WEIR_LOOP_SOURCE_MAY_SLEEP, &src),
			 0);
	t0 = weir_clock_now_ns();
	ck_assert_int_eq(weir_loop_run_once(loop, 20 * WEIR_NS_PER_MS), 0);
	dt = weir_clock_now_ns() - t0;
	ck_assert_uint_ge(dt, 20 * WEIR_NS_PER_MS);
	ck_assert_uint_lt(dt, 1 * WEIR_NS_PER_S);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
}
END_TEST

START_TEST(test_loop_fd_wakes_before_deadline)
{
	struct fake_src f = { .deadline = WEIR_DEADLINE_NEVER };
	struct weir_loop *loop;
	struct weir_loop_source *src;
	int p[2];
	uint64_t t0;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, p[0], 0, &src), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	t0 = weir_clock_now_ns();
	ck_assert_int_eq(weir_loop_run_once(loop, 10 * WEIR_NS_PER_S), 0);
	ck_assert_uint_lt(weir_clock_now_ns() - t0, 2 * WEIR_NS_PER_S);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_loop_poll_mode_source_never_sleeps)
{
	struct fake_src f = { .deadline = WEIR_DEADLINE_NEVER };
	struct weir_loop *loop;
	struct weir_loop_source *src;
	struct weir_loop_stats st;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, -1, 0, &src), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(weir_loop_run_once(loop, 10 * WEIR_NS_PER_S), 0);
	weir_loop_get_stats(loop, &st);
	ck_assert_uint_eq(st.sleeps, 0);
	ck_assert_uint_eq(st.turns, 100);
	ck_assert_int_eq(f.polls, 100);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
}
END_TEST

START_TEST(test_loop_work_skips_sleep)
{
	struct fake_src f = { .work = 3, .deadline = WEIR_DEADLINE_NEVER };
	struct weir_loop *loop;
	struct weir_loop_source *src;
	struct weir_loop_stats st;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, -1, WEIR_LOOP_SOURCE_MAY_SLEEP, &src),
			 0);
	ck_assert_int_eq(weir_loop_run_once(loop, 10 * WEIR_NS_PER_S), 3);
	weir_loop_get_stats(loop, &st);
	ck_assert_uint_eq(st.sleeps, 0);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
}
END_TEST

static int stopping_poll(void *arg)
{
	weir_loop_stop(arg);
	return 0;
}

START_TEST(test_loop_stop_ends_run)
{
	static const struct weir_loop_source_ops ops = { .poll = stopping_poll };
	struct weir_loop *loop;
	struct weir_loop_source *src;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(loop, &ops, loop, -1, 0, &src), 0);
	ck_assert_int_eq(weir_loop_run(loop), 0);
	weir_loop_remove(loop, src);
	weir_loop_destroy(loop);
}
END_TEST

START_TEST(test_loop_rejects_bad_arguments)
{
	static const struct weir_loop_source_ops no_poll = { .poll = NULL };
	struct fake_src f = { 0 };
	struct weir_loop *loop;
	struct weir_loop_source *src;

	ck_assert_int_eq(weir_loop_create(NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_add(NULL, &fake_ops, &f, -1, 0, &src), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_add(loop, NULL, &f, -1, 0, &src), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_add(loop, &no_poll, &f, -1, 0, &src), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, -1, 0x80, &src), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_add(loop, &fake_ops, &f, 987654, 0, &src), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_run_once(NULL, 0), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_run(NULL), WEIR_EINVAL);
	weir_loop_remove(loop, NULL);
	weir_loop_destroy(loop);
	weir_loop_destroy(NULL);
}
END_TEST

/* --- wakers: another thread wakes the loop; an unwoken waker costs no wake-up --------------- */

static int waker_polls, waker_woken;
static _Atomic int waker_flag;

static int waker_cb(void *arg)
{
	WEIR_UNUSED(arg);
	waker_polls++;
	if (atomic_exchange(&waker_flag, 0)) {
		waker_woken++;
		return 1;
	}
	return 0;
}

static void *wake_later(void *arg)
{
	usleep(50 * 1000);
	atomic_store(&waker_flag, 1);
	weir_loop_waker_wake(arg);
	return NULL;
}

START_TEST(test_waker_wakes_from_another_thread_and_never_spins)
{
	struct weir_loop *loop;
	struct weir_loop_waker *w;
	struct weir_loop_source *src;
	pthread_t t;
	uint64_t t0, took;

	ck_assert_int_eq(weir_loop_create(&loop), 0);
	ck_assert_int_eq(weir_loop_waker_create(&w), 0);
	ck_assert_int_eq(weir_loop_waker_attach(NULL, loop, waker_cb, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_waker_attach(w, loop, NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_loop_waker_attach(w, loop, waker_cb, NULL), 0);
	ck_assert_int_eq(weir_loop_waker_attach(w, loop, waker_cb, NULL), WEIR_EINVAL); /* twice */
	/* Edge-triggered needs an fd. */
	ck_assert_int_eq(weir_loop_add(loop, &(struct weir_loop_source_ops){ .poll = waker_cb },
				       NULL, -1, WEIR_LOOP_SOURCE_EDGE, &src),
			 WEIR_EINVAL);
	/* Woken from another thread while asleep for up to 2 s: back after about 50 ms. */
	ck_assert_int_eq(pthread_create(&t, NULL, wake_later, w), 0);
	t0 = weir_clock_now_ns();
	while (waker_woken == 0 && weir_clock_now_ns() - t0 < 2 * WEIR_NS_PER_S)
		weir_loop_run_once(loop, 2 * WEIR_NS_PER_S);
	took = weir_clock_now_ns() - t0;
	pthread_join(t, NULL);
	ck_assert_int_eq(waker_woken, 1);
	ck_assert_uint_lt(took, 1 * WEIR_NS_PER_S);
	/* Nothing more: the loop sleeps its whole 100 ms in one turn (an fd left readable would
	 * make it spin), and the waker's poll does not run without a wake. */
	waker_polls = 0;
	t0 = weir_clock_now_ns();
	weir_loop_run_once(loop, 100 * WEIR_NS_PER_MS);
	weir_loop_run_once(loop, 100 * WEIR_NS_PER_MS);
	took = weir_clock_now_ns() - t0;
	ck_assert_uint_ge(took, 150 * WEIR_NS_PER_MS);
	ck_assert_int_le(waker_polls, 4);
	ck_assert_int_eq(waker_polls, 0);
	/* A wake before the next turn is seen by it. */
	atomic_store(&waker_flag, 1);
	weir_loop_waker_wake(w);
	weir_loop_run_once(loop, 0);
	ck_assert_int_eq(waker_woken, 2);
	weir_loop_waker_detach(w);
	weir_loop_waker_wake(w); /* detached: counted, harmless */
	weir_loop_waker_destroy(w);
	weir_loop_waker_wake(NULL);
	weir_loop_waker_destroy(NULL);
	weir_loop_destroy(loop);
}
END_TEST

Suite *weir_test_loop_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, test_loop_sleeps_until_deadline);
	tcase_add_test(tc, test_loop_max_wait_bounds_sleep);
	tcase_add_test(tc, test_loop_fd_wakes_before_deadline);
	tcase_add_test(tc, test_loop_poll_mode_source_never_sleeps);
	tcase_add_test(tc, test_loop_work_skips_sleep);
	tcase_add_test(tc, test_loop_stop_ends_run);
	tcase_add_test(tc, test_loop_rejects_bad_arguments);
	tcase_add_test(tc, test_waker_wakes_from_another_thread_and_never_spins);
	suite_add_tcase(s, tc);
	return s;
}
