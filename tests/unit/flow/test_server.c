/* test_server.c - server.h: weir_run_server reports handler errors and drains on stop. */
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/server.h>

#include "pair.h"
#include "weir_tests.h"

#define S  WEIR_NS_PER_S
#define MS WEIR_NS_PER_MS

static int server_errors, server_last_error;

static int server_handler(struct weir_flow *f, void *arg)
{
	uint8_t c;
	ssize_t n = weir_flow_read_into(f, &c, 1);

	(void)arg;
	if (n < 0)
		return (int)n; /* cancelled by the stop: not reported */
	if (c == 'e')
		return WEIR_EPROTO;
	return weir_flow_write(f, "ok", 2);
}

static void server_on_error(struct weir_flow *f, int err, void *arg)
{
	(void)f;
	(void)arg;
	server_errors++;
	server_last_error = err;
}

static void server_on_listening(uint16_t port, void *arg)
{
	side_send(arg, port);
}

static struct weir_server_stop server_stop;

static void server_stopper(void *arg)
{
	uint32_t msg;

	(void)arg;
	if (side_recv(arg, &msg, 20 * S) == 0)
		weir_server_stop_trigger(&server_stop);
}

static int peer_run_server(struct side *s, void *arg)
{
	struct weir_server_opts o = { .on_error = server_on_error,
				      .on_listening = server_on_listening,
				      .drain_timeout_ns = 200 * MS };
	uint64_t t0;
	int rc;

	(void)arg;
	weir_server_stop_init(&server_stop);
	EXPECT_EQ(weir_fiber_spawn(NULL, server_stopper, s, NULL, NULL), 0);
	rc = weir_run_server(s->stack, &o, server_handler, s, &server_stop);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(rc, 0);
	/* One handler failed (reported); one was cut by the stop (cancellation: not reported). */
	EXPECT_EQ(server_errors, 1);
	EXPECT_EQ(server_last_error, WEIR_EPROTO);
	(void)t0;
	return side_send(s, 0x5e);
}

static int main_run_server(struct side *s, void *arg)
{
	struct weir_flow *f, *g, *idle;
	uint32_t port, msg;
	uint8_t b[4];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_write(f, "o", 1), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 2);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &g), 0);
	EXPECT_EQ(weir_flow_write(g, "e", 1), 0);
	EXPECT_EQ(weir_flow_read_into(g, b, sizeof(b)), WEIR_EOF); /* the failed handler closed */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &idle), 0); /* its handler waits */
	weir_fiber_sleep_ns(50 * MS);
	EXPECT_EQ(side_send(s, 1), 0); /* stop */
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, 0x5e);
	weir_flow_close(f);
	weir_flow_free(f);
	weir_flow_close(g);
	weir_flow_free(g);
	weir_flow_abort(idle);
	weir_flow_free(idle);
	return 0;
}

START_TEST(test_run_server_reports_errors_and_drains_on_stop)
{
	ck_assert_int_eq(pair_run(main_run_server, peer_run_server, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- stop is optional; cancelling the server while it drains ---------------------------------- */

struct server_run {
	struct side *s;
	struct weir_server_stop *stop;
	uint64_t drain_ns;
	int rc, done;
};

static void server_fiber(void *arg)
{
	struct server_run *r = arg;
	struct weir_server_opts o = { .on_listening = server_on_listening,
				      .drain_timeout_ns = r->drain_ns };

	r->rc = weir_run_server(r->s->stack, &o, server_handler, r->s, r->stop);
	r->done = 1;
}

/* Runs the server in its own fiber, then cancels that fiber (after triggering stop, when given,
 * so the cancellation lands in the drain) and checks it ended cleanly, leaving nothing. */
static int cancel_server(struct side *s, struct weir_server_stop *stop)
{
	struct server_run r = { .s = s, .stop = stop, .drain_ns = 10 * S };
	struct weir_fiber *fb;
	struct weir_tcp_stats ts;
	uint32_t msg;
	uint64_t t0;

	EXPECT_EQ(weir_fiber_spawn(NULL, server_fiber, &r, NULL, &fb), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0); /* a handler is blocked in its read */
	if (stop != NULL) {
		weir_server_stop_trigger(stop);
		weir_fiber_sleep_ns(50 * MS); /* draining now: its handler never finishes */
		EXPECT(!r.done);
	}
	t0 = weir_clock_now_ns();
	weir_fiber_cancel(fb);
	EXPECT_EQ(weir_fiber_join(fb), 0);
	EXPECT(r.done);
	EXPECT_EQ(r.rc, WEIR_ECANCELED);
	if (weir_clock_now_ns() - t0 > 1 * S)
		return FAILF("the cancelled server took %llu ms to return",
			     (unsigned long long)((weir_clock_now_ns() - t0) / MS));
	/* Nothing of the server is left running to touch its freed frame or listener. */
	weir_fiber_sleep_ns(100 * MS);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.listeners, 0);
	EXPECT_EQ(ts.flows, 0);
	return side_send(s, 0x5e);
}

static int peer_server_no_stop(struct side *s, void *arg)
{
	(void)arg;
	return cancel_server(s, NULL);
}

static int peer_server_cancel_drain(struct side *s, void *arg)
{
	(void)arg;
	weir_server_stop_init(&server_stop);
	return cancel_server(s, &server_stop);
}

static int main_blocked_client(struct side *s, void *arg)
{
	struct weir_flow *f, *g;
	uint32_t port, msg;
	uint8_t b[4];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_write(f, "o", 1), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 2);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &g), 0); /* its handler waits */
	weir_fiber_sleep_ns(50 * MS);
	EXPECT_EQ(side_send(s, 1), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, 0x5e);
	/* The cancelled handler's flow was closed. */
	EXPECT_EQ(weir_flow_read_into(g, b, sizeof(b)), WEIR_EOF);
	weir_flow_close(f);
	weir_flow_free(f);
	weir_flow_close(g);
	weir_flow_free(g);
	return 0;
}

START_TEST(test_run_server_without_stop_runs_until_cancelled)
{
	ck_assert_int_eq(pair_run(main_blocked_client, peer_server_no_stop, NULL, NULL, 20 * S), 0);
}
END_TEST

START_TEST(test_run_server_cancelled_while_draining)
{
	ck_assert_int_eq(
		pair_run(main_blocked_client, peer_server_cancel_drain, NULL, NULL, 20 * S), 0);
}
END_TEST

Suite *weir_test_server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_server_reports_errors_and_drains_on_stop);
	tcase_add_test(tc, test_run_server_without_stop_runs_until_cancelled);
	tcase_add_test(tc, test_run_server_cancelled_while_draining);
	suite_add_tcase(s, tc);
	return s;
}
