/* server.h - run a TCP server until told to stop (Eio's Net.run_server), on weir_tcp_listen.
 *
 * Handlers return 0 or a negative weir error; on_error sees the failures (never a cancellation:
 * a handler cancelled because the server stopped is not an error).
 */
#ifndef WEIR_SERVER_H
#define WEIR_SERVER_H

#include <weir/fiber.h>
#include <weir/flow.h>

/* A stop trigger (Eio's ?stop promise). Embed, init, trigger from anywhere (callbacks too). */
struct weir_server_stop {
	struct weir_event ev;
	int triggered;
};
/* Both ignore NULL. */
void weir_server_stop_init(struct weir_server_stop *s);
void weir_server_stop_trigger(struct weir_server_stop *s);

struct weir_server_opts {
	struct weir_tcp_listen_opts listen; /* address, port (0: chosen), max_connections, ... */
	/* Called in the handler's fiber when it returned an error (not WEIR_ECANCELED). */
	void (*on_error)(struct weir_flow *flow, int err, void *arg);
	/* Told the chosen port once listening (may be NULL). */
	void (*on_listening)(uint16_t port, void *arg);
	/* After stop: how long running handlers may finish before they are cancelled (0: no limit,
	 * as Eio's run_server; weir/clock.h). */
	uint64_t drain_timeout_ns;
};

/* Listens, runs handler(flow, arg) in a fiber per accepted flow, and returns once stop was
 * triggered and every handler finished (the slow ones cancelled after drain_timeout_ns). stop
 * may be NULL (Eio's ?stop is optional): the server then runs until the calling fiber is
 * cancelled. May yield. Returns 0, or WEIR_EINVAL / WEIR_EADDRINUSE / WEIR_ENOMEM (nothing
 * started), or WEIR_ECANCELED (the calling fiber was cancelled, before or during the drain: the
 * server stopped, handlers were cancelled and have finished). */
int weir_run_server(struct weir_stack *stack, struct weir_server_opts *opts,
		    int (*handler)(struct weir_flow *flow, void *arg), void *arg,
		    struct weir_server_stop *stop);

#endif /* WEIR_SERVER_H */
