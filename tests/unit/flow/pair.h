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
int side_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define FAILF(...) side_fail(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond)                                                                               \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return FAILF("expected %s", #cond);                                        \
	} while (0)
#define EXPECT_EQ(a, b)                                                                            \
	do {                                                                                       \
		long long pair__a = (long long)(a), pair__b = (long long)(b);                      \
		if (pair__a != pair__b)                                                            \
			return FAILF("expected %s == %s, got %lld and %lld", #a, #b, pair__a,      \
				     pair__b);                                                     \
	} while (0)

/* --- helpers shared by the flow tests --------------------------------------------------------- */

/* Byte i of a test pattern (seeded), for byte-exact checks. */
uint8_t pattern_byte(uint64_t i, uint32_t seed);

/* A listener on the peer that runs `handler`, tells the main side its port, and stays until the
 * main side says it is done (message 0xd0e). */
struct serve {
	weir_flow_handler handler;
	struct weir_tcp_listen_opts opts;
	struct weir_listener_stats st;
	uint32_t port;
};
/* Runs on the peer (side_fn with a struct serve as arg): listens, sends its port to the main
 * side, and stays until the main side sends 0xd0e; other messages go to wait_mail(). */
int serve_until_done(struct side *s, void *arg);
/* The next message from the main side that serve_until_done took (peer's handlers). */
int wait_mail(uint32_t *msg, uint64_t timeout_ns);
int connect_to_peer(struct side *s, uint16_t port, const struct weir_tcp_connect_opts *o,
		    struct weir_flow **f);
/* Receives the port serve_until_done sent, failing the side after 10 s. */
int wait_port(struct side *s, uint32_t *port);

/* A peer with nothing to do (side_fn). */
int idle_peer(struct side *s, void *arg);
/* A handler that writes "hi", then holds the flow until the peer's FIN. */
void hold_handler(struct weir_flow *f, void *arg);
/* An on_accept_error that records its calls (this process only). */
extern int accept_errors, accept_error_class, accept_error_code;
void note_accept_error(enum weir_accept_error cls, int err, void *arg);

#endif
