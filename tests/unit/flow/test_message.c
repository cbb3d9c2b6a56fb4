/* test_message.c - message.h over two weir processes: length-prefixed frames, exact reads with
 * deadlines, magic-byte handshakes. */
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/message.h>

#include "pair.h"
#include "weir_tests.h"

#define S  WEIR_NS_PER_S
#define MS WEIR_NS_PER_MS

static uint8_t msgbuf[(1 << 20) + 16];

static void msg_echo_handler(struct weir_flow *f, void *arg)
{
	ssize_t n;

	(void)arg;
	while ((n = weir_msg_recv(f, msgbuf, sizeof(msgbuf), 0)) >= 0)
		if (weir_msg_send(f, msgbuf, (size_t)n) < 0)
			return;
}

static int main_msg_round_trips(struct side *s, void *arg)
{
	static uint8_t out[1 << 20], in[1 << 20];
	const size_t sizes[] = { 0, 1, sizeof(out) };
	struct weir_flow *f;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = pattern_byte(i, 5);
	for (unsigned k = 0; k < 3; k++) {
		EXPECT_EQ(weir_msg_send(f, out, sizes[k]), 0);
		EXPECT_EQ(weir_msg_recv(f, in, sizeof(in), 10 * S), (ssize_t)sizes[k]);
		EXPECT(memcmp(in, out, sizes[k]) == 0);
	}
	EXPECT_EQ(weir_msg_send(f, out, (size_t)WEIR_MSG_MAX + 1), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), 0);
	EXPECT_EQ(weir_msg_recv(f, in, sizeof(in), 5 * S), WEIR_EOF); /* clean end between frames */
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_msg_round_trips_0_1_and_1mib)
{
	struct serve sv = { .handler = msg_echo_handler };

	ck_assert_int_eq(pair_run(main_msg_round_trips, serve_until_done, &sv, NULL, 30 * S), 0);
}
END_TEST

static void send_2000_handler(struct weir_flow *f, void *arg)
{
	static uint8_t big[2000];
	uint32_t msg;

	(void)arg;
	weir_msg_send(f, big, sizeof(big));
	wait_mail(&msg, 10 * S);
}

static int main_msg_oversize(struct side *s, void *arg)
{
	uint8_t in[1000];
	struct weir_flow *f;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	/* 2000 announced, 1000 allowed: refused without reading (or allocating) the body. */
	EXPECT_EQ(weir_msg_recv(f, in, sizeof(in), 5 * S), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_LOCAL_ABORT);
	weir_flow_free(f);
	EXPECT_EQ(side_send(s, 1), 0);
	return side_send(s, 0xd0e);
}

START_TEST(test_msg_oversize_frame_rejected)
{
	struct serve sv = { .handler = send_2000_handler };

	ck_assert_int_eq(pair_run(main_msg_oversize, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void truncated_frame_handler(struct weir_flow *f, void *arg)
{
	const uint8_t hdr[4] = { 0, 0, 0, 100 };

	(void)arg;
	weir_flow_write(f, hdr, sizeof(hdr));
	weir_flow_write(f, "0123456789", 10); /* then the handler returns: FIN mid-frame */
}

static int main_msg_truncated(struct side *s, void *arg)
{
	uint8_t in[200];
	struct weir_flow *f;
	uint32_t port;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_msg_recv(f, in, sizeof(in), 5 * S), WEIR_EPROTO);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_msg_truncated_frame_is_an_error)
{
	struct serve sv = { .handler = truncated_frame_handler };

	ck_assert_int_eq(pair_run(main_msg_truncated, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void three_bytes_handler(struct weir_flow *f, void *arg)
{
	uint32_t msg;

	(void)arg;
	weir_flow_write_nodelay(f, "abc", 3);
	wait_mail(&msg, 10 * S);
}

static int main_read_exact_timeout(struct side *s, void *arg)
{
	uint8_t in[8];
	struct weir_flow *f;
	uint32_t port;
	uint64_t t0, dt;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_read_exact(f, in, 3, 5 * S), 0);
	EXPECT(memcmp(in, "abc", 3) == 0);
	t0 = weir_clock_now_ns();
	/* Nothing more comes: times out within 20% of 200 ms, nothing consumed, flow intact. */
	EXPECT_EQ(weir_flow_read_exact(f, in, 8, 200 * MS), WEIR_ETIMEDOUT);
	dt = weir_clock_now_ns() - t0;
	if (dt < 160 * MS || dt > 240 * MS)
		return FAILF("read_exact timed out after %llu ms, wanted 200 +-20%%",
			     (unsigned long long)(dt / MS));
	EXPECT_EQ(weir_flow_close_reason(f), WEIR_CLOSE_NONE);
	EXPECT_EQ(weir_flow_read_exact(NULL, in, 8, 0), WEIR_EINVAL);
	EXPECT_EQ(side_send(s, 1), 0);
	weir_flow_close(f);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_read_exact_times_out)
{
	struct serve sv = { .handler = three_bytes_handler };

	ck_assert_int_eq(pair_run(main_read_exact_timeout, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

static void handshake_handler(struct weir_flow *f, void *arg)
{
	/* The peer expects "weir/1" on the first connection and says "weir/2" on the second. */
	static int n;
	const char *magic = n++ == 0 ? "weir/1" : "weir/2";
	int rc = weir_flow_handshake(f, magic, 6, 5 * S);

	side_send(arg, rc == 0 ? 0x600d : rc == WEIR_EPROTO ? 0xe9 : 0xbad);
}

static int main_handshake(struct side *s, void *arg)
{
	struct weir_flow *f;
	uint32_t port, msg;

	(void)arg;
	if (wait_port(s, &port))
		return 1;
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_handshake(f, "weir/1", 6, 5 * S), 0);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0x600d);
	weir_flow_close(f);
	weir_flow_free(f);
	/* Mismatch: an error on both sides. */
	EXPECT_EQ(connect_to_peer(s, (uint16_t)port, NULL, &f), 0);
	EXPECT_EQ(weir_flow_handshake(f, "weir/1", 6, 5 * S), WEIR_EPROTO);
	EXPECT_EQ(side_recv(s, &msg, 5 * S), 0);
	EXPECT_EQ(msg, 0xe9);
	EXPECT_EQ(weir_flow_handshake(f, "", 0, 0), WEIR_EINVAL);
	weir_flow_free(f);
	return side_send(s, 0xd0e);
}

START_TEST(test_handshake_match_and_mismatch)
{
	struct serve sv = { .handler = handshake_handler };

	ck_assert_int_eq(pair_run(main_handshake, serve_until_done, &sv, NULL, 20 * S), 0);
}
END_TEST

Suite *weir_test_message_suite(void)
{
	Suite *s = suite_create("message");
	TCase *tc = tcase_create("message");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_msg_round_trips_0_1_and_1mib);
	tcase_add_test(tc, test_msg_oversize_frame_rejected);
	tcase_add_test(tc, test_msg_truncated_frame_is_an_error);
	tcase_add_test(tc, test_read_exact_times_out);
	tcase_add_test(tc, test_handshake_match_and_mismatch);
	suite_add_tcase(s, tc);
	return s;
}
