/* pair.h - two weir hosts in two processes over a link, each running a function in a fiber. */
#ifndef WEIR_TEST_PAIR_H
#define WEIR_TEST_PAIR_H

#include <stdint.h>

#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/link.h>
#include <weir/loop.h>
#include <weir/stack.h>

struct side {
	struct weir_loop *loop;
	struct weir_netdev *dev;
	struct weir_stack *stack;
	struct weir_ipaddr me, peer; /* parent 192.0.2.1, child 192.0.2.2 */
	int msg_rd, msg_wr;	     /* a pipe each way for small messages */
	int is_child;
};

/* Runs in a fiber; returns 0 for success (anything else fails the test, and is printed). */
typedef int (*side_fn)(struct side *s, void *arg);

/* Forks: the child is 192.0.2.2 and runs peer(), this process is 192.0.2.1 and runs main_fn().
 * Both keep answering the network until both finished. Returns 0 when both returned 0 within
 * timeout_ns and neither side leaked flows, listeners, buffers or fibers. imp applies to both
 * directions (each side's own seed derived from imp->seed); NULL for a clean link. */
int pair_run(side_fn main_fn, side_fn peer, void *arg, const struct weir_link_impair *imp,
	     uint64_t timeout_ns);

/* Small messages between the two processes (fiber-friendly: polls, sleeping 1 ms). */
int side_send(struct side *s, uint32_t v);
int side_recv(struct side *s, uint32_t *v, uint64_t timeout_ns);

/* Fails the side with a message: use as `return FAILF("...", ...)`. */
int side_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define FAILF(...) side_fail(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond)                                                                       \
	do {                                                                               \
		if (!(cond))                                                               \
			return FAILF("expected %s", #cond);                                \
	} while (0)
#define EXPECT_EQ(a, b)                                                                    \
	do {                                                                               \
		long long pair__a = (long long)(a), pair__b = (long long)(b);              \
		if (pair__a != pair__b)                                                    \
			return FAILF("expected %s == %s, got %lld and %lld", #a, #b, pair__a, \
				     pair__b);                                             \
	} while (0)

#endif
