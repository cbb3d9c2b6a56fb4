/* test_tcp.c - TCP flow behaviours between two weir processes over the link driver. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

#include "lwip/priv/tcp_priv.h" /* TCP_INITIAL_RTO_MS, TCP_SLOW_INTERVAL: for the stall limit */

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/config.h>
#include <weir/error.h>

#include "weir_tests.h"
#include "pair.h"

#define S    WEIR_NS_PER_S
#define MS   WEIR_NS_PER_MS
#define PORT 7000

/* --- helpers ---------------------------------------------------------------------------------- */

/* Writes n pattern bytes in pieces of up to 64 KiB. */
static int write_pattern(struct weir_flow *f, uint64_t n, uint32_t seed, int nodelay)
{
	static uint8_t buf[65536 + 17];
	uint64_t off = 0;

	while (off < n) {
		size_t k = (size_t)(n - off < sizeof(buf) ? n - off : sizeof(buf) - (off % 17));
		int rc;

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern_byte(off + i, seed);
		rc = nodelay ? weir_flow_write_nodelay(f, buf, k) : weir_flow_write(f, buf, k);
		if (rc < 0)
			return rc;
		off += k;
	}
	return 0;
}

/* Reads until EOF, checking the pattern; returns bytes read or a negative code. */
/* The longest time read_pattern waited for its next bytes (this process), for stall checks. */
static uint64_t read_max_gap_ns;

static int64_t read_pattern(struct weir_flow *f, uint32_t seed, int zero_copy)
{
	static uint8_t buf[40000];
	int64_t off = 0;
	uint64_t last = 0;

	for (;;) {
		ssize_t n;
		const uint8_t *d;
		struct weir_buf b;

		if (off > 0) {
			uint64_t now = weir_clock_now_ns();

			if (last != 0 && now - last > read_max_gap_ns)
				read_max_gap_ns = now - last;
			last = now;
		}

		if (zero_copy) {
			n = weir_flow_read(f, &b);
			d = b.data;
		} else {
			n = weir_flow_read_into(f, buf, sizeof(buf));
			d = buf;
		}
		if (n == WEIR_EOF)
			return off;
		if (n < 0)
			return n;
		for (ssize_t i = 0; i < n; i++) {
			if (d[i] != pattern_byte((uint64_t)off + (uint64_t)i, seed)) {
				FAILF("byte %lld differs", (long long)(off + i));
				if (zero_copy)
					weir_buf_release(&b);
				return WEIR_EIO;
			}
		}
		off += n;
		if (zero_copy)
			weir_buf_release(&b);
	}
}

/* Set by handlers in the peer process, polled by the peer's own fiber. */
static int handler_running;

static int wait_handler_running(uint64_t timeout_ns)
{
	uint64_t deadline = weir_clock_now_ns() + timeout_ns;

	while (!handler_running) {
		if (weir_clock_now_ns() > deadline)
			return WEIR_ETIMEDOUT;
		weir_fiber_sleep_ns(MS);
	}
	return 0;
}

static void sink_handler(struct weir_flow *f, void *arg)
{
	uint8_t buf[4096];

	(void)arg;
	while (weir_flow_read_into(f, buf, sizeof(buf)) > 0)
		;
}

static void echo_handler(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			return;
	}
	weir_flow_shutdown(f, WEIR_SHUT_WR);
}

/* --- connect ---------------------------------------------------------------------------------- */

static int main_connect_refused(struct side *s, void *arg)
{
	struct weir_flow *f = (void *)1;

	(void)arg;
	EXPECT_EQ(connect_to_peer(s, 9, NULL, &f), WEIR_EREFUSED);
	EXPECT(f == NULL);
	return 0;
}

START_TEST(test_connect_refused)
{
	ck_assert_int_eq(pair_run(main_connect_refused, idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_connect_timeout(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .timeout_ns = 300 * MS };
	struct weir_ipaddr nobody;
	struct weir_flow *f;
	uint64_t t0 = weir_clock_now_ns(), dt;

	(void)arg;
	weir_ipaddr_parse("192.0.2.99", &nobody);
	EXPECT_EQ(weir_tcp_connect(s->stack, nobody, 80, &o, &f), WEIR_ETIMEDOUT);
	dt = weir_clock_now_ns() - t0;
	if (dt < 290 * MS || dt > 1500 * MS)
		return FAILF("timed out after %llu ms, wanted 300", (unsigned long long)(dt / MS));
	return 0;
}

START_TEST(test_connect_timeout)
{
	ck_assert_int_eq(pair_run(main_connect_timeout, idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_connect_bad_args(struct side *s, void *arg)
{
	struct weir_flow *f;
	struct weir_ipaddr zero = { 0 };
	struct weir_tcp_connect_opts bad = { .flow.nodelay = 7 };

	(void)arg;
	EXPECT_EQ(weir_tcp_connect(NULL, s->peer, 80, NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect(s->stack, zero, 80, NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 0, NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 80, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 80, &bad, &f), WEIR_EINVAL);
	return 0;
}

START_TEST(test_connect_rejects_bad_arguments)
{
	ck_assert_int_eq(pair_run(main_connect_bad_args, idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_bind_in_use(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .local_port = 5555 };
	struct weir_flow *a, *b;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &a), 0);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &b), WEIR_EADDRINUSE);
	weir_flow_close(a);
	weir_flow_free(a);
	return side_send(s, 0xd0e);
}

START_TEST(test_connect_local_port_in_use)
{
	struct serve sv = { .handler = sink_handler };

	ck_assert_int_eq(pair_run(main_bind_in_use, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- reading, EOF, reset ---------------------------------------------------------------------- */

static void write_100k_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	write_pattern(f, 100000, 7, 0);
}

static int main_read_after_fin(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	int64_t n;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	/* Let the peer write everything and send its FIN before we read a byte. */
	weir_fiber_sleep_ns(300 * MS);
	n = read_pattern(f, 7, 1);
	EXPECT_EQ(n, 100000);
	EXPECT_EQ(weir_flow_read_into(f, (uint8_t[1]){ 0 }, 1), WEIR_EOF);
	EXPECT_EQ(weir_flow_close(f), 0);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_PEER_FIN);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_read_after_peer_fin_drains_data_then_eof)
{
	struct serve sv = { .handler = write_100k_handler };

	ck_assert_int_eq(pair_run(main_read_after_fin, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void abort_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	weir_flow_abort(f);
}

static int main_write_after_reset(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[100] = { 0 };

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ERESET);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_PEER_RST);
	for (int i = 0; i < 3; i++)
		EXPECT_EQ(weir_flow_write(f, b, sizeof(b)), WEIR_ERESET);
	EXPECT_EQ(weir_flow_write_nodelay(f, b, sizeof(b)), WEIR_ERESET);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_write_after_reset_fails_forever)
{
	struct serve sv = { .handler = abort_handler };

	ck_assert_int_eq(pair_run(main_write_after_reset, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void expect_reset_handler(struct weir_flow *f, void *arg)
{
	uint8_t b[64];
	struct side *s = arg;

	if (weir_flow_read_into(f, b, sizeof(b)) == WEIR_ERESET &&
	    weir_flow_close_reason(f) == WEIR_CLOSE_PEER_RST)
		side_send(s, 0x1e5e7);
	else
		side_send(s, 0xbad);
}

static int main_abort(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_abort(f), 0);
	EXPECT_EQ(weir_flow_abort(f), 0);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_ABORT);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x1e5e7);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_abort_resets_peer)
{
	struct serve sv = { .handler = expect_reset_handler };

	ck_assert_int_eq(pair_run(main_abort, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- writing ---------------------------------------------------------------------------------- */

static int main_nodelay(struct side *s, void *arg)
{
	struct weir_flow *f;
	struct weir_flow_stats st;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	/* A plain write returns once the stack took the bytes: most are still unacknowledged. */
	EXPECT_EQ(write_pattern(f, 1 << 20, 1, 0), 0);
	EXPECT_EQ(weir_flow_get_stats(f, &st), 0);
	if (st.snd_queued == 0)
		return FAILF("1 MiB written and already all acknowledged: cannot tell the write "
			     "kinds apart");
	/* write_nodelay returns only when the peer acknowledged everything. */
	for (int i = 0; i < 20; i++) {
		EXPECT_EQ(write_pattern(f, 100 + (uint64_t)i * 1000, 2, 1), 0);
		EXPECT_EQ(weir_flow_get_stats(f, &st), 0);
		EXPECT_EQ(st.snd_queued, 0);
	}
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_nodelay_returns_only_after_ack)
{
	struct serve sv = { .handler = sink_handler };

	ck_assert_int_eq(pair_run(main_nodelay, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

static int main_echo_writev(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	char got[64];
	struct weir_iov iov[3] = { { "hello", 5 }, { NULL, 0 }, { " world", 6 } };
	ssize_t n, total = 0;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_writev(f, iov, 3), 0);
	EXPECT_EQ(weir_flow_writev_nodelay(f, iov, 1), 0);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	while ((n = weir_flow_read_into(f, got + total, sizeof(got) - (size_t)total)) > 0)
		total += n;
	EXPECT_EQ(n, WEIR_EOF);
	EXPECT_EQ(total, 16);
	EXPECT(memcmp(got, "hello worldhello", 16) == 0);
	/* Writing after our own shutdown is ours to get wrong. */
	EXPECT_EQ(weir_flow_write(f, "x", 1), WEIR_ECLOSED);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_writev_and_half_close_echo)
{
	struct serve sv = { .handler = echo_handler };

	ck_assert_int_eq(pair_run(main_echo_writev, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- shutdown and close ----------------------------------------------------------------------- */

static void shut_rd_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint8_t b[16];
	uint32_t msg;

	weir_flow_shutdown(f, WEIR_SHUT_RD);
	side_send(s, weir_flow_read_into(f, b, sizeof(b)) == WEIR_ECLOSED ? 0x5d : 0xbad);
	wait_mail(&msg, 20 * S); /* the main side wrote everything */
	weir_flow_write(f, "bye", 3);
}

static int main_shut_rd(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	char b[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x5d);
	/* The peer stopped reading: it still takes (and drops) 2 MiB without resetting us. */
	EXPECT_EQ(write_pattern(f, 2 << 20, 3, 1), 0);
	EXPECT_EQ(side_send(s, 1), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 3);
	EXPECT(memcmp(b, "bye", 3) == 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_NONE);
	weir_flow_close(f);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_PEER_FIN);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_shutdown_read_does_not_reset_peer)
{
	struct serve sv = { .handler = shut_rd_handler };

	ck_assert_int_eq(pair_run(main_shut_rd, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

static int main_close_idempotent(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[4];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_write(f, "abc", 3), 0);
	EXPECT_EQ(weir_flow_close(f), 0);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_CLOSE);
	EXPECT_EQ(weir_flow_close(f), 0);
	EXPECT_EQ(weir_flow_abort(f), 0);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_CLOSE);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_write(f, "x", 1), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_nodelay(f, 1), WEIR_ECLOSED);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_close_is_idempotent)
{
	struct serve sv = { .handler = sink_handler };

	ck_assert_int_eq(pair_run(main_close_idempotent, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- listeners -------------------------------------------------------------------------------- */

static void slow_bye_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	handler_running = 1;
	weir_fiber_sleep_ns(300 * MS);
	weir_flow_write(f, "bye", 3);
}

static int peer_stop(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .port = PORT };
	struct weir_listener *l;
	uint64_t t0;
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, slow_bye_handler, s, &l), 0);
	EXPECT_EQ(side_send(s, PORT), 0);
	EXPECT_EQ(wait_handler_running(5 * S), 0);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_listener_stop(l), 0);
	if (weir_clock_now_ns() - t0 < 200 * MS)
		return FAILF("stop returned before the handler finished");
	EXPECT_EQ(side_send(s, 0x5709), 0);
	EXPECT_EQ(side_recv(s, &msg, 20 * S), 0);
	EXPECT_EQ(weir_listener_close(l), 0);
	return 0;
}

static int main_stop(struct side *s, void *arg)
{
	struct weir_flow *f, *g;
	uint32_t port, msg;
	char b[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 3);
	EXPECT(memcmp(b, "bye", 3) == 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	/* The handler's close waits for our FIN; stop waits for the handler. */
	weir_flow_close(f);
	weir_flow_free(f);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x5709);
	/* Stopped: no more accepting. */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &g), WEIR_EREFUSED);
	return side_send(s, 0xd0e);
}

START_TEST(test_listener_stop_lets_handlers_finish)
{
	ck_assert_int_eq(pair_run(main_stop, peer_stop, NULL, NULL, 20 * S), 0);
}
END_TEST

static int cancelled_reads;

static void blocked_reader_handler(struct weir_flow *f, void *arg)
{
	uint8_t b[8];

	(void)arg;
	handler_running = 1;
	if (weir_flow_read_into(f, b, sizeof(b)) == WEIR_ECANCELED)
		cancelled_reads++;
}

static int peer_close(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts o = { .port = PORT };
	struct weir_listener *l;
	uint64_t t0;

	(void)arg;
	EXPECT_EQ(weir_tcp_listen(s->stack, &o, blocked_reader_handler, s, &l), 0);
	EXPECT_EQ(side_send(s, PORT), 0);
	EXPECT_EQ(wait_handler_running(5 * S), 0);
	weir_fiber_sleep_ns(20 * MS); /* let it block in its read */
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_listener_close(l), 0);
	if (weir_clock_now_ns() - t0 > 500 * MS)
		return FAILF("close took %llu ms",
			     (unsigned long long)((weir_clock_now_ns() - t0) / MS));
	EXPECT_EQ(cancelled_reads, 1);
	return side_send(s, 0xc105);
}

static int main_close_listener(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0xc105);
	/* The cancelled handler's flow was closed: we see the peer's FIN. */
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	weir_flow_close(f);
	weir_flow_free(f);
	return 0;
}

START_TEST(test_listener_close_cancels_handlers)
{
	ck_assert_int_eq(pair_run(main_close_listener, peer_close, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_echo_port0(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	char b[8];
	struct weir_ipaddr ip;
	uint16_t p;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	if (port == 0 || port == PORT)
		return FAILF("the stack chose port %u", port);
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_dst(f, &ip, &p), 0);
	EXPECT_EQ(ip.v4, s->peer.v4);
	EXPECT_EQ(p, port);
	EXPECT_EQ(weir_flow_src(f, &ip, &p), 0);
	EXPECT_EQ(ip.v4, s->me.v4);
	EXPECT(p != 0);
	EXPECT_EQ(weir_flow_write(f, "ping", 4), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), 4);
	EXPECT(memcmp(b, "ping", 4) == 0);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_listen_port_chosen_by_stack)
{
	struct serve sv = { .handler = echo_handler };

	ck_assert_int_eq(pair_run(main_echo_port0, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static int peer_max_conn(struct side *s, void *arg)
{
	struct serve *sv = arg;

	sv->handler = hold_handler;
	sv->opts.max_connections = 1;
	sv->opts.refuse_over_max = 1; /* the option; by default it would wait (unit.seeds) */
	if (serve_until_done(s, sv))
		return 1;
	EXPECT_EQ(sv->st.accepted, 1);
	EXPECT_EQ(sv->st.refused, 1);
	return 0;
}

static int main_max_conn(struct side *s, void *arg)
{
	struct weir_flow *a, *b;
	uint32_t port;
	uint8_t buf[8];

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &a), 0);
	EXPECT_EQ(weir_flow_read_into(a, buf, sizeof(buf)), 2);
	/* The second connection is accepted by TCP and closed at once (FIN, not RST). */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &b), 0);
	EXPECT_EQ(weir_flow_read_into(b, buf, sizeof(buf)), WEIR_EOF);
	weir_flow_close(b);
	weir_flow_free(b);
	weir_flow_close(a);
	weir_flow_free(a);
	return side_send(s, 0xd0e);
}

START_TEST(test_listener_max_connections)
{
	struct serve sv = { 0 };

	ck_assert_int_eq(pair_run(main_max_conn, peer_max_conn, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- scopes ----------------------------------------------------------------------------------- */

static int scoped_read_rc;

static void scoped_reader(void *arg)
{
	uint8_t b[8];

	scoped_read_rc = (int)weir_flow_read_into(arg, b, sizeof(b));
}

static int main_scope(struct side *s, void *arg)
{
	struct weir_scope *sc;
	struct weir_tcp_connect_opts o = { 0 };
	struct weir_flow *f;
	struct weir_tcp_stats ts;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(weir_scope_open(NULL, &sc), 0);
	o.scope = sc;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	EXPECT_EQ(weir_fiber_spawn(sc, scoped_reader, f, NULL, NULL), 0);
	weir_fiber_sleep_ns(50 * MS);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.flows, 1);
	EXPECT_EQ(weir_scope_close(sc), 0);
	EXPECT_EQ(scoped_read_rc, WEIR_ECANCELED);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.flows, 0); /* the scope closed and freed its flow */
	return side_send(s, 0xd0e);
}

START_TEST(test_scope_close_cancels_fibers_and_frees_flows)
{
	struct serve sv = { .handler = sink_handler };

	ck_assert_int_eq(pair_run(main_scope, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- stats and bulk --------------------------------------------------------------------------- */

struct bulk {
	uint64_t bytes;
	int zero_copy;
	int one_way; /* each direction in turn instead of both at once */
	/* Fail if data stops for longer on either side than this (ms), or, with stall_rtos set,
	 * than that many back-to-back retransmission timeouts (0 and 0: no check). */
	uint32_t max_stall_ms;
	uint32_t stall_rtos;
};

static struct bulk *bulk_cfg;

static int bulk_handler(struct weir_flow *f)
{
	int64_t n = read_pattern(f, 11, bulk_cfg->zero_copy);

	if (n != (int64_t)bulk_cfg->bytes) {
		FAILF("peer read %lld of %llu", (long long)n, (unsigned long long)bulk_cfg->bytes);
		weir_flow_abort(f);
		return 1;
	}
	return 0;
}

struct writer {
	struct weir_flow *f;
	uint64_t n;
	int rc;
	int done;
};

static void writer_fiber(void *arg)
{
	struct writer *w = arg;

	w->rc = write_pattern(w->f, w->n, 11, 0);
	if (w->rc == 0)
		w->rc = weir_flow_shutdown(w->f, WEIR_SHUT_WR);
	w->done = 1;
}

static void bulk_echo_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	struct writer w = { .f = f, .n = bulk_cfg->bytes };
	struct weir_fiber *fib;
	struct weir_flow_stats st = { 0 };
	int bad;

	if (bulk_cfg->one_way) {
		/* Take everything first, then send everything back. */
		bad = bulk_handler(f);
		writer_fiber(&w);
	} else {
		/* Both directions at once: a writer fiber while this one reads. */
		if (weir_fiber_spawn(NULL, writer_fiber, &w, NULL, &fib) != 0)
			return;
		bad = bulk_handler(f);
		weir_fiber_join(fib);
	}
	weir_flow_get_stats(f, &st);
	side_send(s, bad ? 0xbad : 0xb0b);
	/* Then, for the main side's stall check: the longest wait for data here, in ms, and this
	 * side's retransmission timeout (it paces the data the main side waited for); and how
	 * this side repaired its losses, for the report. */
	side_send(s, (uint32_t)(read_max_gap_ns / WEIR_NS_PER_MS));
	side_send(s, st.rto_ms);
	side_send(s, st.rto_timeouts);
	side_send(s, st.fast_recoveries);
	side_send(s, st.loss_probes);
}

static int main_bulk(struct side *s, void *arg)
{
	struct bulk *b = arg;
	struct weir_flow *f;
	struct weir_fiber *fib;
	struct weir_flow_stats st;
	struct writer w = { 0 };
	uint32_t port;
	int64_t n;
	uint64_t t0 = weir_clock_now_ns();
	uint32_t peer_gap_ms = 0, my_gap_ms, peer_rto_ms = 0, limit_ms;
	uint32_t peer_rec[3] = { 0 }; /* the peer's RTOs, recoveries, probes */
	char lim[32];

	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	w.f = f;
	w.n = b->bytes;
	if (b->one_way) {
		writer_fiber(&w);
		n = read_pattern(f, 11, b->zero_copy);
	} else {
		EXPECT_EQ(weir_fiber_spawn(NULL, writer_fiber, &w, NULL, &fib), 0);
		n = read_pattern(f, 11, b->zero_copy);
		EXPECT_EQ(weir_fiber_join(fib), 0);
	}
	EXPECT_EQ(w.rc, 0);
	EXPECT_EQ(n, (int64_t)b->bytes);
	{
		uint32_t msg = 0;

		EXPECT_EQ(side_recv(s, &msg, 60 * S), 0);
		EXPECT_EQ(msg, 0xb0b); /* the peer got every byte too */
		EXPECT_EQ(side_recv(s, &peer_gap_ms, 60 * S), 0);
		EXPECT_EQ(side_recv(s, &peer_rto_ms, 60 * S), 0);
		for (int i = 0; i < 3; i++)
			EXPECT_EQ(side_recv(s, &peer_rec[i], 60 * S), 0);
	}
	EXPECT_EQ(weir_flow_get_stats(f, &st), 0);
	/* Every byte is acknowledged, so each side's RTO is back to its un-backed-off value. */
	EXPECT(st.rto_ms > 0);
	EXPECT(peer_rto_ms > 0);
	my_gap_ms = (uint32_t)(read_max_gap_ns / WEIR_NS_PER_MS);
	limit_ms = b->max_stall_ms;
	if (b->stall_rtos != 0) {
		/* k timeouts in a row, each twice the last (RFC 6298 5.5): (2^k - 1) RTOs, plus a
		 * slow-timer tick each, the timer's granularity. The RTO is the larger of the two
		 * sides' (each side's data is paced by the other's RTO) and never below the
		 * initial 1 s: a loss early in the transfer, before RTT samples have brought the
		 * RTO down, waits 1 s, then 2 s, then 4 s. */
		uint32_t rto = LWIP_MAX(LWIP_MAX(st.rto_ms, peer_rto_ms), TCP_INITIAL_RTO_MS);

		limit_ms = ((1u << b->stall_rtos) - 1) * rto + b->stall_rtos * TCP_SLOW_INTERVAL;
	}
	if (limit_ms != 0 && (my_gap_ms > limit_ms || peer_gap_ms > limit_ms))
		return FAILF("a stall: data stopped for %u ms here, %u ms at the peer (limit %u ms;"
			     " RTO %u ms here, %u ms at the peer)",
			     my_gap_ms, peer_gap_ms, limit_ms, st.rto_ms, peer_rto_ms);
	snprintf(lim, sizeof(lim), limit_ms != 0 ? "%u ms" : "none", limit_ms);
	EXPECT_EQ(st.bytes_in, b->bytes);
	EXPECT_EQ(st.bytes_out, b->bytes);
	EXPECT(st.segments_in > b->bytes / 1460);
	EXPECT(st.segments_out > b->bytes / 1460);
	fprintf(stderr,
		"bulk: %llu MiB each way in %.2f s; segments out %llu, in %llu, "
		"retransmitted %llu; srtt %u ms, RTO %u ms here, %u ms at the peer; longest "
		"wait for data %u ms here, %u ms at the peer (stall limit: %s); losses repaired "
		"by RTO %u, by fast recovery %u, tail probes %u (both sides)\n",
		(unsigned long long)(b->bytes >> 20), (double)(weir_clock_now_ns() - t0) / 1e9,
		(unsigned long long)st.segments_out, (unsigned long long)st.segments_in,
		(unsigned long long)st.retransmissions, st.srtt_ms, st.rto_ms, peer_rto_ms,
		my_gap_ms, peer_gap_ms, lim, st.rto_timeouts + peer_rec[0],
		st.fast_recoveries + peer_rec[1], st.loss_probes + peer_rec[2]);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

static int peer_bulk(struct side *s, void *arg)
{
	struct serve sv = { .handler = bulk_echo_handler };

	bulk_cfg = arg;
	return serve_until_done(s, &sv);
}

START_TEST(test_bulk_both_ways_byte_exact)
{
	struct bulk b = { .bytes = 16 << 20, .zero_copy = 1 };

	bulk_cfg = &b;
	ck_assert_int_eq(pair_run(main_bulk, peer_bulk, &b, NULL, 60 * S), 0);
}
END_TEST

START_TEST(test_bulk_both_ways_copying_reads)
{
	struct bulk b = { .bytes = 4 << 20, .zero_copy = 0 };

	bulk_cfg = &b;
	ck_assert_int_eq(pair_run(main_bulk, peer_bulk, &b, NULL, 60 * S), 0);
}
END_TEST

static double env_rate(const char *name, double dflt)
{
	const char *v = getenv(name);

	return v != NULL ? atof(v) : dflt;
}

/* Under seeded impairment, every kind at once: byte-exact each way in turn, no stall longer than
 * four back-to-back retransmission timeouts on either side (1+2+4+8 RTOs: at 5% loss each way
 * a retransmission and its ACK both get through only 90% of the time, and three timeouts in a
 * row at the initial 1 s RTO, 7 s, have been seen), nothing leaked (pair_run checks flows, buffers,
 * fibers and lwIP's pools). CI runs 8 MiB; the long soak sets the size and rates, e.g.
 * WEIR_SOAK_MIB=1024 WEIR_SOAK_LOSS=0.01 ... (see README: Testing). */
START_TEST(test_bulk_under_impairment_byte_exact)
{
	struct bulk b = { .bytes = (uint64_t)env_rate("WEIR_SOAK_MIB", 8) << 20,
			  .zero_copy = 1,
			  .one_way = !getenv("WEIR_SOAK_BOTH_WAYS"),
			  .max_stall_ms = (uint32_t)env_rate("WEIR_SOAK_MAX_STALL_MS", 0),
			  .stall_rtos = (uint32_t)env_rate("WEIR_SOAK_STALL_RTOS", 4) };
	struct weir_link_impair imp = {
		.loss = env_rate("WEIR_SOAK_LOSS", 0.05),
		.reorder = env_rate("WEIR_SOAK_REORDER", 0.05),
		.duplicate = env_rate("WEIR_SOAK_DUP", 0.01),
		.corrupt = env_rate("WEIR_SOAK_CORRUPT", 0.001),
		.seed = (uint64_t)env_rate("WEIR_SOAK_SEED", 42),
	};

	bulk_cfg = &b;
	ck_assert_int_eq(pair_run(main_bulk, peer_bulk, &b, &imp,
				  (uint64_t)env_rate("WEIR_SOAK_TIMEOUT_S", 1200) * S),
			 0);
}
END_TEST

/* --- a peer that vanishes: keepalive, user timeout, FIN_WAIT_2 -------------------------------- */

static void vanish_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;

	(void)f;
	side_send(s, 0xacc);
	/* Gone without a FIN or RST: the process ends, its end of the link closes. */
	_exit(0);
}

static int peer_vanish(struct side *s, void *arg)
{
	struct serve sv = { .handler = vanish_handler };

	(void)arg;
	return serve_until_done(s, &sv);
}

static int main_keepalive(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow.keepalive = { 300, 100, 3 } };
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	t0 = weir_clock_now_ns();
	/* MirageOS: once keepalive gives up, read returns `Eof and write `Closed. */
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	dt = weir_clock_now_ns() - t0;
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_KEEPALIVE);
	/* after + interval x probes = 600 ms, plus lwIP's slow-timer granularity. */
	if (dt < 500 * MS || dt > 2000 * MS)
		return FAILF("keepalive noticed after %llu ms, wanted ~600",
			     (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	EXPECT_EQ(weir_flow_write(f, "more", 4), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_KEEPALIVE);
	weir_flow_free(f);
	return 0;
}

START_TEST(test_keepalive_detects_silent_peer)
{
	ck_assert_int_eq(pair_run(main_keepalive, peer_vanish, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_user_timeout(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow.user_timeout_ms = 700 };
	struct weir_flow *f;
	uint32_t port, msg;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	/* Idle for longer than the user timeout: nothing in flight, nothing ends. */
	weir_fiber_sleep_ns(1000 * MS);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_NONE);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_flow_write(f, "data", 4), 0);
	/* As after keepalive: read returns end-of-data, write closed; the reason says why. */
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_EOF);
	dt = weir_clock_now_ns() - t0;
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_USER_TIMEOUT);
	if (dt < 650 * MS || dt > 1500 * MS)
		return FAILF("user timeout after %llu ms, wanted ~700",
			     (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_flow_write(f, "more", 4), WEIR_ECLOSED);
	weir_flow_free(f);
	return 0;
}

START_TEST(test_user_timeout_ends_flow_with_unacked_data)
{
	ck_assert_int_eq(pair_run(main_user_timeout, peer_vanish, NULL, NULL, 20 * S), 0);
}
END_TEST

static void silent_handler(struct weir_flow *f, void *arg)
{
	uint32_t msg;

	(void)f;
	(void)arg;
	/* Never reads, never closes until told. */
	wait_mail(&msg, 20 * S);
}

static int main_fin_wait(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow.fin_wait_timeout_ms = 500 };
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[4];
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ETIMEDOUT);
	dt = weir_clock_now_ns() - t0;
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_FIN_WAIT_TIMEOUT);
	if (dt < 450 * MS || dt > 1500 * MS)
		return FAILF("FIN_WAIT ended after %llu ms, wanted ~500",
			     (unsigned long long)(dt / MS));
	weir_flow_free(f);
	EXPECT_EQ(side_send(s, 1), 0);
	return side_send(s, 0xd0e);
}

START_TEST(test_fin_wait_2_is_bounded)
{
	struct serve sv = { .handler = silent_handler };

	ck_assert_int_eq(pair_run(main_fin_wait, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void slow_sender_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	/* 12 x 100 ms: longer than the 500 ms FIN_WAIT bound, never silent for that long. */
	for (int i = 0; i < 12; i++) {
		if (weir_flow_write(f, "0123456789", 10) < 0)
			return;
		weir_fiber_sleep_ns(100 * MS);
	}
}

static int main_fin_wait_busy_peer(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow.fin_wait_timeout_ms = 500 };
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[64];
	ssize_t n, total = 0;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &f), 0);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
		total += n;
	EXPECT_EQ(n, WEIR_EOF);
	EXPECT_EQ(total, 120);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_NONE);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_fin_wait_bound_spares_a_peer_still_sending)
{
	struct serve sv = { .handler = slow_sender_handler };

	ck_assert_int_eq(pair_run(main_fin_wait_busy_peer, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- writes without copy ---------------------------------------------------------------------- */

#define NOCOPY_LEN (3u << 20)

/* Reads the pattern (seed 21) to EOF; tells the main side whether all 2 x NOCOPY_LEN came. */
static void nocopy_check_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	int64_t n = read_pattern(f, 21, 0);

	side_send(s, n == 2 * (int64_t)NOCOPY_LEN ? 0x600d : 0xbad);
}

static int main_nocopy(struct side *s, void *arg)
{
	struct weir_flow *f;
	struct weir_flow_stats st;
	uint32_t port, msg = 0;
	uint8_t *buf;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	for (int round = 0; round < 2; round++) {
		buf = malloc(NOCOPY_LEN);
		EXPECT(buf != NULL);
		for (size_t i = 0; i < NOCOPY_LEN; i++)
			buf[i] = pattern_byte((uint64_t)round * NOCOPY_LEN + i, 21);
		EXPECT_EQ(weir_flow_write_nocopy(f, buf, NOCOPY_LEN), 0);
		/* Returned: every byte acknowledged, nothing of buf held. Scribble on it and free
		 * it: a retransmission from it would now send wrong bytes (the peer checks each),
		 * and AddressSanitizer reports any later read of it. */
		EXPECT_EQ(weir_flow_get_stats(f, &st), 0);
		EXPECT_EQ(st.snd_queued, 0);
		memset(buf, 0x5a, NOCOPY_LEN);
		free(buf);
	}
	EXPECT_EQ(weir_flow_get_stats(f, &st), 0);
	EXPECT_EQ(st.bytes_out, 2 * (uint64_t)NOCOPY_LEN);
	EXPECT_EQ(weir_flow_write_nocopy(f, NULL, 0), 0);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	EXPECT_EQ(side_recv(s, &msg, 60 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

static int peer_nocopy(struct side *s, void *arg)
{
	struct serve sv = { .handler = nocopy_check_handler };

	(void)arg;
	return serve_until_done(s, &sv);
}

/* The bytes arrive exact over a link that loses, reorders and duplicates frames (so segments
 * are sent again from the caller's buffer), and the buffer is the caller's again on return. */
START_TEST(test_write_nocopy_exact_and_buffer_free_on_return)
{
	struct weir_link_impair imp = {
		.loss = 0.01, .reorder = 0.01, .duplicate = 0.01, .seed = 77
	};

	ck_assert_int_eq(pair_run(main_nocopy, peer_nocopy, NULL, &imp, 60 * S), 0);
}
END_TEST

/* Waits 1 s without reading (so the sender's window fills and stays shut past the main side's
 * close), then reads until the flow ends: tells the main side whether it ended with a reset. */
static void late_reader_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint8_t b[65536];
	ssize_t n;

	weir_fiber_sleep_ns(1000 * MS);
	while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
		;
	side_send(s, n == WEIR_ERESET ? 0x1e5e7 : 0xbad);
}

struct nocopy_writer {
	struct weir_flow *f;
	const uint8_t *buf;
	size_t len;
	int rc, done;
};

static void nocopy_writer_fiber(void *arg)
{
	struct nocopy_writer *w = arg;

	w->rc = weir_flow_write_nocopy(w->f, w->buf, w->len);
	w->done = 1;
}

static int main_nocopy_close(struct side *s, void *arg)
{
	struct weir_tcp_connect_opts o = { .flow = { .fin_wait_timeout_ms = 200 } };
	/* The peer's window (1 MiB) and 48 KiB more: all of it queued, the write waits for the
	 * ACK of bytes the closed window keeps unsent. */
	struct nocopy_writer w = { .len = (size_t)CONFIG_LWIP_TCP_WND + (48u << 10) };
	struct weir_fiber *fib;
	uint32_t port, msg = 0;
	uint8_t *buf;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, &o, &w.f), 0);
	buf = malloc(w.len);
	EXPECT(buf != NULL);
	memset(buf, 0x42, w.len);
	w.buf = buf;
	EXPECT_EQ(weir_fiber_spawn(NULL, nocopy_writer_fiber, &w, NULL, &fib), 0);
	weir_fiber_sleep_ns(100 * MS);
	EXPECT_EQ(w.done, 0); /* the peer does not read yet: the write waits */
	/* Another fiber closes the flow under the write: the connection is reset (a FIN would
	 * leave lwIP sending from buf after the write returned). */
	EXPECT_EQ(weir_flow_close(w.f), 0);
	EXPECT_EQ(weir_fiber_join(fib), 0);
	EXPECT(w.rc < 0);
	memset(buf, 0x5a, w.len);
	free(buf);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, 0x1e5e7);
	weir_flow_free(w.f);
	return side_send(s, 0xd0e);
}

START_TEST(test_write_nocopy_close_from_another_fiber_resets)
{
	struct serve sv = { .handler = late_reader_handler };

	ck_assert_int_eq(pair_run(main_nocopy_close, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

/* --- cancellation from another fiber ---------------------------------------------------------- */

struct cancel_op {
	struct side *s;
	struct weir_flow *f;
	uint32_t port;
	int which; /* 0 connect, 1 read, 2 write */
	int rc;
	int done;
};

static void cancel_victim(void *arg)
{
	struct cancel_op *op = arg;
	struct weir_ipaddr nobody;
	struct weir_flow *g = NULL;
	static uint8_t big[8 << 20];
	uint8_t b[8];

	weir_ipaddr_parse("192.0.2.99", &nobody);
	if (op->which == 0)
		op->rc = weir_tcp_connect(op->s->stack, nobody, 80, NULL, &g);
	else if (op->which == 1)
		op->rc = (int)weir_flow_read_into(op->f, b, sizeof(b));
	else
		op->rc = weir_flow_write(op->f, big, sizeof(big)); /* the peer never reads */
	op->done = 1;
}

static int main_cancel(struct side *s, void *arg)
{
	struct weir_tcp_stats ts;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	for (int which = 0; which < 3; which++) {
		struct cancel_op op = { .s = s, .which = which };
		struct weir_fiber *fib;
		uint64_t t0;

		if (which > 0)
			EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &op.f), 0);
		EXPECT_EQ(weir_fiber_spawn(NULL, cancel_victim, &op, NULL, &fib), 0);
		weir_fiber_sleep_ns(200 * MS); /* it is blocked by now */
		EXPECT_EQ(op.done, 0);
		t0 = weir_clock_now_ns();
		EXPECT_EQ(weir_fiber_cancel(fib), 0);
		EXPECT_EQ(weir_fiber_join(fib), 0);
		if (weir_clock_now_ns() - t0 > 100 * MS)
			return FAILF("cancel took %llu ms",
				     (unsigned long long)((weir_clock_now_ns() - t0) / MS));
		if (op.rc != WEIR_ECANCELED)
			return FAILF("operation %d returned %s", which, weir_err_name(op.rc));
		if (which == 2) /* a write cut short leaves the write side unusable, and says so */
			EXPECT_EQ(weir_flow_write(op.f, "x", 1), WEIR_ECANCELED);
		if (which > 0) {
			weir_flow_abort(op.f);
			weir_flow_free(op.f);
		}
		weir_tcp_get_stats(&ts);
		EXPECT_EQ(ts.flows, 0); /* nothing half-open left behind */
	}
	return side_send(s, 0xd0e);
}

START_TEST(test_connect_read_write_cancelled_from_another_fiber)
{
	struct serve sv = { .handler = silent_handler };

	ck_assert_int_eq(pair_run(main_cancel, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

static void count_check_handler(struct weir_flow *f, void *arg)
{
	/* Reads to EOF checking the pattern, and reports the count to the main side. */
	int64_t n = read_pattern(f, 11, 1);

	side_send(arg, n < 0 ? 0 : (uint32_t)n);
}

static int main_huge_write(struct side *s, void *arg)
{
	static uint8_t buf[3 << 20];
	struct weir_flow *f;
	uint32_t port, got;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern_byte(i, 11);
	/* One call, 48 times lwIP's 16-bit tcp_write limit: all or an error, never partial. */
	EXPECT_EQ(weir_flow_write(f, buf, sizeof(buf)), 0);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	EXPECT_EQ(side_recv(s, &got, 20 * S), 0);
	EXPECT_EQ(got, sizeof(buf)); /* byte-exact: the peer checked the pattern */
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_single_write_larger_than_lwip_limits)
{
	struct serve sv = { .handler = count_check_handler };

	ck_assert_int_eq(pair_run(main_huge_write, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

/* --- misuse ----------------------------------------------------------------------------------- */

START_TEST(test_flow_calls_reject_null)
{
	struct weir_buf b;
	uint8_t x[4];

	ck_assert_int_eq(weir_flow_read(NULL, &b), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_read_into(NULL, x, 4), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_write(NULL, x, 4), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_writev(NULL, NULL, 0), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_write_nodelay(NULL, x, 4), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_shutdown(NULL, WEIR_SHUT_WR), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_close(NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_abort(NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_set_nodelay(NULL, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_set_keepalive(NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_set_user_timeout(NULL, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_src(NULL, NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_dst(NULL, NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_get_stats(NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_flow_close_reason(NULL), WEIR_CLOSE_NONE);
	ck_assert_uint_eq(weir_flow_id(NULL), 0);
	ck_assert_int_eq(weir_listener_stop(NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_listener_close(NULL), WEIR_EINVAL);
	ck_assert_uint_eq(weir_listener_port(NULL), 0);
	ck_assert_int_eq(weir_tcp_listen(NULL, NULL, NULL, NULL, NULL), WEIR_EINVAL);
	weir_buf_release(NULL);
	weir_flow_free(NULL);
	ck_assert_str_eq(weir_close_reason_str(WEIR_CLOSE_PEER_RST), "peer reset (RST)");
	ck_assert_str_eq(weir_close_reason_str((enum weir_close_reason)999), "unknown");
}
END_TEST

static int main_misuse(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[4];
	struct weir_buf buf;
	struct weir_keepalive bad = { 1000, 1000, 100000 };

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_read_into(f, NULL, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_into(f, b, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read(f, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write(f, NULL, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write(f, NULL, 0), 0);
	EXPECT_EQ(weir_flow_shutdown(f, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_shutdown(f, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_set_nodelay(f, 2), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_set_keepalive(f, &bad), WEIR_EINVAL);
	EXPECT(weir_flow_id(f) > 0);
	(void)buf;
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_flow_calls_reject_bad_arguments)
{
	struct serve sv = { .handler = sink_handler };

	ck_assert_int_eq(pair_run(main_misuse, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

/* --- accept errors ---------------------------------------------------------------------------- */

static int peer_accept_error(struct side *s, void *arg)
{
	struct serve *sv = arg;

	struct weir_listener *l;
	struct weir_tcp_listen_opts bad = { .handler_stack_size = 4096 };
	struct rlimit rl;
	long pages = 0;
	FILE *fp = fopen("/proc/self/statm", "r");

	/* Out of range handler stacks are refused when listening, not per connection. */
	EXPECT_EQ(weir_tcp_listen(s->stack, &bad, sink_handler, NULL, &l), WEIR_EINVAL);
	/* A valid 1 GiB handler stack that this process cannot map: its address space is capped
	 * 256 MiB above what it uses now, so every accept fails for want of memory. */
	EXPECT(fp != NULL && fscanf(fp, "%ld", &pages) == 1);
	fclose(fp);
	rl.rlim_cur = rl.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (256u << 20);
	EXPECT_EQ(setrlimit(RLIMIT_AS, &rl), 0);
	sv->handler = sink_handler;
	sv->opts.handler_stack_size = (size_t)1 << 30;
	sv->opts.on_accept_error = note_accept_error;
	if (serve_until_done(s, sv))
		return 1;
	EXPECT_EQ(accept_errors, 1);
	EXPECT_EQ(accept_error_class, WEIR_ACCEPT_SYSTEM);
	EXPECT_EQ(accept_error_code, WEIR_ENOMEM);
	EXPECT_EQ(sv->st.refused, 1);
	EXPECT_EQ(sv->st.accepted, 0);
	return 0;
}

static int main_accept_error(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port;
	uint8_t b[4];
	int rc;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	/* TCP completes the handshake; the peer then resets the connection it cannot serve. */
	rc = connect_to_peer(s, (uint16_t)port, NULL, &f);
	if (rc == 0) {
		EXPECT_EQ(weir_flow_read_into(f, b, sizeof(b)), WEIR_ERESET);
		weir_flow_free(f);
	} else {
		EXPECT_EQ(rc, WEIR_EREFUSED);
	}
	return side_send(s, 0xd0e);
}

START_TEST(test_accept_error_classified_and_counted)
{
	struct serve sv = { 0 };

#if WEIR_ASAN
	/* ASan's shadow memory does not survive an address-space cap: the plain build runs it. */
	fprintf(stderr,
		"SKIP: test_accept_error_classified_and_counted: not under AddressSanitizer "
		"(it caps the address space, which ASan's shadow memory needs); the plain "
		"build runs it\n");
	return;
#endif
	ck_assert_int_eq(pair_run(main_accept_error, peer_accept_error, &sv, NULL, 20 * S), 0);
}
END_TEST

Suite *weir_test_tcp_suite(void)
{
	Suite *s = suite_create("tcp");
	TCase *tc = tcase_create("flows");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_connect_timeout);
	tcase_add_test(tc, test_connect_rejects_bad_arguments);
	tcase_add_test(tc, test_connect_local_port_in_use);
	tcase_add_test(tc, test_read_after_peer_fin_drains_data_then_eof);
	tcase_add_test(tc, test_write_after_reset_fails_forever);
	tcase_add_test(tc, test_abort_resets_peer);
	tcase_add_test(tc, test_nodelay_returns_only_after_ack);
	tcase_add_test(tc, test_write_nocopy_exact_and_buffer_free_on_return);
	tcase_add_test(tc, test_write_nocopy_close_from_another_fiber_resets);
	tcase_add_test(tc, test_writev_and_half_close_echo);
	tcase_add_test(tc, test_shutdown_read_does_not_reset_peer);
	tcase_add_test(tc, test_close_is_idempotent);
	tcase_add_test(tc, test_listener_stop_lets_handlers_finish);
	tcase_add_test(tc, test_listener_close_cancels_handlers);
	tcase_add_test(tc, test_listen_port_chosen_by_stack);
	tcase_add_test(tc, test_listener_max_connections);
	tcase_add_test(tc, test_scope_close_cancels_fibers_and_frees_flows);
	tcase_add_test(tc, test_bulk_both_ways_byte_exact);
	tcase_add_test(tc, test_bulk_both_ways_copying_reads);
	tcase_add_test(tc, test_keepalive_detects_silent_peer);
	tcase_add_test(tc, test_user_timeout_ends_flow_with_unacked_data);
	tcase_add_test(tc, test_fin_wait_2_is_bounded);
	tcase_add_test(tc, test_fin_wait_bound_spares_a_peer_still_sending);
	tcase_add_test(tc, test_flow_calls_reject_bad_arguments);
	tcase_add_test(tc, test_connect_read_write_cancelled_from_another_fiber);
	tcase_add_test(tc, test_single_write_larger_than_lwip_limits);
	tcase_add_test(tc, test_accept_error_classified_and_counted);
	suite_add_tcase(s, tc);

	/* Slow by nature: lwIP 2.1.3 recovers most losses by retransmission timeout. */
	TCase *ti = tcase_create("impaired");
	tcase_set_timeout(ti, 3600);
	tcase_add_test(ti, test_bulk_under_impairment_byte_exact);
	suite_add_tcase(s, ti);

	TCase *tm = tcase_create("misuse");
	tcase_add_test(tm, test_flow_calls_reject_null);
	suite_add_tcase(s, tm);
	return s;
}
