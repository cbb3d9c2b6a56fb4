/* test_udp.c - UDP datagram sockets between two weir processes over the link driver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/udp.h>

#include "weir_tests.h"
#include "pair.h"

#define S	  WEIR_NS_PER_S
#define MS	  WEIR_NS_PER_MS
#define PORT	  7000
#define MSG_READY 0x4ead
#define MSG_SENT  0x5e47

/* --- helpers ---------------------------------------------------------------------------------- */

static uint8_t dgram_byte(uint32_t seq, size_t i)
{
	return (uint8_t)(seq * 31u + (uint32_t)i * 7u + (uint32_t)(i >> 8));
}

static void fill(uint8_t *buf, uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = dgram_byte(seq, i);
}

static int check_bytes(const uint8_t *buf, uint32_t seq, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != dgram_byte(seq, i))
			return FAILF("datagram %u: byte %zu differs", seq, i);
	return 0;
}

/* Every side ends with no socket and no queued datagram left (pair_run checks the rest). */
static int udp_clean(void)
{
	uint32_t socks, queued;

	weir_udp_count(&socks, &queued);
	EXPECT_EQ(socks, 0);
	EXPECT_EQ(queued, 0);
	return 0;
}

static int udp_idle_peer(struct side *s, void *arg)
{
	(void)s;
	(void)arg;
	return udp_clean();
}

/* Echoes every datagram on PORT back to its sender until "STOP" arrives. */
static int echo_peer(struct side *s, void *arg)
{
	static uint8_t buf[65536];
	struct weir_udp_opts o = { .local_port = PORT };
	struct weir_udp *u;
	int rc;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &u), 0);
	EXPECT_EQ(side_send(s, MSG_READY), 0);
	for (;;) {
		struct weir_ipaddr src;
		uint16_t sport;
		ssize_t n = weir_udp_recv_from(u, buf, sizeof(buf), &src, &sport, 30 * S);

		if (n < 0) {
			weir_udp_close(u);
			return FAILF("echo recv: %s", weir_strerror((int)n));
		}
		if (n == 4 && memcmp(buf, "STOP", 4) == 0)
			break;
		rc = weir_udp_send_to(u, src, sport, buf, (size_t)n);
		if (rc < 0) {
			weir_udp_close(u);
			return FAILF("echo send: %s", weir_strerror(rc));
		}
	}
	weir_udp_close(u);
	return udp_clean();
}

/* Sends `count` datagrams of `size` bytes (sequence numbers 0..count-1) to the main side's PORT
 * once it says it is ready. */
struct burst {
	uint32_t count;
	size_t size;
};

static int sender_peer(struct side *s, void *arg)
{
	static uint8_t buf[65536];
	const struct burst *b = arg;
	struct weir_udp *u;
	uint32_t msg;

	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, MSG_READY);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	/* lwIP holds only ARP_QUEUE_LEN (3) frames while it resolves an address: resolve it first
	 * with a datagram to a closed port, so the burst (fragments count as frames) is not cut. */
	EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT + 1, "arp", 3), 0);
	weir_fiber_sleep_ns(100 * MS);
	for (uint32_t i = 0; i < b->count; i++) {
		fill(buf, i, b->size);
		EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, buf, b->size), 0);
	}
	weir_udp_close(u);
	EXPECT_EQ(side_send(s, MSG_SENT), 0);
	return udp_clean();
}

/* Waits until `count` datagrams reached u (queued or dropped), without reading them. */
static int wait_arrived(struct weir_udp *u, uint64_t count)
{
	uint64_t deadline = weir_clock_now_ns() + 5 * S;
	struct weir_udp_stats st;

	for (;;) {
		EXPECT_EQ(weir_udp_get_stats(u, &st), 0);
		if (st.datagrams_in + st.dropped_queue_full >= count)
			return 0;
		if (weir_clock_now_ns() > deadline)
			return FAILF("only %llu of %llu datagrams arrived",
				     (unsigned long long)(st.datagrams_in + st.dropped_queue_full),
				     (unsigned long long)count);
		weir_fiber_sleep_ns(MS);
	}
}

/* A receiver in its own fiber, for cancel/close/scope tests. */
struct receiver {
	struct weir_udp *u;
	ssize_t rc;
	int done;
};

static void receiver_fiber(void *arg)
{
	struct receiver *r = arg;
	uint8_t buf[64];

	r->rc = weir_udp_recv_from(r->u, buf, sizeof(buf), NULL, NULL, 0);
	r->done = 1;
}

/* --- echo ------------------------------------------------------------------------------------- */

#define ECHO_COUNT 1000
#define ECHO_MAX   8000

static int main_echo(struct side *s, void *arg)
{
	static uint8_t out[ECHO_MAX], in[ECHO_MAX + 1];
	struct weir_udp_stats st;
	struct weir_udp *u;
	uint64_t bytes = 0;
	unsigned fragmented = 0;
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(msg, MSG_READY);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	for (uint32_t i = 0; i < ECHO_COUNT; i++) {
		/* 0, then sizes spread over 0..8000: most exceed the 1472-byte MTU payload. */
		size_t len = (size_t)(((uint64_t)i * 7919u) % (ECHO_MAX + 1));
		struct weir_ipaddr src;
		uint16_t sport;
		ssize_t n;

		if (i == ECHO_COUNT - 1)
			len = ECHO_MAX;
		fill(out, i, len);
		EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, out, len), 0);
		n = weir_udp_recv_from(u, in, sizeof(in), &src, &sport, 2 * S);
		if (n < 0)
			return FAILF("datagram %u (%zu bytes): %s", i, len, weir_strerror((int)n));
		EXPECT_EQ(n, len);
		EXPECT_EQ(src.v4, s->peer.v4);
		EXPECT_EQ(sport, PORT);
		if (check_bytes(in, i, len) != 0)
			return 1;
		bytes += len;
		fragmented += len > 1472;
	}
	EXPECT(fragmented > ECHO_COUNT / 2);
	EXPECT_EQ(weir_udp_get_stats(u, &st), 0);
	EXPECT_EQ(st.datagrams_out, ECHO_COUNT);
	EXPECT_EQ(st.datagrams_in, ECHO_COUNT);
	EXPECT_EQ(st.bytes_out, bytes);
	EXPECT_EQ(st.bytes_in, bytes);
	EXPECT_EQ(st.dropped_queue_full, 0);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, "STOP", 4), 0);
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_echo_1000_datagrams_byte_exact_with_fragmentation)
{
	ck_assert_int_eq(pair_run(main_echo, echo_peer, NULL, NULL, 60 * S), 0);
}
END_TEST

/* --- blocking receive: timeout, cancel, close ------------------------------------------------- */

static int main_timeout(struct side *s, void *arg)
{
	struct weir_udp *u;
	uint8_t buf[16];
	uint64_t t0, el;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	t0 = weir_clock_now_ns();
	EXPECT_EQ(weir_udp_recv_from(u, buf, sizeof(buf), NULL, NULL, 200 * MS), WEIR_ETIMEDOUT);
	el = weir_clock_now_ns() - t0;
	weir_udp_close(u);
	if (el < 160 * MS || el > 240 * MS)
		return FAILF("timed out after %llu ms, wanted 200 +- 20%%",
			     (unsigned long long)(el / MS));
	return udp_clean();
}

START_TEST(test_recv_timeout)
{
	ck_assert_int_eq(pair_run(main_timeout, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_cancel(struct side *s, void *arg)
{
	struct receiver r = { 0 };
	struct weir_fiber *f;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &r.u), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, receiver_fiber, &r, NULL, &f), 0);
	weir_fiber_sleep_ns(50 * MS);
	EXPECT(!r.done);
	EXPECT_EQ(weir_fiber_cancel(f), 0);
	EXPECT_EQ(weir_fiber_join(f), 0);
	EXPECT_EQ(r.rc, WEIR_ECANCELED);
	weir_udp_close(r.u);
	return udp_clean();
}

START_TEST(test_recv_cancelled_from_another_fiber)
{
	ck_assert_int_eq(pair_run(main_cancel, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_close_wakes(struct side *s, void *arg)
{
	struct receiver r = { 0 };
	struct weir_fiber *f;
	uint32_t socks;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &r.u), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, receiver_fiber, &r, NULL, &f), 0);
	weir_fiber_sleep_ns(50 * MS);
	EXPECT(!r.done);
	weir_udp_close(r.u);
	/* The receiver has not run yet, so the handle is still allocated: it is closed, not
	 * freed. */
	EXPECT_EQ(weir_udp_send_to(r.u, s->peer, PORT, "x", 1), WEIR_ECLOSED);
	weir_udp_count(&socks, NULL);
	EXPECT_EQ(socks, 1);
	EXPECT_EQ(weir_fiber_join(f), 0);
	EXPECT_EQ(r.rc, WEIR_ECLOSED);
	return udp_clean(); /* the receiver freed it on its way out */
}

START_TEST(test_close_wakes_blocked_receiver)
{
	ck_assert_int_eq(pair_run(main_close_wakes, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- sizes ------------------------------------------------------------------------------------ */

static int main_oversize(struct side *s, void *arg)
{
	static uint8_t buf[WEIR_UDP_MAX_PAYLOAD + 1];
	struct weir_udp_stats st;
	struct weir_udp *u;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, buf, 65508), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, buf, 1u << 20), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_udp_get_stats(u, &st), 0);
	EXPECT_EQ(st.datagrams_out, 0);
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_send_oversize_is_emsgsize)
{
	ck_assert_int_eq(pair_run(main_oversize, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_truncate(struct side *s, void *arg)
{
	struct weir_udp_opts o = { .local_port = PORT };
	struct weir_ipaddr src;
	struct weir_udp *u;
	uint16_t sport = 0;
	uint8_t buf[16];
	uint32_t msg;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &u), 0);
	EXPECT_EQ(side_send(s, MSG_READY), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(wait_arrived(u, 2), 0);
	/* 100 bytes into 10: the first 10 are copied, the rest is lost, the datagram consumed. */
	memset(buf, 0xee, sizeof(buf));
	EXPECT_EQ(weir_udp_recv_from(u, buf, 10, &src, &sport, S), WEIR_EMSGSIZE);
	EXPECT_EQ(check_bytes(buf, 0, 10), 0);
	EXPECT_EQ(buf[10], 0xee);
	EXPECT_EQ(src.v4, s->peer.v4);
	EXPECT(sport != 0);
	/* The next call gets the next datagram, not the rest of the first; cap 0 is allowed. */
	EXPECT_EQ(weir_udp_recv_from(u, NULL, 0, NULL, NULL, S), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_udp_recv_from(u, buf, sizeof(buf), NULL, NULL, 50 * MS), WEIR_ETIMEDOUT);
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_recv_small_buffer_truncates_and_consumes)
{
	struct burst b = { .count = 2, .size = 100 };

	ck_assert_int_eq(pair_run(main_truncate, sender_peer, &b, NULL, 20 * S), 0);
}
END_TEST

/* --- queue, ports ----------------------------------------------------------------------------- */

static int main_queue_full(struct side *s, void *arg)
{
	struct weir_udp_opts o = { .local_port = PORT, .queue_max = 4 };
	struct weir_udp_stats st;
	struct weir_udp *u;
	uint8_t buf[64];
	uint32_t msg, queued;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &u), 0);
	EXPECT_EQ(side_send(s, MSG_READY), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	EXPECT_EQ(wait_arrived(u, 10), 0);
	EXPECT_EQ(weir_udp_get_stats(u, &st), 0);
	EXPECT_EQ(st.datagrams_in, 4);
	EXPECT_EQ(st.dropped_queue_full, 6);
	weir_udp_count(NULL, &queued);
	EXPECT_EQ(queued, 4);
	/* The first four are kept, in order. */
	for (uint32_t i = 0; i < 4; i++) {
		EXPECT_EQ(weir_udp_recv_from(u, buf, sizeof(buf), NULL, NULL, S), 32);
		EXPECT_EQ(check_bytes(buf, i, 32), 0);
	}
	EXPECT_EQ(weir_udp_recv_from(u, buf, sizeof(buf), NULL, NULL, 50 * MS), WEIR_ETIMEDOUT);
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_queue_full_drops_and_counts)
{
	struct burst b = { .count = 10, .size = 32 };

	ck_assert_int_eq(pair_run(main_queue_full, sender_peer, &b, NULL, 20 * S), 0);
}
END_TEST

static int main_port_in_use(struct side *s, void *arg)
{
	struct weir_udp_opts o = { .local_port = PORT };
	struct weir_udp *a, *b;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &a), 0);
	EXPECT_EQ(weir_udp_open(s->stack, &o, &b), WEIR_EADDRINUSE);
	EXPECT(b == NULL);
	weir_udp_close(a);
	/* Closing frees the port at once. */
	EXPECT_EQ(weir_udp_open(s->stack, &o, &b), 0);
	weir_udp_close(b);
	return udp_clean();
}

START_TEST(test_bind_port_in_use_is_eaddrinuse)
{
	ck_assert_int_eq(pair_run(main_port_in_use, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_reuse_addr(struct side *s, void *arg)
{
	struct weir_udp_opts o = { .local_port = PORT, .reuse_addr = 1 };
	struct weir_udp_opts plain = { .local_port = PORT };
	struct weir_udp *a, *b, *c;
	uint8_t d[8];
	ssize_t n;

	(void)arg;
	/* Eio's datagram_socket ~reuse_addr: sockets that all ask for it share the port. */
	EXPECT_EQ(weir_udp_open(s->stack, &o, &a), 0);
	EXPECT_EQ(weir_udp_open(s->stack, &plain, &c), WEIR_EADDRINUSE);
	EXPECT_EQ(weir_udp_open(s->stack, &o, &b), 0);
	EXPECT_EQ(weir_udp_port(b), PORT);
	/* A unicast datagram to the shared port (sent to ourselves) reaches one of them, once
	 * (lwIP's pick, as Linux's, is the last bound). */
	EXPECT_EQ(weir_udp_send_to(b, s->me, PORT, "dgram", 5), 0);
	weir_fiber_sleep_ns(50 * MS);
	n = weir_udp_recv_from(a, d, sizeof(d), NULL, NULL, 10 * MS) +
	    weir_udp_recv_from(b, d, sizeof(d), NULL, NULL, 10 * MS);
	EXPECT_EQ(n, 5 + WEIR_ETIMEDOUT);
	EXPECT(memcmp(d, "dgram", 5) == 0);
	weir_udp_close(a);
	weir_udp_close(b);
	/* SO_REUSEPORT comes with shards: refused clearly until then. */
	o.reuse_addr = 0;
	o.reuse_port = 1;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &a), WEIR_ENOTSUP);
	EXPECT(a == NULL);
	o.reuse_port = 2;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &a), WEIR_EINVAL);
	return udp_clean();
}

START_TEST(test_reuse_addr_shares_port_reuse_port_refused)
{
	ck_assert_int_eq(pair_run(main_reuse_addr, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_ephemeral(struct side *s, void *arg)
{
	struct weir_udp_opts o = { 0 };
	struct weir_udp *a, *b, *c;

	(void)arg;
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &a), 0);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &b), 0);
	EXPECT(weir_udp_port(a) != 0);
	EXPECT(weir_udp_port(b) != 0);
	EXPECT(weir_udp_port(a) != weir_udp_port(b));
	/* The chosen port is really bound. */
	o.local_port = weir_udp_port(a);
	EXPECT_EQ(weir_udp_open(s->stack, &o, &c), WEIR_EADDRINUSE);
	weir_udp_close(a);
	weir_udp_close(b);
	return udp_clean();
}

START_TEST(test_ephemeral_port_chosen_and_readable)
{
	ck_assert_int_eq(pair_run(main_ephemeral, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

/* --- zero-copy -------------------------------------------------------------------------------- */

static int main_zero_copy(struct side *s, void *arg)
{
	const struct burst *bu = arg;
	struct weir_udp_opts o = { .local_port = PORT };
	struct weir_tcp_stats ts;
	struct weir_udp *u;
	uint32_t msg;

	EXPECT_EQ(weir_udp_open(s->stack, &o, &u), 0);
	EXPECT_EQ(side_send(s, MSG_READY), 0);
	EXPECT_EQ(side_recv(s, &msg, 10 * S), 0);
	for (uint32_t i = 0; i < bu->count; i++) {
		struct weir_buf b;
		struct weir_ipaddr src;
		uint16_t sport;

		/* 5000 bytes arrive in 4 fragments: handed out as one contiguous buffer. */
		EXPECT_EQ(weir_udp_recv(u, &b, &src, &sport, S), bu->size);
		EXPECT_EQ(b.len, bu->size);
		EXPECT_EQ(src.v4, s->peer.v4);
		weir_tcp_get_stats(&ts);
		EXPECT_EQ(ts.bufs_out, 1);
		if (check_bytes(b.data, i, b.len) != 0) {
			weir_buf_release(&b);
			weir_udp_close(u);
			return 1;
		}
		weir_buf_release(&b);
		weir_tcp_get_stats(&ts);
		EXPECT_EQ(ts.bufs_out, 0);
	}
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_zero_copy_recv_of_fragmented_datagrams)
{
	struct burst b = { .count = 3, .size = 5000 };

	ck_assert_int_eq(pair_run(main_zero_copy, sender_peer, &b, NULL, 20 * S), 0);
}
END_TEST

/* --- misuse, scopes --------------------------------------------------------------------------- */

static int main_misuse(struct side *s, void *arg)
{
	struct weir_udp_stats st;
	struct weir_udp *u = (struct weir_udp *)&st; /* must be overwritten with NULL */
	struct weir_ipaddr zero = { 0 };
	struct weir_buf b;
	uint8_t buf[4];

	(void)arg;
	EXPECT_EQ(weir_udp_open(NULL, NULL, &u), WEIR_EINVAL);
	EXPECT(u == NULL);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	EXPECT_EQ(weir_udp_send_to(NULL, s->peer, PORT, buf, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_send_to(u, zero, PORT, buf, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, 0, buf, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, PORT, NULL, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(NULL, buf, sizeof(buf), NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(u, NULL, 4, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv(NULL, &b, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv(u, NULL, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_get_stats(NULL, &st), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_get_stats(u, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_port(NULL), 0);
	weir_udp_close(NULL);
	/* Nothing above was sent. */
	EXPECT_EQ(weir_udp_get_stats(u, &st), 0);
	EXPECT_EQ(st.datagrams_out, 0);
	weir_udp_close(u);
	return udp_clean();
}

START_TEST(test_calls_reject_bad_arguments)
{
	ck_assert_int_eq(pair_run(main_misuse, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

static int main_scope(struct side *s, void *arg)
{
	struct weir_udp_opts o = { 0 };
	struct receiver r = { 0 };
	struct weir_scope *sc;
	uint32_t socks;

	(void)arg;
	EXPECT_EQ(weir_scope_open(NULL, &sc), 0);
	o.scope = sc;
	o.local_port = PORT;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &r.u), 0);
	EXPECT_EQ(weir_fiber_spawn(sc, receiver_fiber, &r, NULL, NULL), 0);
	weir_fiber_sleep_ns(20 * MS);
	EXPECT(!r.done);
	EXPECT_EQ(weir_scope_close(sc), 0);
	/* The scope cancelled its receiver first, then closed the socket and freed it. */
	EXPECT(r.done);
	EXPECT_EQ(r.rc, WEIR_ECANCELED);
	weir_udp_count(&socks, NULL);
	EXPECT_EQ(socks, 0);
	/* Its port is free again. */
	o.scope = NULL;
	EXPECT_EQ(weir_udp_open(s->stack, &o, &r.u), 0);
	weir_udp_close(r.u);
	return udp_clean();
}

START_TEST(test_scope_close_closes_socket)
{
	ck_assert_int_eq(pair_run(main_scope, udp_idle_peer, NULL, NULL, 20 * S), 0);
}
END_TEST

Suite *weir_test_udp_suite(void)
{
	Suite *s = suite_create("udp");
	TCase *tc = tcase_create("datagrams");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_echo_1000_datagrams_byte_exact_with_fragmentation);
	tcase_add_test(tc, test_recv_timeout);
	tcase_add_test(tc, test_recv_cancelled_from_another_fiber);
	tcase_add_test(tc, test_close_wakes_blocked_receiver);
	tcase_add_test(tc, test_send_oversize_is_emsgsize);
	tcase_add_test(tc, test_recv_small_buffer_truncates_and_consumes);
	tcase_add_test(tc, test_queue_full_drops_and_counts);
	tcase_add_test(tc, test_bind_port_in_use_is_eaddrinuse);
	tcase_add_test(tc, test_reuse_addr_shares_port_reuse_port_refused);
	tcase_add_test(tc, test_ephemeral_port_chosen_and_readable);
	tcase_add_test(tc, test_zero_copy_recv_of_fragmented_datagrams);
	tcase_add_test(tc, test_calls_reject_bad_arguments);
	tcase_add_test(tc, test_scope_close_closes_socket);
	suite_add_tcase(s, tc);
	return s;
}
