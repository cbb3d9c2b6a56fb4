/* pair.c - two weir hosts in two processes over a link (see pair.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"

#include <weir/clock.h>
#include <weir/config.h>
#include <weir/error.h>

#include "pair.h"

int side_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%d] %s:%d: ", (int)getpid(), file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int side_send(struct side *s, uint32_t v)
{
	return write(s->msg_wr, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : WEIR_EIO;
}

int side_recv(struct side *s, uint32_t *v, uint64_t timeout_ns)
{
	uint64_t deadline = weir_clock_now_ns() + timeout_ns;

	for (;;) {
		ssize_t n = read(s->msg_rd, v, sizeof(*v));

		if (n == (ssize_t)sizeof(*v))
			return 0;
		if (n == 0)
			return WEIR_EOF;
		if (weir_clock_now_ns() > deadline)
			return WEIR_ETIMEDOUT;
		if (weir_fiber_sleep_ns(WEIR_NS_PER_MS) < 0)
			return WEIR_ECANCELED;
	}
}

struct runner {
	side_fn fn;
	struct side *s;
	void *arg;
	int done, rc;
};

static void run_fn(void *arg)
{
	struct runner *r = arg;

	r->rc = r->fn(r->s, r->arg);
	r->done = 1;
}

/* lwIP's pools right after the stack came up, compared at the end. */
static unsigned pool_baseline[MEMP_MAX];

static void pool_snapshot(unsigned *out)
{
	for (int i = 0; i < MEMP_MAX; i++)
		out[i] = lwip_stats.memp[i] ? lwip_stats.memp[i]->used : 0;
}

static int side_up(struct side *s, int fd, const struct weir_link_impair *imp, int child)
{
	struct weir_link_config lc = { .fd = fd, .name = child ? "b" : "a" };
	struct weir_stack_config sc = { 0 };
	int rc;

	if (imp != NULL) {
		lc.impair = *imp;
		lc.impair.seed = imp->seed * 2 + (uint64_t)child;
	}
	s->is_child = child;
	weir_ipaddr_parse(child ? "192.0.2.2" : "192.0.2.1", &s->me);
	weir_ipaddr_parse(child ? "192.0.2.1" : "192.0.2.2", &s->peer);
	if ((rc = weir_loop_create(&s->loop)) < 0 || (rc = weir_link_open(&lc, &s->dev)) < 0)
		return FAILF("side up: %s", weir_strerror(rc));
	sc.netdev = s->dev;
	sc.loop = s->loop;
	sc.ip = s->me;
	sc.prefix_len = 24;
	if ((rc = weir_stack_open(&sc, &s->stack)) < 0 || (rc = weir_fibers_init(s->loop)) < 0)
		return FAILF("side up: %s", weir_strerror(rc));
	pool_snapshot(pool_baseline);
	return 0;
}

/* Stops fibers and checks that nothing leaked; returns 0 or 1. */
static int side_down(struct side *s)
{
	struct weir_tcp_stats ts;
	struct weir_fiber_stats fs;
	int bad = 0;

	unsigned pools[MEMP_MAX];

	weir_fibers_fini();
	weir_tcp_get_stats(&ts);
	weir_fiber_get_stats(&fs);
	if (ts.flows != 0 || ts.listeners != 0 || ts.bufs_out != 0 || fs.live != 0)
		bad = FAILF("leak: %u flows, %u listeners, %u buffers, %u fibers", ts.flows,
			    ts.listeners, ts.bufs_out, fs.live);
	/* Connections we let go of may still be finishing in lwIP (TIME_WAIT, LAST_ACK): end
	 * them, then every lwIP pool must be back where it started. */
	while (tcp_active_pcbs != NULL)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
	/* Packets still waiting for an ARP answer (a SYN to an absent host) go with the entries;
	 * lwIP's TCP timer retires itself on the tick after the last pcb: give it a few. */
	if (netif_default != NULL) /* NULL when the test closed the stack itself */
		etharp_cleanup_netif(netif_default);
	{
		uint64_t until =
			weir_clock_now_ns() + 20 * CONFIG_LWIP_TCP_TMR_INTERVAL * WEIR_NS_PER_MS;

		do {
			weir_loop_run_once(s->loop, WEIR_NS_PER_MS);
			pool_snapshot(pools);
		} while (memcmp(pools, pool_baseline, sizeof(pools)) != 0 &&
			 weir_clock_now_ns() < until);
	}
	/* A test that closed the stack itself took the stack's own ICMP pcb with it. */
	if (s->stack == NULL)
		pool_baseline[MEMP_RAW_PCB]--;
	for (int i = 0; i < MEMP_MAX; i++)
		if (pools[i] != pool_baseline[i])
			bad = FAILF("lwIP pool %d: %u in use, %u at start", i, pools[i],
				    pool_baseline[i]);
	weir_stack_close(s->stack);
	weir_netdev_close(s->dev);
	weir_loop_destroy(s->loop);
	return bad;
}

int pair_run(side_fn main_fn, side_fn peer, void *arg, const struct weir_link_impair *imp,
	     uint64_t timeout_ns)
{
	int fds[2], to_child[2], to_parent[2], life[2];
	uint64_t deadline = weir_clock_now_ns() + timeout_ns;
	struct runner r = { 0 };
	struct side s = { 0 };
	int status = -1, child_done = 0, rc;
	pid_t pid;

	if (weir_link_socketpair(fds) < 0 || pipe2(to_child, O_NONBLOCK) < 0 ||
	    pipe2(to_parent, O_NONBLOCK) < 0 || pipe(life) < 0)
		return FAILF("pipes");
	pid = fork();
	if (pid < 0)
		return FAILF("fork");
	if (pid == 0) {
		close(fds[0]);
		close(to_child[1]);
		close(to_parent[0]);
		close(life[1]);
		fcntl(life[0], F_SETFL, O_NONBLOCK);
		s.msg_rd = to_child[0];
		s.msg_wr = to_parent[1];
		if (side_up(&s, fds[1], imp, 1) != 0)
			_exit(97);
		r.fn = peer;
		r.s = &s;
		r.arg = arg;
		weir_fiber_spawn(NULL, run_fn, &r, NULL, NULL);
		/* Serve until the parent is done (its end of the lifeline closes), then give the
		 * peer function a moment to take in the parent's last messages and finish. */
		for (;;) {
			char c;

			weir_loop_run_once(s.loop, 2 * WEIR_NS_PER_MS);
			if (read(life[0], &c, 1) == 0)
				break;
		}
		{
			uint64_t grace = weir_clock_now_ns() + 3 * WEIR_NS_PER_S;

			while (!r.done && weir_clock_now_ns() < grace)
				weir_loop_run_once(s.loop, 2 * WEIR_NS_PER_MS);
		}
		rc = r.done ? r.rc : FAILF("peer still running when the test ended");
		if (side_down(&s) != 0 && rc == 0)
			rc = 98;
		_exit(rc);
	}
	close(fds[1]);
	close(to_child[0]);
	close(to_parent[1]);
	close(life[0]);
	s.msg_rd = to_parent[0];
	s.msg_wr = to_child[1];
	rc = side_up(&s, fds[0], imp, 0);
	if (rc == 0) {
		r.fn = main_fn;
		r.s = &s;
		r.arg = arg;
		weir_fiber_spawn(NULL, run_fn, &r, NULL, NULL);
		while (!r.done && weir_clock_now_ns() < deadline)
			weir_loop_run_once(s.loop, 2 * WEIR_NS_PER_MS);
		rc = r.done ? r.rc : FAILF("test side timed out");
		close(life[1]);
		life[1] = -1;
		/* Keep answering until the peer process is gone (its last FINs and ACKs). */
		while (weir_clock_now_ns() < deadline + WEIR_NS_PER_S) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				child_done = 1;
				break;
			}
			weir_loop_run_once(s.loop, 2 * WEIR_NS_PER_MS);
		}
		if (side_down(&s) != 0 && rc == 0)
			rc = 1;
	}
	if (life[1] >= 0)
		close(life[1]);
	if (!child_done) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		if (rc == 0)
			rc = FAILF("peer process did not finish");
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (rc == 0)
			rc = FAILF("peer process failed (status 0x%x)", status);
	}
	close(to_child[1]);
	close(to_parent[0]);
	return rc;
}

/* --- helpers shared by the flow tests (test_tcp.c, test_message.c, test_server.c) ------------- */

uint8_t pattern_byte(uint64_t i, uint32_t seed)
{
	uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;

	return (uint8_t)(x >> 29);
}

/* Messages from the main side other than "done" land here for the peer's handlers (only the
 * serving fiber reads the pipe). */
static uint32_t mailbox;
static int mailbox_n;

int wait_mail(uint32_t *msg, uint64_t timeout_ns)
{
	uint64_t deadline = weir_clock_now_ns() + timeout_ns;

	while (mailbox_n == 0) {
		if (weir_clock_now_ns() > deadline)
			return WEIR_ETIMEDOUT;
		if (weir_fiber_sleep_ns(WEIR_NS_PER_MS) < 0)
			return WEIR_ECANCELED;
	}
	mailbox_n = 0;
	*msg = mailbox;
	return 0;
}

int serve_until_done(struct side *s, void *arg)
{
	struct serve *sv = arg;
	struct weir_listener *l;
	uint32_t msg;
	int rc;

	rc = weir_tcp_listen(s->stack, &sv->opts, sv->handler, s, &l);
	if (rc < 0)
		return FAILF("listen: %s", weir_strerror(rc));
	EXPECT_EQ(side_send(s, weir_listener_port(l)), 0);
	for (;;) {
		/* pair_run's own timeout bounds the whole test. */
		rc = side_recv(s, &msg, 3600 * WEIR_NS_PER_S);
		if (rc < 0)
			return FAILF("waiting for done: %s", weir_strerror(rc));
		if (msg == 0xd0e)
			break;
		mailbox = msg;
		mailbox_n = 1;
	}
	weir_listener_get_stats(l, &sv->st);
	EXPECT_EQ(weir_listener_close(l), 0);
	return 0;
}

int connect_to_peer(struct side *s, uint16_t port, const struct weir_tcp_connect_opts *o,
		    struct weir_flow **f)
{
	return weir_tcp_connect(s->stack, s->peer, port, o, f);
}

int wait_port(struct side *s, uint32_t *port)
{
	int rc = side_recv(s, port, 10 * WEIR_NS_PER_S);

	return rc < 0 ? FAILF("no port from peer: %s", weir_strerror(rc)) : 0;
}

int idle_peer(struct side *s, void *arg)
{
	(void)s;
	(void)arg;
	return 0;
}

void hold_handler(struct weir_flow *f, void *arg)
{
	uint8_t b[8];

	(void)arg;
	weir_flow_write(f, "hi", 2);
	while (weir_flow_read_into(f, b, sizeof(b)) > 0)
		;
}

int accept_errors, accept_error_class, accept_error_code;

void note_accept_error(enum weir_accept_error cls, int err, void *arg)
{
	(void)arg;
	accept_errors++;
	accept_error_class = (int)cls;
	accept_error_code = err;
}
