/* test_misuse.c - every public call misused: NULL, bad options, zero and huge lengths, a closed or
 * aborted flow, and every handle after its stack closed. Each returns the documented error and
 * nothing crashes or leaks (pair_run checks flows, listeners, buffers, fibers and lwIP's pools).
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/flow.h>
#include <weir/link.h>
#include <weir/message.h>
#include <weir/netdev.h>
#include <weir/pcap.h>
#include <weir/resolve.h>
#include <weir/server.h>
#include <weir/stack.h>
#include <weir/tap.h>
#include <weir/udp.h>

#include "weir_tests.h"
#include "pair.h"

#define MS   WEIR_NS_PER_MS
#define S    WEIR_NS_PER_S
#define DONE 0xd0e

/* --- the peer: a listener whose handlers read until the end, then close ----------------------- */

static void drain_handler(struct weir_flow *f, void *arg)
{
	uint8_t b[4096];

	(void)arg;
	while (weir_flow_read_into(f, b, sizeof(b)) > 0)
		;
}

/* The peer: a listener running handler (arg: NULL for drain_handler), its port sent `ports` times
 * (one per connection the main side makes), until the main side says DONE. */
struct peer_cfg {
	weir_flow_handler handler;
	int ports;
};

static int peer_listen(struct side *s, void *arg)
{
	static const struct peer_cfg drain = { drain_handler, 1 };
	const struct peer_cfg *c = arg ? arg : &drain;
	struct weir_listener *l;
	uint32_t msg;
	int rc;

	rc = weir_tcp_listen(s->stack, NULL, c->handler, s, &l);
	if (rc < 0)
		return FAILF("listen: %s", weir_strerror(rc));
	for (int i = 0; i < c->ports; i++)
		EXPECT_EQ(side_send(s, weir_listener_port(l)), 0);
	EXPECT_EQ(side_recv(s, &msg, 60 * S), 0);
	EXPECT_EQ(msg, DONE);
	EXPECT_EQ(weir_listener_close(l), 0);
	return 0;
}

static int peer_serve(struct side *s, void *arg)
{
	(void)arg;
	return peer_listen(s, NULL);
}

static int connect_peer(struct side *s, struct weir_flow **f)
{
	uint32_t port;
	int rc = side_recv(s, &port, 10 * S);

	if (rc < 0)
		return FAILF("no port from peer: %s", weir_strerror(rc));
	rc = weir_tcp_connect(s->stack, s->peer, (uint16_t)port, NULL, f);
	if (rc < 0)
		return FAILF("connect: %s", weir_strerror(rc));
	return 0;
}

static void nop_handler(struct weir_flow *f, void *arg)
{
	(void)f;
	(void)arg;
}

static int nop_server_handler(struct weir_flow *f, void *arg)
{
	(void)f;
	(void)arg;
	return 0;
}

static int nop_with(struct weir_flow *f, void *arg)
{
	(void)f;
	(void)arg;
	return 0;
}

/* --- NULL and bad arguments, for every public call -------------------------------------------- */

static int main_null(struct side *s, void *arg)
{
	struct weir_tcp_listen_opts lo = { 0 };
	struct weir_tcp_connect_opts co = { 0 };
	struct weir_listener *l = (void *)1;
	struct weir_flow *f = (void *)1;
	struct weir_udp *u = (void *)1;
	struct weir_netdev *nd = (void *)1;
	struct weir_stack *st = (void *)1;
	struct weir_iov iov = { "x", 1 };
	struct weir_keepalive ka = { 1000, 100, 3 };
	struct weir_ipaddr ip, addrs[2];
	struct weir_buf b = { 0 };
	struct weir_flow_stats fs;
	struct weir_listener_stats ls;
	struct weir_udp_stats us;
	struct weir_stack_stats ss;
	struct weir_netdev_caps caps;
	struct weir_netdev_stats ns;
	struct weir_frame *frames[1];
	struct weir_tx_frame tf = { 0 };
	struct weir_server_opts so = { 0 };
	struct weir_server_stop stop;
	uint8_t mac[6], buf[16];
	uint16_t port;
	char name[64];

	(void)arg;
	/* flow.h: connect and listen */
	EXPECT_EQ(weir_tcp_connect(NULL, s->peer, 80, NULL, &f), WEIR_EINVAL);
	EXPECT(f == NULL);
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 80, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 0, NULL, &f), WEIR_EINVAL);
	co.flow.keepalive.probes = 5000;
	EXPECT_EQ(weir_tcp_connect(s->stack, s->peer, 80, &co, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_listen(NULL, NULL, nop_handler, NULL, &l), WEIR_EINVAL);
	EXPECT(l == NULL);
	/* Without a handler (accept mode) the handler-only options are refused. */
	lo.max_connections = 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, NULL, NULL, &l), WEIR_EINVAL);
	lo.max_connections = 0;
	lo.refuse_over_max = 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, NULL, NULL, &l), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, nop_handler, NULL, &l), 0);
	/* accept is for a listener without a handler */
	EXPECT_EQ(weir_listener_accept(l, NULL, &f), WEIR_EINVAL);
	EXPECT(f == NULL);
	EXPECT_EQ(weir_listener_close(l), 0);
	lo.refuse_over_max = 2;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, nop_handler, NULL, &l), WEIR_EINVAL);
	lo.refuse_over_max = 0;
	EXPECT_EQ(weir_listener_accept(NULL, NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_listen(s->stack, NULL, NULL, NULL, &l), 0);
	EXPECT_EQ(weir_listener_accept(l, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_listener_close(l), 0);
	EXPECT_EQ(weir_tcp_listen(s->stack, NULL, nop_handler, NULL, NULL), WEIR_EINVAL);
	lo.backlog = 256;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, nop_handler, NULL, &l), WEIR_EINVAL);
	lo.backlog = 0;
	lo.handler_stack_size = 100;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, nop_handler, NULL, &l), WEIR_EINVAL);
	lo.handler_stack_size = 0;
	lo.flow.nodelay = 2;
	EXPECT_EQ(weir_tcp_listen(s->stack, &lo, nop_handler, NULL, &l), WEIR_EINVAL);
	EXPECT_EQ(weir_listener_port(NULL), 0);
	EXPECT_EQ(weir_listener_stop(NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_listener_close(NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_listener_get_stats(NULL, &ls), WEIR_EINVAL);
	/* flow.h: every call on a NULL flow */
	EXPECT_EQ(weir_flow_read(NULL, &b), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_into(NULL, buf, sizeof(buf)), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_into_until(NULL, buf, sizeof(buf), WEIR_DEADLINE_NEVER),
		  WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write(NULL, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev(NULL, &iov, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write_nodelay(NULL, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev_nodelay(NULL, &iov, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write_nocopy(NULL, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_set_nodelay(NULL, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_shutdown(NULL, WEIR_SHUT_WR), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_close(NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_abort(NULL), WEIR_EINVAL);
	weir_flow_free(NULL);
	EXPECT_EQ(weir_flow_set_keepalive(NULL, &ka), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_set_user_timeout(NULL, 1000), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_id(NULL), 0);
	EXPECT_EQ(weir_flow_src(NULL, &ip, &port), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_dst(NULL, &ip, &port), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_close_reason(NULL), WEIR_CLOSE_NONE);
	EXPECT_EQ(weir_flow_get_stats(NULL, &fs), WEIR_EINVAL);
	weir_buf_release(NULL);
	weir_buf_release(&b); /* never filled: a no-op */
	weir_tcp_get_stats(NULL);
	EXPECT(weir_close_reason_str((enum weir_close_reason)999) != NULL);
	/* message.h */
	EXPECT_EQ(weir_flow_read_exact(NULL, buf, 4, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_msg_send(NULL, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_msg_recv(NULL, buf, sizeof(buf), 0), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_handshake(NULL, "m", 1, 0), WEIR_EINVAL);
	/* resolve.h */
	EXPECT_EQ(weir_service_port(NULL, &port), WEIR_EINVAL);
	EXPECT_EQ(weir_service_port("http", NULL), WEIR_EINVAL);
	EXPECT(weir_service_name(1) == NULL);
	EXPECT_EQ(weir_hosts_add(NULL, s->peer), WEIR_EINVAL);
	EXPECT_EQ(weir_hosts_add("", s->peer), WEIR_EINVAL);
	EXPECT_EQ(weir_dns_set_server(1000, s->peer), WEIR_EINVAL);
	EXPECT_EQ(weir_resolve(NULL, "x", addrs, 2, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_resolve(s->stack, NULL, addrs, 2, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_resolve(s->stack, "x", NULL, 2, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_resolve(s->stack, "x", addrs, 0, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_name_of(s->peer, NULL, sizeof(name)), WEIR_EINVAL);
	EXPECT_EQ(weir_name_of(s->peer, name, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect_host(NULL, "x", "80", NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect_host(s->stack, NULL, "80", NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect_host(s->stack, "x", NULL, NULL, &f), WEIR_EINVAL);
	EXPECT_EQ(weir_tcp_connect_host(s->stack, "x", "80", NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_with_connection(s->stack, "x", "80", NULL, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_with_connection(NULL, "x", "80", NULL, nop_with, NULL), WEIR_EINVAL);
	/* server.h */
	weir_server_stop_init(&stop);
	EXPECT_EQ(weir_run_server(NULL, &so, nop_server_handler, NULL, &stop), WEIR_EINVAL);
	EXPECT_EQ(weir_run_server(s->stack, &so, NULL, NULL, &stop), WEIR_EINVAL);
	weir_server_stop_init(NULL);
	weir_server_stop_trigger(NULL);
	/* udp.h */
	EXPECT_EQ(weir_udp_open(NULL, NULL, &u), WEIR_EINVAL);
	EXPECT(u == NULL);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_port(NULL), 0);
	EXPECT_EQ(weir_udp_send_to(NULL, s->peer, 7, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(NULL, buf, sizeof(buf), NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv(NULL, &b, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_get_stats(NULL, &us), WEIR_EINVAL);
	weir_udp_close(NULL);
	weir_udp_count(NULL, NULL);
	/* stack.h */
	EXPECT_EQ(weir_ipaddr_parse(NULL, &ip), WEIR_EINVAL);
	EXPECT_EQ(weir_ipaddr_parse("192.0.2.1", NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_ipaddr_parse("192.0.2.256", &ip), WEIR_EINVAL);
	EXPECT_EQ(weir_ipaddr_parse_cidr(NULL, &ip, mac), WEIR_EINVAL);
	EXPECT_EQ(weir_ipaddr_parse_cidr("192.0.2.1/33", &ip, mac), WEIR_EINVAL);
	EXPECT_EQ(weir_mac_parse(NULL, mac), WEIR_EINVAL);
	EXPECT_EQ(weir_mac_parse("02:00:5e:00:53", mac), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_open(NULL, &st), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_poll(NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_get_addr(NULL, &ip, mac, &ip), WEIR_EINVAL);
	EXPECT(weir_stack_loop(NULL) == NULL);
	EXPECT_EQ(weir_stack_get_stats(NULL, &ss), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_get_stats(s->stack, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_get_mac(NULL, mac), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_ping(NULL, s->peer, 1, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_stack_ping(s->stack, s->peer, 1, 1473), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_stack_arp_resolved(NULL, s->peer), WEIR_EINVAL);
	weir_stack_close(NULL);
	/* netdev.h and the drivers */
	EXPECT_EQ(weir_netdev_rx_burst(NULL, frames, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_tx_burst(NULL, &tf, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_tx_burst(s->dev, NULL, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_get_caps(NULL, &caps), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_get_stats(NULL, &ns), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_poll(NULL), WEIR_EINVAL);
	weir_netdev_release(NULL);
	weir_netdev_close(NULL);
	EXPECT_EQ(weir_netdev_open(NULL, NULL, &nd), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_open("tap:x", NULL, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_netdev_open("nonsense", NULL, &nd), WEIR_EINVAL);
	EXPECT_EQ(weir_tap_open(NULL, &nd), WEIR_EINVAL);
	EXPECT_EQ(weir_link_open(NULL, &nd), WEIR_EINVAL);
	EXPECT_EQ(weir_link_socketpair(NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_pcap_wrap(NULL, "/dev/null", &nd), WEIR_EINVAL);
	EXPECT_EQ(weir_pcap_wrap(s->dev, NULL, &nd), WEIR_EINVAL);
	EXPECT_EQ(side_send(s, DONE), 0);
	return 0;
}

START_TEST(test_null_and_bad_arguments)
{
	ck_assert_int_eq(pair_run(main_null, peer_serve, NULL, NULL, 30 * S), 0);
}
END_TEST

/* --- zero and huge lengths on a live flow and socket ------------------------------------------ */

static int main_lengths(struct side *s, void *arg)
{
	struct weir_flow *f;
	struct weir_udp *u;
	struct weir_iov iov[2] = { { "ab", 2 }, { "cd", 2 } };
	struct weir_iov huge[2] = { { "ab", SIZE_MAX }, { "cd", 2 } };
	struct weir_iov nulls[1] = { { NULL, 4 } };
	struct weir_ipaddr any = { 0 };
	uint8_t buf[16];

	(void)arg;
	if (connect_peer(s, &f))
		return 1;
	/* Zero lengths: a no-op where data is given, WEIR_EINVAL where nothing could be meant. */
	EXPECT_EQ(weir_flow_write(f, "x", 0), 0);
	EXPECT_EQ(weir_flow_write(f, NULL, 0), 0);
	EXPECT_EQ(weir_flow_write(f, NULL, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev(f, iov, 0), 0);
	EXPECT_EQ(weir_flow_writev(f, NULL, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev(f, nulls, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_into(f, buf, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_into(f, NULL, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read(f, NULL), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_read_exact(f, buf, 0, MS), 0);
	EXPECT_EQ(weir_flow_handshake(f, "m", 0, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_handshake(f, buf, 257, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_msg_recv(f, NULL, 4, MS), WEIR_EINVAL);
	/* Huge lengths: no buffer is that large; refused before anything is sent. */
	EXPECT_EQ(weir_flow_write(f, "x", SIZE_MAX), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write(f, "x", (size_t)SSIZE_MAX + 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write_nodelay(f, "x", SIZE_MAX), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write_nocopy(f, "x", SIZE_MAX), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_write_nocopy(f, NULL, 1), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev(f, huge, 2), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_writev(f, iov, UINT_MAX), WEIR_EINVAL);
	EXPECT_EQ(weir_msg_send(f, "x", (size_t)WEIR_MSG_MAX + 1), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_flow_set_nodelay(f, 2), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_shutdown(f, 0), WEIR_EINVAL);
	EXPECT_EQ(weir_flow_shutdown(f, 4), WEIR_EINVAL);
	{
		struct weir_keepalive bad = { 1000, 100, 5000 };

		EXPECT_EQ(weir_flow_set_keepalive(f, NULL), WEIR_EINVAL);
		EXPECT_EQ(weir_flow_set_keepalive(f, &bad), WEIR_EINVAL);
	}
	/* The flow is unharmed: nothing was sent by the refused calls. */
	EXPECT_EQ(weir_flow_writev(f, iov, 2), 0);
	{
		struct weir_flow_stats fs;

		EXPECT_EQ(weir_flow_get_stats(f, &fs), 0);
		EXPECT_EQ(fs.bytes_out, 4);
	}
	EXPECT_EQ(weir_flow_close(f), 0);
	weir_flow_free(f);

	EXPECT_EQ(weir_udp_open(s->stack, NULL, &u), 0);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, 9, "x", (size_t)WEIR_UDP_MAX_PAYLOAD + 1),
		  WEIR_EMSGSIZE);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, 9, "x", SIZE_MAX), WEIR_EMSGSIZE);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, 9, NULL, 4), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_send_to(u, any, 9, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_send_to(u, s->peer, 0, "x", 1), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(u, NULL, 4, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(u, NULL, 0, NULL, NULL, MS), WEIR_ETIMEDOUT); /* allowed */
	EXPECT_EQ(weir_udp_recv(u, NULL, NULL, NULL, MS), WEIR_EINVAL);
	EXPECT_EQ(weir_udp_recv_from(u, buf, sizeof(buf), NULL, NULL, MS), WEIR_ETIMEDOUT);
	weir_udp_close(u);
	EXPECT_EQ(side_send(s, DONE), 0);
	return 0;
}

START_TEST(test_zero_and_huge_lengths)
{
	ck_assert_int_eq(pair_run(main_lengths, peer_serve, NULL, NULL, 30 * S), 0);
}
END_TEST

/* --- a closed flow, an aborted flow ----------------------------------------------------------- */

/* Every call on a flow that is over: WEIR_ECLOSED for I/O, 0 for the idempotent ends and for
 * identity and statistics (the handle stays valid until freed). */
static int expect_flow_over(struct weir_flow *f, enum weir_close_reason want)
{
	struct weir_iov iov = { "ab", 2 };
	struct weir_keepalive ka = { 1000, 100, 3 };
	struct weir_flow_stats fs;
	struct weir_ipaddr ip;
	struct weir_buf b;
	uint8_t buf[8];
	uint16_t port;

	EXPECT_EQ(weir_flow_read(f, &b), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_read_into(f, buf, sizeof(buf)), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_read_into_until(f, buf, sizeof(buf), weir_clock_now_ns() + S),
		  WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_write(f, "ab", 2), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_writev(f, &iov, 1), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_write_nodelay(f, "ab", 2), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_writev_nodelay(f, &iov, 1), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_write_nocopy(f, "ab", 2), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_nodelay(f, 1), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_shutdown(f, WEIR_SHUT_WR), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_keepalive(f, &ka), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_set_user_timeout(f, 1000), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_read_exact(f, buf, 4, S), WEIR_ECLOSED);
	EXPECT_EQ(weir_msg_send(f, "ab", 2), WEIR_ECLOSED);
	EXPECT_EQ(weir_msg_recv(f, buf, sizeof(buf), S), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_handshake(f, "m", 1, S), WEIR_ECLOSED);
	EXPECT_EQ(weir_flow_close(f), 0);
	EXPECT_EQ(weir_flow_abort(f), 0);
	EXPECT(weir_flow_id(f) != 0);
	EXPECT_EQ(weir_flow_src(f, &ip, &port), 0);
	EXPECT_EQ(weir_flow_dst(f, &ip, &port), 0);
	EXPECT_EQ(weir_flow_get_stats(f, &fs), 0);
	EXPECT_EQ(weir_flow_close_reason(f), want);
	return 0;
}

static int main_closed(struct side *s, void *arg)
{
	struct weir_flow *f;

	(void)arg;
	if (connect_peer(s, &f))
		return 1;
	EXPECT_EQ(weir_flow_write(f, "hello", 5), 0);
	EXPECT_EQ(weir_flow_close(f), 0);
	if (expect_flow_over(f, WEIR_CLOSE_LOCAL_CLOSE))
		return 1;
	weir_flow_free(f);

	if (connect_peer(s, &f))
		return 1;
	EXPECT_EQ(weir_flow_abort(f), 0);
	if (expect_flow_over(f, WEIR_CLOSE_LOCAL_ABORT))
		return 1;
	weir_flow_free(f);
	EXPECT_EQ(side_send(s, DONE), 0);
	return 0;
}

static int peer_serve_twice(struct side *s, void *arg)
{
	static struct peer_cfg twice = { drain_handler, 2 };

	(void)arg;
	return peer_listen(s, &twice);
}

START_TEST(test_closed_and_aborted_flow)
{
	ck_assert_int_eq(pair_run(main_closed, peer_serve_twice, NULL, NULL, 30 * S), 0);
}
END_TEST

/* --- every handle after the stack closed ------------------------------------------------------ */

struct blocked {
	struct weir_flow *f;
	struct weir_udp *u;
	int flow_rc, udp_rc, done;
};

static void blocked_reader(void *arg)
{
	struct blocked *bl = arg;
	uint8_t buf[64];

	bl->flow_rc = (int)weir_flow_read_into(bl->f, buf, sizeof(buf));
	bl->udp_rc = (int)weir_udp_recv_from(bl->u, buf, sizeof(buf), NULL, NULL, 0);
	bl->done = 1;
}

static int main_stack_closed(struct side *s, void *arg)
{
	struct blocked bl = { 0 };
	struct weir_listener *l;
	struct weir_tcp_stats ts;
	uint8_t buf[8];

	(void)arg;
	if (connect_peer(s, &bl.f))
		return 1;
	EXPECT_EQ(weir_tcp_listen(s->stack, NULL, drain_handler, NULL, &l), 0);
	EXPECT_EQ(weir_udp_open(s->stack, NULL, &bl.u), 0);
	EXPECT_EQ(weir_flow_write(bl.f, "before", 6), 0);
	EXPECT_EQ(weir_fiber_spawn(NULL, blocked_reader, &bl, NULL, NULL), 0);
	EXPECT_EQ(weir_fiber_sleep_ns(20 * MS), 0);
	EXPECT(!bl.done);

	weir_stack_close(s->stack);
	s->stack = NULL; /* pair_run must not close it again */

	for (int i = 0; i < 100 && !bl.done; i++)
		weir_fiber_sleep_ns(MS);
	EXPECT(bl.done);
	EXPECT_EQ(bl.flow_rc, WEIR_ECLOSED);
	EXPECT_EQ(bl.udp_rc, WEIR_ECLOSED);
	if (expect_flow_over(bl.f, WEIR_CLOSE_STACK_CLOSED))
		return 1;
	EXPECT_EQ(weir_udp_send_to(bl.u, s->peer, 9, "x", 1), WEIR_ECLOSED);
	EXPECT_EQ(weir_udp_recv_from(bl.u, buf, sizeof(buf), NULL, NULL, MS), WEIR_ECLOSED);
	EXPECT(weir_udp_port(bl.u) != 0);
	EXPECT_EQ(weir_listener_stop(l), 0);
	EXPECT(weir_listener_port(l) != 0);
	EXPECT_EQ(weir_listener_close(l), 0);
	weir_udp_close(bl.u);
	weir_flow_free(bl.f);
	weir_tcp_get_stats(&ts);
	EXPECT_EQ(ts.flows, 0);
	EXPECT_EQ(ts.listeners, 0);
	EXPECT_EQ(side_send(s, DONE), 0);
	return 0;
}

/* The peer's flow sees our RST when our stack closes. */
static enum weir_close_reason peer_saw;

static void watch_handler(struct weir_flow *f, void *arg)
{
	struct side *s = arg;
	uint8_t b[64];
	ssize_t n;

	while ((n = weir_flow_read_into(f, b, sizeof(b))) > 0)
		;
	peer_saw = weir_flow_close_reason(f);
	side_send(s, n == WEIR_ERESET && peer_saw == WEIR_CLOSE_PEER_RST ? 1 : 0x0bad);
}

static int peer_watch(struct side *s, void *arg)
{
	static struct peer_cfg watch = { watch_handler, 1 };

	(void)arg;
	return peer_listen(s, &watch);
}

static int main_stack_closed_checked(struct side *s, void *arg)
{
	uint32_t verdict;

	if (main_stack_closed(s, arg))
		return 1;
	/* The verdict was sent before our DONE reached the peer. */
	EXPECT_EQ(side_recv(s, &verdict, 5 * S), 0);
	EXPECT_EQ(verdict, 1);
	return 0;
}

START_TEST(test_every_handle_after_stack_close)
{
	ck_assert_int_eq(pair_run(main_stack_closed_checked, peer_watch, NULL, NULL, 30 * S), 0);
}
END_TEST

Suite *weir_test_misuse_suite(void)
{
	Suite *s = suite_create("misuse");
	TCase *tc = tcase_create("misuse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_null_and_bad_arguments);
	tcase_add_test(tc, test_zero_and_huge_lengths);
	tcase_add_test(tc, test_closed_and_aborted_flow);
	tcase_add_test(tc, test_every_handle_after_stack_close);
	suite_add_tcase(s, tc);
	return s;
}
