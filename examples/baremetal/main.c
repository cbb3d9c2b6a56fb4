/* main.c - weir on a bare-metal board: answers ping and serves echo (7), discard (9) and a web
 * page (80) on the board's NIC; prints "ready ADDR" on the console once it answers, and a line of
 * counters every 10 s and whenever 's' is typed (the tests read them to see nothing leaked).
 * The same flow API and fibers as a hosted program: each connection is a handler in a fiber. */
#include <stdio.h>
#include <string.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/log.h>
#include <weir/loop.h>
#include <weir/stack.h>

#include "http.h"
#include "nic.h"

#define STATS_EVERY_NS	(10 * WEIR_NS_PER_S)
#define CONSOLE_POLL_NS (200 * WEIR_NS_PER_MS)

static struct weir_netdev *nic;
static struct weir_stack *stack;
static size_t heap_at_ready;
static unsigned long echoed, discarded; /* bytes */

static void echo(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		echoed += rc == 0 ? b.len : 0;
		weir_buf_release(&b);
		if (rc < 0)
			return;
	}
}

static void discard(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) {
		discarded += b.len;
		weir_buf_release(&b);
	}
}

static void print_stats(void)
{
	struct weir_stack_stats ss;
	struct weir_netdev_stats ns;
	struct weir_tcp_stats ts;
	size_t heap_used, heap_high, heap_size;
	char line[640];
	int n;

	weir_stack_get_stats(stack, &ss);
	weir_netdev_get_stats(nic, &ns);
	weir_tcp_get_stats(&ts);
	weir_baremetal_heap(&heap_used, &heap_high, &heap_size);
	n = snprintf(
		line, sizeof(line),
		"stats: flows %lu bufs_out %lu heap %lu/%lu (at ready %lu, peak %lu) "
		"stack_deepest %lu rx %lu tx %lu runts %lu oversize %lu rx_errors %lu nobuf %lu "
		"tx_full %lu drop_input %lu copied %lu echoed %lu discarded %lu http %lu",
		(unsigned long)ts.flows, (unsigned long)ts.bufs_out, (unsigned long)heap_used,
		(unsigned long)heap_size, (unsigned long)heap_at_ready, (unsigned long)heap_high,
		(unsigned long)weir_baremetal_fiber_stack_deepest(), (unsigned long)ns.rx_frames,
		(unsigned long)ns.tx_frames, (unsigned long)ns.rx_runts,
		(unsigned long)ns.rx_oversize, (unsigned long)ns.rx_errors,
		(unsigned long)ns.rx_nobuf, (unsigned long)ns.tx_full, (unsigned long)ss.drop_input,
		(unsigned long)ss.rx_copied, echoed, discarded, weir_image_http_requests);
	if (n > 0 && (size_t)n < sizeof(line)) {
		int m = weir_image_nic_stats(nic, line + n, sizeof(line) - (size_t)n);

		if (m > 0)
			n += m;
	}
	if (n > 0 && (size_t)n < sizeof(line) - 2) {
		line[n++] = '\r';
		line[n++] = '\n';
	}
	if (n > 0)
		weir_board_console_write(line,
					 (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A loop source for the console and the periodic counters. */
static uint64_t next_stats_ns;

static int console_poll(void *arg)
{
	int c, work = 0;

	(void)arg;
	while ((c = weir_board_console_getc()) >= 0) {
		if (c == 's') {
			print_stats();
			work++;
		}
	}
	if (weir_clock_now_ns() >= next_stats_ns) {
		next_stats_ns = weir_clock_now_ns() + STATS_EVERY_NS;
		print_stats();
	}
	return work;
}

static uint64_t console_deadline(void *arg)
{
	uint64_t soon = weir_clock_now_ns() + CONSOLE_POLL_NS;

	(void)arg;
	return soon < next_stats_ns ? soon : next_stats_ns;
}

static const struct weir_loop_source_ops console_ops = {
	.poll = console_poll,
	.next_deadline_ns = console_deadline,
};

static int fail(const char *what, int rc)
{
	char line[200];
	int n = snprintf(line, sizeof(line), "image: %s: %s %s\r\n", what, weir_strerror(rc),
			 weir_netdev_last_error());

	if (n > 0)
		weir_board_console_write(line,
					 (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	return 1;
}

int main(void)
{
	struct weir_stack_config sc = { 0 };
	static const struct {
		uint16_t port;
		weir_flow_handler fn;
	} services[] = { { 7, echo }, { 9, discard }, { 80, weir_image_http } };
	struct weir_loop_source *console;
	struct weir_listener *l;
	char addr[WEIR_IPADDR_STRLEN], line[64];
	int rc, n;

	weir_log_info("weir on " WEIR_IMAGE_TITLE ", %s", WEIR_IMAGE_IP);
	rc = weir_loop_create(&sc.loop);
	if (rc < 0)
		return fail("loop", rc);
	rc = weir_image_nic_open(&nic);
	if (rc < 0)
		return fail("nic", rc);
	if (weir_ipaddr_parse_cidr(WEIR_IMAGE_IP, &sc.ip, &sc.prefix_len) < 0 ||
	    (WEIR_IMAGE_GW[0] != '\0' && weir_ipaddr_parse(WEIR_IMAGE_GW, &sc.gw) < 0))
		return fail("address " WEIR_IMAGE_IP " " WEIR_IMAGE_GW, WEIR_EINVAL);
	sc.netdev = nic;
	rc = weir_stack_open(&sc, &stack);
	if (rc < 0)
		return fail("stack", rc);
	rc = weir_fibers_init(sc.loop);
	if (rc < 0)
		return fail("fibers", rc);
	for (unsigned i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		struct weir_tcp_listen_opts lo = { .port = services[i].port };

		rc = weir_tcp_listen(stack, &lo, services[i].fn, NULL, &l);
		if (rc < 0)
			return fail("listen", rc);
	}
	next_stats_ns = weir_clock_now_ns() + STATS_EVERY_NS;
	rc = weir_loop_add(sc.loop, &console_ops, NULL, -1, WEIR_LOOP_SOURCE_MAY_SLEEP, &console);
	if (rc < 0)
		return fail("console", rc);
	weir_baremetal_heap(&heap_at_ready, NULL, NULL);
	n = snprintf(line, sizeof(line), "ready %s\r\n", weir_ipaddr_format(sc.ip, addr));
	weir_board_console_write(line, (size_t)n);
	print_stats();
	rc = weir_loop_run(sc.loop);
	return rc < 0 ? fail("loop", rc) : 0;
}
