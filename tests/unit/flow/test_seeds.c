/* test_seeds.c - what the seed interfaces promise (../shared/reference, docs/seed-map.md), each
 * asserted between two weir processes over the link driver: MirageOS's close and read, Eio's
 * handler lifetime and accept, Eio/Tezos backlog and max_connections. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>

#include <weir/resolve.h>
#include <weir/udp.h>

#include "lwip/opt.h" /* LWIP_HAVE_LOOPIF */

#include "weir_tests.h"
#include "pair.h"

static struct weir_stack *loop_stack;

#define S  WEIR_NS_PER_S
#define MS WEIR_NS_PER_MS

/* --- close: the peer may still write, other fibers may still read, close waits for its FIN --- */

/* What the second fiber read (this process only). */
static struct {
	uint8_t got[64];
	size_t n;
	ssize_t end; /* the read that ended it */
	int done;
} late;

static void late_reader_main(void *arg)
{
	struct weir_flow *f = arg;
	ssize_t n;

	while ((n = weir_flow_read_into(f, late.got + late.n, sizeof(late.got) - late.n)) > 0)
		late.n += (size_t)n;
	late.end = n;
	late.done = 1;
}

/* Peer: reads the request until our FIN, then answers in two parts 300 ms apart and closes. */
static void late_writer_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint8_t b[16];
	int rc = 0;

	while (weir_flow_read_into(f, b, sizeof(b)) > 0)
		;
	rc |= weir_flow_write_nodelay(f, "late ", 5);
	weir_fiber_sleep_ns(300 * MS);
	rc |= weir_flow_write_nodelay(f, "reply", 5);
	rc |= weir_flow_shutdown(f, WEIR_SHUT_WR);
	side_send(s, rc == 0 ? 0x600d : 0xbad);
}

static int main_close_reads_on(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, late_reader_main, f, NULL, NULL), 0);
	EXPECT_EQ(weir_flow_write(f, "request", 7), 0);
	weir_fiber_sleep_ns(20 * MS); /* the reader blocks in its read */
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_flow_close(f), 0);
	dt = weir_clock_now_ns() - t0;
	/* Close returned only once the peer closed too, 300 ms after its first part. */
	if (dt < 250 * MS || dt > 5 * S)
		return FAILF("close took %llu ms, wanted ~300", (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_CLOSE);
	/* The other fiber read everything the peer wrote after our close, then the end. */
	EXPECT(late.done);
	EXPECT_EQ(late.end, WEIR_EOF);
	EXPECT_EQ(late.n, 10);
	EXPECT(memcmp(late.got, "late reply", 10) == 0);
	/* After close returned the handle is closed. */
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_write(f, "x", 1), WEIR_ECLOSED);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_close_lets_other_fibers_read_until_peer_fin)
{
	struct serve sv = { .handler = late_writer_handler };

	ck_assert_int_eq(pair_run(main_close_reads_on, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* Peer: after our FIN, 1 MiB more before its own FIN; every write must succeed (no RST). */
static void big_late_writer_handler(struct weir_flow *f, void *arg)
{
	static uint8_t chunk[16384];
	struct side *s = arg;
	uint8_t b[16];
	int rc = 0;

	while (weir_flow_read_into(f, b, sizeof(b)) > 0)
		;
	memset(chunk, 'z', sizeof(chunk));
	for (int i = 0; i < 64 && rc == 0; i++)
		rc = weir_flow_write(f, chunk, sizeof(chunk));
	if (rc == 0)
		rc = weir_flow_shutdown(f, WEIR_SHUT_WR);
	side_send(s, rc == 0 ? 0x600d : 0xbad);
}

static int main_close_no_reader(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow.fin_wait_timeout_ms = 20000 };
	struct weir_flow *f;
	uint32_t port, msg;
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	t0 = weir_clock_now_ns();
	/* Nobody reads: what the peer sends after our FIN must not keep its FIN out until the
	 * FIN_WAIT bound (20 s) ends the wait. */
	EXPECT_EQ(weir_flow_close(f), 0);
	dt = weir_clock_now_ns() - t0;
	if (dt > 10 * S)
		return FAILF("close took %llu ms: the unread data closed the window",
			     (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_CLOSE);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_close_without_reader_reaches_peer_fin)
{
	struct serve sv = { .handler = big_late_writer_handler };

	ck_assert_int_eq(pair_run(main_close_no_reader, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

/* --- a handler that returns frees its slot, whatever the peer does (Eio) ---------------------- */

static void hello_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	weir_flow_write(f, "hi", 2);
}

static int peer_slot(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .max_connections = 1 };
	struct weir_listener_stats st;
	struct weir_listener *l;
	uint32_t msg;
	uint64_t t0, dt;

	(void)arg;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hello_handler, s, &l), 0);
	EXPECT_EQ(side_send(s, weir_listener_port(l)), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0); /* both clients served, both still open */
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_listener_stop(l), 0);
	dt = weir_clock_now_ns() - t0;
	if (dt > 500 * MS)
		return FAILF("stop waited %llu ms for peers that keep their side open",
			     (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_listener_get_stats(l, &st), 0);
	EXPECT_EQ(st.accepted, 2);
	EXPECT_EQ(st.refused, 0);
	EXPECT_EQ(st.active, 0);
	EXPECT_EQ(weir_listener_close(l), 0);
	return side_send(s, 1);
}

static int main_slot(struct side *s, void *arg)
{
	struct weir_flow *a, *b;
	uint32_t port, msg;
	uint8_t buf[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	/* a stays open on our side after the handler returned... */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &a), 0);
	EXPECT_EQ(weir_flow_read_into(a, buf, sizeof(buf)), 2);
	EXPECT_EQ(weir_flow_read_into(a, buf, sizeof(buf)), WEIR_EOF);
	/* ...and the one slot is free again for b. */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &b), 0);
	EXPECT_EQ(weir_flow_read_into(b, buf, sizeof(buf)), 2);
	EXPECT(memcmp(buf, "hi", 2) == 0);
	EXPECT_EQ(weir_flow_read_into(b, buf, sizeof(buf)), WEIR_EOF);
	EXPECT_EQ(side_send(s, 1), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	weir_flow_abort(a);
	weir_flow_abort(b);
	weir_flow_free(a);
	weir_flow_free(b);
	return 0;
}

START_TEST(test_handler_return_frees_slot_and_stop)
{
	ck_assert_int_eq(pair_run(main_slot, peer_slot, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- a read returns everything already received --------------------------------------------- */

static void two_parts_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint32_t msg;
	int rc;

	/* Each returns once acknowledged: both parts are in the main side's queue after. */
	rc = weir_flow_write_nodelay(f, "AAAA", 4);
	rc |= weir_flow_write_nodelay(f, "BBBB", 4);
	rc |= weir_flow_write_nodelay(f, "CCCC", 4);
	rc |= weir_flow_write_nodelay(f, "DDDD", 4);
	side_send(s, rc == 0 ? 0x600d : 0xbad);
	wait_mail(&msg, 10 * S);
}

static int main_read_all(struct side *s, void *arg)
{
	struct weir_flow *f;
	struct weir_buf b;
	uint32_t port, msg;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	/* Four segments arrived before we read: the zero-copy read returns them in one buffer. */
	EXPECT_EQ(weir_flow_read(f, &b), 8 + 8);
	EXPECT(memcmp(b.data, "AAAABBBBCCCCDDDD", 16) == 0);
	weir_buf_release(&b);
	EXPECT_EQ(side_send(s, 1), 0);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_read_returns_all_received)
{
	struct serve sv = { .handler = two_parts_handler };

	ck_assert_int_eq(pair_run(main_read_all, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static int main_read_into_all(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t buf[64];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	/* Up to the caller's size: 10 of the 16, then the other 6. */
	EXPECT_EQ(weir_flow_read_into(f, buf, 10), 10);
	EXPECT(memcmp(buf, "AAAABBBBCC", 10) == 0);
	EXPECT_EQ(weir_flow_read_into(f, buf, sizeof(buf)), 6);
	EXPECT(memcmp(buf, "CCDDDD", 6) == 0);
	EXPECT_EQ(side_send(s, 1), 0);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_read_into_returns_all_received_up_to_cap)
{
	struct serve sv = { .handler = two_parts_handler };

	ck_assert_int_eq(pair_run(main_read_into_all, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- max_connections and the backlog (Eio, Tezos) --------------------------------------------- */

/* Expects "hi" within timeout_ns. */
static int expect_hi(struct weir_flow *f, uint64_t timeout_ns)
{
	uint8_t b[8];

	EXPECT_EQ(weir_flow_read_into_until(f, b, sizeof(b), weir_clock_now_ns() + timeout_ns), 2);
	EXPECT(memcmp(b, "hi", 2) == 0);
	return 0;
}

/* Expects nothing for 300 ms: the connection waits in the backlog. */
static int expect_waiting(struct weir_flow *f)
{
	uint8_t b[8];

	EXPECT_EQ(weir_flow_read_into_until(f, b, sizeof(b), weir_clock_now_ns() + 300 * MS),
		  WEIR_ETIMEDOUT);
	return 0;
}

static int peer_backlog(struct side *s, void *arg)
{
	struct serve *sv = arg;

	sv->handler = hold_handler;
	sv->opts.max_connections = 1;
	sv->opts.backlog = 2;
	sv->opts.on_accept_error = note_accept_error;
	if (serve_until_done(s, sv))
		return 1;
	EXPECT_EQ(sv->st.accepted, 3);
	EXPECT_EQ(sv->st.refused, 1);
	EXPECT_EQ(sv->st.pending, 0);
	EXPECT_EQ(accept_errors, 0); /* a full backlog is a refusal, not an error */
	return 0;
}

static int main_backlog(struct side *s, void *arg)
{
	struct weir_flow *c[4];
	uint8_t b[8];
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &c[0]), 0);
	if (expect_hi(c[0], 5 * S))
		return 1;
	/* The one slot is busy: the next two wait in the backlog (Eio), the fourth finds it full
	 * and is closed at once (FIN). */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &c[1]), 0);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &c[2]), 0);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &c[3]), 0);
	EXPECT_EQ(weir_flow_read_into_until(c[3], b, sizeof(b), weir_clock_now_ns() + 5 * S),
		  WEIR_EOF);
	if (expect_waiting(c[1]) || expect_waiting(c[2]))
		return 1;
	/* Each handler that returns hands its slot to the oldest waiting connection. */
	EXPECT_EQ(weir_flow_shutdown(c[0], WEIR_SHUT_WR), 0);
	if (expect_hi(c[1], 5 * S) || expect_waiting(c[2]))
		return 1;
	EXPECT_EQ(weir_flow_shutdown(c[1], WEIR_SHUT_WR), 0);
	if (expect_hi(c[2], 5 * S))
		return 1;
	for (int i = 0; i < 4; i++) {
		weir_flow_close(c[i]);
		weir_flow_free(c[i]);
	}
	return side_send(s, 0xd0e);
}

START_TEST(test_max_connections_waits_in_bounded_backlog)
{
	struct serve sv = { 0 };

	accept_errors = 0;
	ck_assert_int_eq(pair_run(main_backlog, peer_backlog, &sv, NULL, 30 * S), 0);
}
END_TEST

static int peer_reset_waiting(struct side *s, void *arg)
{
	struct serve *sv = arg;

	sv->handler = hold_handler;
	sv->opts.max_connections = 1;
	sv->opts.on_accept_error = note_accept_error;
	if (serve_until_done(s, sv))
		return 1;
	EXPECT_EQ(accept_errors, 1);
	EXPECT_EQ(accept_error_class, WEIR_ACCEPT_CONNECTION);
	EXPECT_EQ(accept_error_code, WEIR_ERESET);
	EXPECT_EQ(sv->st.accepted, 1);
	EXPECT_EQ(sv->st.refused, 1);
	EXPECT_EQ(sv->st.pending, 0);
	return 0;
}

static int main_reset_waiting(struct side *s, void *arg)
{
	struct weir_flow *a, *b;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &a), 0);
	if (expect_hi(a, 5 * S))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &b), 0);
	if (expect_waiting(b))
		return 1;
	/* Reset while it waits: the listener reports that one connection, class CONNECTION. */
	EXPECT_EQ(weir_flow_abort(b), 0);
	weir_fiber_sleep_ns(100 * MS);
	weir_flow_free(b);
	weir_flow_close(a);
	weir_flow_free(a);
	return side_send(s, 0xd0e);
}

START_TEST(test_accept_error_connection_reset_while_waiting)
{
	struct serve sv = { 0 };

	accept_errors = 0;
	ck_assert_int_eq(pair_run(main_reset_waiting, peer_reset_waiting, &sv, NULL, 20 * S), 0);
}
END_TEST

/* A fiber of the listener's scope that finishes 600 ms after it is cancelled, so the scope's
 * close takes that long: connections arriving meanwhile cannot get a handler there. */
static void slow_to_cancel(void *arg)
{
	struct weir_event ev;

	(void)arg;
	weir_event_init(&ev);
	while (weir_fiber_sleep_ns(10 * S) == 0)
		;
	weir_event_wait_protected(&ev, weir_clock_now_ns() + 600 * MS);
}

static int peer_scope_closing(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .on_accept_error = note_accept_error };
	struct weir_listener *l;
	struct weir_scope *sc;
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(weir_scope_open(NULL, &sc), 0);
	o.scope = sc;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hold_handler, s, &l), 0);
	EXPECT_EQ(weir_fiber_spawn(sc, slow_to_cancel, NULL, NULL, NULL), 0);
	EXPECT_EQ(side_send(s, weir_listener_port(l)), 0);
	EXPECT_EQ(side_send(s, 1), 0);
	EXPECT_EQ(weir_scope_close(sc), 0); /* the listener closes with its scope */
	EXPECT_EQ(accept_errors, 1);
	EXPECT_EQ(accept_error_class, WEIR_ACCEPT_UNEXPECTED);
	EXPECT_EQ(accept_error_code, WEIR_EINVAL);
	return side_recv(s, &msg, 10 * S);
}

static int main_scope_closing(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[8];
	int rc;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	weir_fiber_sleep_ns(100 * MS); /* the peer's scope is closing now */
	/* TCP completes the handshake; the listener then cannot start a handler: RST. */
	rc = connect_to_peer(s, (uint16_t)port, NULL, &f);
	EXPECT_EQ(rc, 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ERESET);
	weir_flow_free(f);
	return side_send(s, 1);
}

START_TEST(test_accept_error_unexpected_scope_closing)
{
	accept_errors = 0;
	ck_assert_int_eq(pair_run(main_scope_closing, peer_scope_closing, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- accept without a handler (Eio's accept ~sw) -----------------------------------------------
 */

static int peer_accept(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .backlog = 4 };
	struct weir_listener_stats st;
	struct weir_listener *l;
	struct weir_flow *f;
	struct weir_tcp_stats ts;
	uint8_t b[16];
	ssize_t n;

	(void)arg;
	/* Options that only mean something for handlers are refused without one. */
	o.max_connections = 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, NULL, NULL, &l), WEIR_EINVAL);
	o.max_connections = 0;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, NULL, NULL, &l), 0);
	EXPECT_EQ(side_send(s, weir_listener_port(l)), 0);
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(weir_listener_accept(l, NULL, &f), 0);
		while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
			EXPECT_EQ(weir_flow_write(f, b, (size_t)n), 0);
		EXPECT_EQ(n, WEIR_EOF);
		EXPECT_EQ(weir_flow_close(f), 0);
		weir_flow_free(f);
	}
	EXPECT_EQ(weir_listener_get_stats(l, &st), 0);
	EXPECT_EQ(st.accepted, 2);
	EXPECT_EQ(st.active, 0);
	EXPECT_EQ(st.pending, 0);
	EXPECT_EQ(weir_listener_stop(l), 0);
	EXPECT_EQ(weir_listener_accept(l, NULL, &f), WEIR_ECLOSED);
	EXPECT(f == NULL);
	EXPECT_EQ(weir_listener_close(l), 0);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.flows, 0);
	return 0;
}

static int main_accept(struct side *s, void *arg)
{
	struct weir_flow *f[2];
	uint32_t port;
	uint8_t b[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	/* Both connect before the peer accepts the second: it waits in the backlog. */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f[0]), 0);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f[1]), 0);
	for (int i = 0; i < 2; i++) {
		EXPECT_EQ(weir_flow_write(f[i], i ? "two" : "one", 3), 0);
		EXPECT_EQ(weir_flow_shutdown(f[i], WEIR_SHUT_WR), 0);
		EXPECT_EQ(weir_flow_read_into(f[i], b, sizeof(b)), 3);
		EXPECT(memcmp(b, i ? "two" : "one", 3) == 0);
		EXPECT_EQ(weir_flow_read_into(f[i], b, sizeof(b)), WEIR_EOF);
		weir_flow_close(f[i]);
		weir_flow_free(f[i]);
	}
	return 0;
}

START_TEST(test_accept_without_handler)
{
	ck_assert_int_eq(pair_run(main_accept, peer_accept, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- reuse_addr: listening over TIME_WAIT; reuse_port refused until shards -------------------- */

#define REUSE_PORT 7100

static int peer_reuse(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .port = REUSE_PORT };
	struct weir_listener *l;
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hello_handler, s, &l), 0);
	EXPECT_EQ(side_send(s, REUSE_PORT), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0); /* the main side saw our FIN and closed */
	weir_fiber_sleep_ns(50 * MS);		  /* its FIN reached us: ours is in TIME_WAIT */
	EXPECT_EQ(weir_listener_close(l), 0);
	/* Without reuse_addr the port is still in use by the connection in TIME_WAIT... */
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hello_handler, s, &l), WEIR_EADDRINUSE);
	/* ...SO_REUSEPORT is refused clearly until shards come... */
	o.reuse_port = 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hello_handler, s, &l), WEIR_ENOTSUP);
	o.reuse_port = 0;
	/* ...and with reuse_addr the listener binds over it and serves. */
	o.reuse_addr = 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, hello_handler, s, &l), 0);
	EXPECT_EQ(side_send(s, REUSE_PORT), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(weir_listener_close(l), 0);
	return 0;
}

static int main_reuse(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[8];

	(void)arg;
	for (int i = 0; i < 2; i++) {
		if (wait_port(s, &port))
			return 1;
		EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
		if (expect_hi(f, 5 * S))
			return 1;
		EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
		EXPECT_EQ(weir_flow_close(f), 0);
		weir_flow_free(f);
		EXPECT_EQ(side_send(s, 1), 0);
	}
	return 0;
}

START_TEST(test_reuse_addr_listens_over_time_wait)
{
	ck_assert_int_eq(pair_run(main_reuse, peer_reuse, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- loopback: a program connects to its own listeners (Eio, Async on localhost) -------------- */

static void echo_all_handler(struct weir_flow *f, void *arg)
{
	uint8_t b[4096];
	ssize_t n;

	(void)arg;
	while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
		if (weir_flow_write(f, b, (size_t)n) < 0)
			return;
	weir_flow_shutdown(f, WEIR_SHUT_WR);
}

/* Sends 256 KiB through an echo at dst:port from one fiber and reads it back in another. */
static struct {
	struct weir_flow *f;
	int rc;
} loop_writer;

static void loop_writer_main(void *arg)
{
	static uint8_t b[256 * 1024];

	(void)arg;
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 31 + i / 977);
	loop_writer.rc = weir_flow_write(loop_writer.f, b, sizeof(b));
	if (loop_writer.rc == 0)
		loop_writer.rc = weir_flow_shutdown(loop_writer.f, WEIR_SHUT_WR);
}

static int echo_through(struct weir_ipaddr dst, uint16_t port)
{
	static uint8_t in[8192];
	struct weir_tcp_connect_opts o = { .timeout_ns = 5 * S };
	struct weir_ipaddr src;
	size_t got = 0;
	ssize_t n;

	EXPECT_EQ(weir_tcp_connect(loop_stack, dst, port, &o, &loop_writer.f), 0);
	EXPECT_EQ(weir_flow_src(loop_writer.f, &src, NULL), 0);
	EXPECT_EQ(src.v4, dst.v4); /* from the same address it went to */
	loop_writer.rc = 1;
	EXPECT_EQ(weir_fiber_spawn(NULL, loop_writer_main, NULL, NULL, NULL), 0);
	while ((n = weir_flow_read_into(loop_writer.f, in, sizeof(in))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (in[i] != (uint8_t)((got + (size_t)i) * 31 + (got + (size_t)i) / 977))
				return FAILF("byte %zu differs", got + (size_t)i);
		got += (size_t)n;
	}
	EXPECT_EQ(n, WEIR_EOF);
	EXPECT_EQ(got, 256 * 1024);
	EXPECT_EQ(loop_writer.rc, 0);
	EXPECT_EQ(weir_flow_close(loop_writer.f), 0);
	weir_flow_free(loop_writer.f);
	return 0;
}

static int main_loopback(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts lo = { 0 }, any = { 0 };
	struct weir_udp_opts uo = { 0 };
	struct weir_listener *l1, *l2;
	struct weir_flow *f;
	struct weir_ipaddr localhost, src;
	struct weir_udp *u1, *u2;
	uint16_t sport;
	uint8_t d[8];

	(void)arg;
	loop_stack = s->stack;
	EXPECT_EQ(weir_ipaddr_parse("127.0.0.1", &localhost), 0);
	/* A listener on 127.0.0.1 only, and one on every address. */
	lo.ip = localhost;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, echo_all_handler, NULL, &l1), 0);
	EXPECT_EQ(weir_tcp_listen(s->stack, &any, echo_all_handler, NULL, &l2), 0);
	if (echo_through(localhost, weir_listener_port(l1)) ||
	    echo_through(localhost, weir_listener_port(l2)) ||
	    echo_through(s->me, weir_listener_port(l2)))
		return 1;
	/* 127.0.0.1 only: not reachable on the stack's own address; a closed port refuses. */
	EXPECT_EQ(weir_tcp_connect(s->stack, s->me, weir_listener_port(l1), NULL, &f),
		  WEIR_EREFUSED);
	EXPECT_EQ(weir_tcp_connect(s->stack, localhost, 9, NULL, &f), WEIR_EREFUSED);
	EXPECT_EQ(weir_listener_close(l1), 0);
	EXPECT_EQ(weir_listener_close(l2), 0);
	/* UDP to ourselves, both ways. */
	EXPECT_EQ(weir_udp_open(s->stack, &uo, &u1), 0);
	EXPECT_EQ(weir_udp_open(s->stack, &uo, &u2), 0);
	EXPECT_EQ(weir_udp_send_to(u1, localhost, weir_udp_port(u2), "ping", 4), 0);
	EXPECT_EQ(weir_udp_recv_from(u2, d, sizeof(d), &src, &sport, 2 * S), 4);
	EXPECT_EQ(src.v4, localhost.v4);
	EXPECT_EQ(sport, weir_udp_port(u1));
	EXPECT_EQ(weir_udp_send_to(u2, s->me, weir_udp_port(u1), "pong", 4), 0);
	EXPECT_EQ(weir_udp_recv_from(u1, d, sizeof(d), NULL, NULL, 2 * S), 4);
	EXPECT(memcmp(d, "pong", 4) == 0);
	weir_udp_close(u1);
	weir_udp_close(u2);
	return 0;
}

START_TEST(test_loopback_reaches_own_listeners)
{
#if !LWIP_HAVE_LOOPIF
	fprintf(stderr, "SKIP: test_loopback_reaches_own_listeners: CONFIG_LWIP_LOOPBACK is off\n");
	return;
#endif
	ck_assert_int_eq(pair_run(main_loopback, idle_peer, NULL, NULL, 30 * S), 0);
}
END_TEST

/* --- one time convention, the seeds' defaults (weir/clock.h) ---------------------------------- */

static struct {
	struct weir_stack *stack;
	struct weir_ipaddr hole;
	int rc[3];
	uint64_t took[3];
} tmo;

static int nop_with(struct weir_flow *f, void *arg)
{
	(void)f;
	(void)arg;
	return 0;
}

static void tmo_connect(void *arg)
{
	struct weir_flow *f = NULL;
	uint64_t t0 = weir_clock_now_ns();

	(void)arg;
	tmo.rc[0] = weir_tcp_connect(tmo.stack, tmo.hole, 80, NULL, &f);
	tmo.took[0] = weir_clock_now_ns() - t0;
}

static void tmo_connect_host(void *arg)
{
	struct weir_flow *f = NULL;
	uint64_t t0 = weir_clock_now_ns();

	(void)arg;
	tmo.rc[1] = weir_tcp_connect_host(tmo.stack, "hole", "80", NULL, &f);
	tmo.took[1] = weir_clock_now_ns() - t0;
}

static void tmo_with(void *arg)
{
	uint64_t t0 = weir_clock_now_ns();

	(void)arg;
	tmo.rc[2] = weir_with_connection(tmo.stack, "hole", "80", NULL, nop_with, NULL);
	tmo.took[2] = weir_clock_now_ns() - t0;
}

static int main_timeouts(struct side *s, void *arg)
{
	struct weir_fiber *fc;

	(void)arg;
	/* The convention's arithmetic: 0 is the default, nothing wraps past "never". */
	EXPECT_EQ(weir_deadline_after(100, 0, 5), 105);
	EXPECT_EQ(weir_deadline_after(100, 7, 5), 107);
	EXPECT_EQ(weir_deadline_after(100, 0, WEIR_TIMEOUT_NEVER), WEIR_DEADLINE_NEVER);
	EXPECT_EQ(weir_deadline_after(100, WEIR_TIMEOUT_NEVER - 50, 5), WEIR_DEADLINE_NEVER);
	/* A black hole: nothing answers its ARP. */
	tmo.stack = s->stack;
	tmo.rc[0] = tmo.rc[1] = tmo.rc[2] = 1;
	weir_ipaddr_parse("192.0.2.99", &tmo.hole);
	weir_hosts_clear();
	EXPECT_EQ(weir_hosts_add("hole", tmo.hole), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, tmo_connect, NULL, NULL, &fc), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, tmo_connect_host, NULL, NULL, NULL), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, tmo_with, NULL, NULL, NULL), 0);
	weir_fiber_sleep_ns(11 * S);
	/* Tezos's connect: 5 s an address; Async's with_connection: 10 s. */
	EXPECT_EQ(tmo.rc[1], WEIR_ETIMEDOUT);
	if (tmo.took[1] < 4900 * MS || tmo.took[1] > 5500 * MS)
		return FAILF("connect_host gave up after %llu ms, wanted 5000",
			     (unsigned long long)(tmo.took[1] / MS));
	EXPECT_EQ(tmo.rc[2], WEIR_ETIMEDOUT);
	if (tmo.took[2] < 9900 * MS || tmo.took[2] > 10500 * MS)
		return FAILF("with_connection gave up after %llu ms, wanted 10000",
			     (unsigned long long)(tmo.took[2] / MS));
	/* Eio's connect has no timeout of its own: still trying after 11 s (lwIP's SYN
	 * retransmissions end it after about two minutes); cancelled, it returns at once. */
	EXPECT_EQ(tmo.rc[0], 1);
	weir_fiber_cancel(fc);
	EXPECT_EQ(weir_fiber_join(fc), 0);
	EXPECT_EQ(tmo.rc[0], WEIR_ECANCELED);
	weir_hosts_clear();
	return 0;
}

START_TEST(test_time_convention_and_seed_defaults)
{
	ck_assert_int_eq(pair_run(main_timeouts, idle_peer, NULL, NULL, 30 * S), 0);
}
END_TEST

/* --- identity: unique sequential ids, local and remote endpoints (P2p_fd, Mirage) --------------
 */

/* Tells the main side this flow's id and the remote port it sees. */
static void ident_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	struct weir_ipaddr lip, rip;
	uint16_t lport, rport;
	uint32_t msg;

	weir_flow_src(f, &lip, &lport);
	weir_flow_dst(f, &rip, &rport);
	/* Our end is the listener's address and port; the remote is the main side. */
	if (lip.v4 != s->me.v4 || rip.v4 != s->peer.v4 || lport != 7200)
		rport = 0;
	side_send(s, (uint32_t)weir_flow_id(f) << 16 | rport);
	wait_mail(&msg, 10 * S);
}

static int main_ident(struct side *s, void *arg)
{
	struct weir_flow *f[3];
	uint32_t port, msg, peer_id[3];
	struct weir_ipaddr ip;
	uint16_t lport, rport;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f[i]), 0);
		EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
		EXPECT_EQ(weir_flow_src(f[i], &ip, &lport), 0);
		EXPECT_EQ(ip.v4, s->me.v4);
		EXPECT_EQ(weir_flow_dst(f[i], &ip, &rport), 0);
		EXPECT_EQ(ip.v4, s->peer.v4);
		EXPECT_EQ(rport, 7200);
		/* The peer saw our local port as its remote one. */
		EXPECT_EQ(msg & 0xffff, lport);
		peer_id[i] = msg >> 16;
	}
	/* Unique and sequential on each side, in the order the flows were made. */
	EXPECT(weir_flow_id(f[0]) > 0);
	EXPECT_EQ(weir_flow_id(f[1]), weir_flow_id(f[0]) + 1);
	EXPECT_EQ(weir_flow_id(f[2]), weir_flow_id(f[1]) + 1);
	EXPECT(peer_id[0] > 0);
	EXPECT_EQ(peer_id[1], peer_id[0] + 1);
	EXPECT_EQ(peer_id[2], peer_id[1] + 1);
	for (int i = 0; i < 3; i++) {
		EXPECT_EQ(side_send(s, 1), 0);
		weir_flow_close(f[i]);
		weir_flow_free(f[i]);
	}
	return side_send(s, 0xd0e);
}

START_TEST(test_ids_sequential_and_endpoints)
{
	struct serve sv = { .handler = ident_handler, .opts = { .port = 7200 } };

	ck_assert_int_eq(pair_run(main_ident, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- the setters on a live flow (Tezos set_tcp_keepalive / set_tcp_user_timeout, nodelay) ----- */

static void vanish_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint32_t msg;

	(void)f;
	side_send(s, 0xacc);
	wait_mail(&msg, 10 * S); /* the main side set its options */
	_exit(0);		 /* gone without FIN or RST */
}

static int main_live_setters(struct side *s, void *arg)
{
	struct weir_keepalive ka = { 300, 100, 3 };
	struct weir_flow_stats st0, st1;
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0); /* no options */
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	/* Nagle on (the default): two small writes in a row, the second waits for an ACK. */
	EXPECT_EQ(weir_flow_get_stats(f, &st0), 0);
	EXPECT_EQ(weir_flow_write(f, "a", 1), 0);
	EXPECT_EQ(weir_flow_write(f, "b", 1), 0);
	EXPECT_EQ(weir_flow_get_stats(f, &st1), 0);
	EXPECT_EQ(st1.segments_out - st0.segments_out, 1);
	weir_fiber_sleep_ns(100 * MS); /* acknowledged, the second sent */
	/* Nagle off on the live flow: both go at once. */
	EXPECT_EQ(weir_flow_set_nodelay(f, 1), 0);
	EXPECT_EQ(weir_flow_get_stats(f, &st0), 0);
	EXPECT_EQ(weir_flow_write(f, "c", 1), 0);
	EXPECT_EQ(weir_flow_write(f, "d", 1), 0);
	EXPECT_EQ(weir_flow_get_stats(f, &st1), 0);
	EXPECT_EQ(st1.segments_out - st0.segments_out, 2);
	weir_fiber_sleep_ns(100 * MS);
	/* Keepalive switched on while connected notices the peer vanish. */
	EXPECT_EQ(weir_flow_set_keepalive(f, &ka), 0);
	EXPECT_EQ(side_send(s, 1), 0);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	dt = weir_clock_now_ns() - t0;
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_KEEPALIVE);
	if (dt < 400 * MS || dt > 2500 * MS)
		return FAILF("keepalive set live noticed after %llu ms, wanted ~600",
			     (unsigned long long)(dt / MS));
	/* On a flow that ended, the setters say so. */
	EXPECT_EQ(weir_flow_set_keepalive(f, &ka), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_user_timeout(f, 500), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_nodelay(f, 0), WEIR_ECLOSED);
	weir_flow_free(f);
	return 0;
}

static int peer_vanish(struct side *s, void *arg)
{
	struct serve sv = { .handler = vanish_handler };

	(void)arg;
	return serve_until_done(s, &sv);
}

START_TEST(test_setters_on_a_live_flow)
{
	ck_assert_int_eq(pair_run(main_live_setters, peer_vanish, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_live_user_timeout(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(weir_flow_set_user_timeout(f, 700), 0);
	EXPECT_EQ(side_send(s, 1), 0);
	weir_fiber_sleep_ns(100 * MS); /* the peer is gone */
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_flow_write(f, "data", 4), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	dt = weir_clock_now_ns() - t0;
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_USER_TIMEOUT);
	if (dt < 650 * MS || dt > 1500 * MS)
		return FAILF("user timeout set live fired after %llu ms, wanted ~700",
			     (unsigned long long)(dt / MS));
	weir_flow_free(f);
	return 0;
}

START_TEST(test_user_timeout_set_on_a_live_flow)
{
	ck_assert_int_eq(pair_run(main_live_user_timeout, peer_vanish, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- with_connection closes the flow on every path (Async, Tezos) ---------------------------- */

static int with_ok(struct weir_flow *f, void *arg)
{
	(void)arg;
	return weir_flow_write(f, "x", 1);
}

static int with_fails(struct weir_flow *f, void *arg)
{
	(void)f;
	(void)arg;
	return WEIR_EPROTO;
}

static int with_blocks(struct weir_flow *f, void *arg)
{
	uint8_t b[4];

	(void)arg;
	return (int)weir_flow_read_into(f, b, sizeof(b)); /* until cancelled */
}

static struct {
	struct weir_stack *stack;
	int rc;
} wc;

static void with_blocks_fiber(void *arg)
{
	(void)arg;
	wc.rc = weir_with_connection(wc.stack, "peer", "7300", NULL, with_blocks, NULL);
}

/* Counts the connections it served that ended with our FIN (not RST) and reports each. */
static void count_fin_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint8_t b[16];
	ssize_t n;

	while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
		;
	side_send(s, n == WEIR_EOF ? 0xf1 : 0xbad);
}

static int main_with(struct side *s, void *arg)
{
	struct weir_tcp_stats ts;
	struct weir_fiber *fb;
	uint32_t port, msg;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	weir_hosts_clear();
	EXPECT_EQ(weir_hosts_add("peer", s->peer), 0);
	wc.stack = s->stack;
	/* fn succeeds; fn fails; fn is cancelled while blocked: each time the flow is closed
	 * (the peer sees our FIN) and freed. */
	EXPECT_EQ(weir_with_connection(s->stack, "peer", "7300", NULL, with_ok, NULL), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0xf1);
	EXPECT_EQ(weir_with_connection(s->stack, "peer", "7300", NULL, with_fails, NULL),
		  WEIR_EPROTO);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0xf1);
	EXPECT_EQ(weir_fiber_spawn(NULL, with_blocks_fiber, NULL, NULL, &fb), 0);
	weir_fiber_sleep_ns(100 * MS);
	weir_fiber_cancel(fb);
	EXPECT_EQ(weir_fiber_join(fb), 0);
	EXPECT_EQ(wc.rc, WEIR_ECANCELED);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0xf1);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.flows, 0);
	weir_hosts_clear();
	return side_send(s, 0xd0e);
}

START_TEST(test_with_connection_closes_on_every_path)
{
	struct serve sv = { .handler = count_fin_handler, .opts = { .port = 7300 } };

	ck_assert_int_eq(pair_run(main_with, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

Suite *weir_test_seeds_suite(void)
{
	Suite *s = suite_create("seeds");
	TCase *tc = tcase_create("flows");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_close_lets_other_fibers_read_until_peer_fin);
	tcase_add_test(tc, test_close_without_reader_reaches_peer_fin);
	tcase_add_test(tc, test_handler_return_frees_slot_and_stop);
	tcase_add_test(tc, test_read_returns_all_received);
	tcase_add_test(tc, test_read_into_returns_all_received_up_to_cap);
	tcase_add_test(tc, test_max_connections_waits_in_bounded_backlog);
	tcase_add_test(tc, test_accept_error_connection_reset_while_waiting);
	tcase_add_test(tc, test_accept_error_unexpected_scope_closing);
	tcase_add_test(tc, test_accept_without_handler);
	tcase_add_test(tc, test_reuse_addr_listens_over_time_wait);
	tcase_add_test(tc, test_loopback_reaches_own_listeners);
	tcase_add_test(tc, test_time_convention_and_seed_defaults);
	tcase_add_test(tc, test_ids_sequential_and_endpoints);
	tcase_add_test(tc, test_setters_on_a_live_flow);
	tcase_add_test(tc, test_user_timeout_set_on_a_live_flow);
	tcase_add_test(tc, test_with_connection_closes_on_every_path);
	suite_add_tcase(s, tc);
	return s;
}
