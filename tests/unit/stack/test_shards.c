/* test_shards.c - two stacks in two threads of one process at once (shards: stack/patches/0024).
 *
 * Each thread opens a loop, a link netdev on its end of one socketpair, a stack and fibers, and
 * runs them at the same time as the other: both listen on the same port (possible only if each
 * has its own lwIP), each connects to the other's echo service with several flows at once and
 * checks every byte, and each sees only its own listener, flows and pcbs. Without per-thread
 * state the second weir_stack_open() is WEIR_EBUSY and lwIP's lists would be shared; a TSan
 * build (tools/test.sh, label "shards") reports any state the two still share.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/link.h>
#include <weir/loop.h>
#include <weir/stack.h>

#include "weir_tests.h"

#define CLIENTS	   8
#define ECHO_BYTES (256 * 1024)
#define CHUNK	   8192
#define PORT	   7

struct shard {
	int idx, fd;
	const char *me, *peer;
	pthread_barrier_t *up;	   /* both stacks open before either connects */
	atomic_int *clients_done;  /* shards whose clients have all finished */
	struct weir_stack *stack;
	struct weir_ipaddr peer_ip;
	int clients_ok;		   /* clients whose echo came back byte-exact */
	unsigned listeners_seen;   /* weir_tcp_get_stats().listeners while both ran */
	unsigned listen_pcbs_seen; /* lwIP's listen list length, same moment */
	uint64_t flows_seen_max;   /* most flows this thread's stats ever showed */
	int handlers_done;	   /* echo handlers that returned */
	int clients_finished;	   /* client fibers that returned, byte-exact or not */
	char err[256];
};

static uint8_t pattern(int shard, int client, size_t i)
{
	return (uint8_t)((i * 131u + (size_t)client * 17u + (size_t)shard * 101u) >> 3);
}

static void shard_fail(struct shard *s, const char *what, int rc)
{
	if (s->err[0] == '\0')
		snprintf(s->err, sizeof(s->err), "shard %d: %s: %s", s->idx, what,
			 rc ? weir_strerror(rc) : "mismatch");
}

static void echo_handler(struct weir_flow *f, void *arg)
{
	struct shard *s = arg;
	struct weir_buf b;

	while (weir_flow_read(f, &b) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			break;
	}
	weir_flow_shutdown(f, WEIR_SHUT_WR);
	s->handlers_done++;
}

struct client {
	struct shard *s;
	int n;
	uint8_t out[CHUNK], in[CHUNK]; /* the fibers of a shard interleave: one pair each */
};

static void client_fiber(void *arg)
{
	struct client *c = arg;
	struct shard *s = c->s;
	uint8_t *out = c->out, *in = c->in;
	struct weir_flow *f = NULL;
	struct weir_tcp_stats ts;
	int rc = weir_tcp_connect(s->stack, s->peer_ip, PORT, NULL, &f);

	if (rc < 0) {
		shard_fail(s, "connect", rc);
		s->clients_finished++;
		return;
	}
	for (size_t off = 0; off < ECHO_BYTES; off += CHUNK) {
		size_t got = 0;

		for (size_t i = 0; i < CHUNK; i++)
			out[i] = pattern(s->idx, c->n, off + i);
		rc = weir_flow_write(f, out, CHUNK);
		if (rc < 0) {
			shard_fail(s, "write", rc);
			goto done;
		}
		while (got < CHUNK) {
			ssize_t n = weir_flow_read_into(f, in + got, CHUNK - got);

			if (n <= 0) {
				shard_fail(s, "read", n < 0 ? (int)n : WEIR_ECLOSED);
				goto done;
			}
			got += (size_t)n;
		}
		if (memcmp(in, out, CHUNK) != 0) {
			shard_fail(s, "echo bytes", 0);
			goto done;
		}
		weir_tcp_get_stats(&ts);
		if (ts.flows > s->flows_seen_max)
			s->flows_seen_max = ts.flows;
	}
	s->clients_ok++;
done:
	weir_flow_close(f);
	weir_flow_free(f);
	s->clients_finished++;
}

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	struct weir_link_config lc = { .fd = s->fd, .name = s->idx ? "b" : "a" };
	struct weir_stack_config sc = { 0 };
	struct weir_tcp_listen_opts lo = { .port = PORT };
	struct weir_loop *loop = NULL;
	struct weir_netdev *dev = NULL;
	struct weir_listener *l = NULL;
	static __thread struct client clients[CLIENTS];
	struct weir_tcp_stats ts;
	int rc, spawned = 0, counted = 0;
	uint64_t deadline;

	weir_ipaddr_parse(s->peer, &s->peer_ip);
	if ((rc = weir_loop_create(&loop)) < 0 || (rc = weir_link_open(&lc, &dev)) < 0) {
		shard_fail(s, "loop or link", rc);
		pthread_barrier_wait(s->up);
		return NULL;
	}
	sc.netdev = dev;
	sc.loop = loop;
	weir_ipaddr_parse(s->me, &sc.ip);
	sc.prefix_len = 24;
	if ((rc = weir_stack_open(&sc, &s->stack)) < 0 || (rc = weir_fibers_init(loop)) < 0 ||
	    (rc = weir_tcp_listen(s->stack, &lo, echo_handler, s, &l)) < 0) {
		shard_fail(s, "stack, fibers or listen", rc);
		pthread_barrier_wait(s->up);
		goto out;
	}
	pthread_barrier_wait(s->up);

	/* Both are up: what this thread sees is its own. */
	weir_tcp_get_stats(&ts);
	s->listeners_seen = ts.listeners;
	for (struct tcp_pcb_listen *p = tcp_listen_pcbs.listen_pcbs; p != NULL; p = p->next)
		s->listen_pcbs_seen++;

	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = (struct client){ .s = s, .n = i };
		if ((rc = weir_fiber_spawn(NULL, client_fiber, &clients[i], NULL, NULL)) < 0) {
			shard_fail(s, "spawn", rc);
			break;
		}
		spawned++;
	}
	/* Run until this shard's clients are done and the peer's are too (its clients use this
	 * shard's echo service), then until this shard's handlers have returned. */
	deadline = weir_clock_now_ns() + 60 * WEIR_NS_PER_S;
	while (weir_clock_now_ns() < deadline) {
		if (!counted && s->clients_finished == spawned) {
			atomic_fetch_add(s->clients_done, 1);
			counted = 1;
		}
		if (counted && atomic_load(s->clients_done) == 2 &&
		    s->handlers_done == CLIENTS)
			break;
		weir_loop_run_once(loop, WEIR_NS_PER_MS);
	}
	if (!counted) {
		shard_fail(s, "clients did not finish in 60 s", WEIR_ETIMEDOUT);
		atomic_fetch_add(s->clients_done, 1);
	} else if (s->handlers_done != CLIENTS) {
		shard_fail(s, "the peer's flows did not finish in 60 s", WEIR_ETIMEDOUT);
	}
	weir_listener_close(l);
	/* Let the last FINs and ACKs go out before the stack goes. */
	deadline = weir_clock_now_ns() + 200 * WEIR_NS_PER_MS;
	while (weir_clock_now_ns() < deadline)
		weir_loop_run_once(loop, WEIR_NS_PER_MS);
	weir_fibers_fini();
	weir_tcp_get_stats(&ts);
	if (ts.flows != 0 || ts.listeners != 0 || ts.bufs_out != 0)
		snprintf(s->err, sizeof(s->err), "shard %d leaked %u flows %u listeners %u bufs",
			 s->idx, ts.flows, ts.listeners, ts.bufs_out);
out:
	if (s->stack != NULL)
		weir_stack_close(s->stack);
	if (dev != NULL)
		weir_netdev_close(dev);
	weir_loop_destroy(loop);
	return NULL;
}

START_TEST(test_two_stacks_in_two_threads_at_once)
{
	pthread_barrier_t up;
	atomic_int clients_done = 0;
	int fds[2];
	struct shard sh[2] = {
		{ .idx = 0, .me = "192.0.2.1", .peer = "192.0.2.2" },
		{ .idx = 1, .me = "192.0.2.2", .peer = "192.0.2.1" },
	};
	pthread_t t[2];

	ck_assert_int_eq(weir_link_socketpair(fds), 0);
	ck_assert_int_eq(pthread_barrier_init(&up, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		sh[i].fd = fds[i];
		sh[i].up = &up;
		sh[i].clients_done = &clients_done;
		ck_assert_int_eq(pthread_create(&t[i], NULL, shard_main, &sh[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&up);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(sh[i].err[0] == '\0', "%s", sh[i].err);
		ck_assert_int_eq(sh[i].clients_ok, CLIENTS);
		ck_assert_int_eq(sh[i].handlers_done, CLIENTS);
		/* Each sees one listener (its own) and one listening pcb on port 7, though both
		 * listen on it; and never more flows than its own clients and their peers. */
		ck_assert_uint_eq(sh[i].listeners_seen, 1);
		ck_assert_uint_eq(sh[i].listen_pcbs_seen, 1);
		ck_assert_uint_le(sh[i].flows_seen_max, 2 * CLIENTS);
		ck_assert_uint_ge(sh[i].flows_seen_max, 1);
	}
}
END_TEST

Suite *weir_test_shards_suite(void)
{
	Suite *s = suite_create("shards");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_stacks_in_two_threads_at_once);
	suite_add_tcase(s, tc);
	return s;
}
