/* server.c - weir_run_server: a listener, a stop trigger, a drain, error reporting. */
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/server.h>

#include "tcp_priv.h"

struct server {
	int (*handler)(struct weir_flow *flow, void *arg);
	void *arg;
	struct weir_server_opts *opts;
};

void weir_server_stop_init(struct weir_server_stop *s)
{
	if (s == NULL)
		return;
	weir_event_init(&s->ev);
	s->triggered = 0;
}

void weir_server_stop_trigger(struct weir_server_stop *s)
{
	if (s != NULL) {
		s->triggered = 1;
		weir_event_broadcast(&s->ev);
	}
}

static void run_handler(struct weir_flow *f, void *arg)
{
	struct server *sv = arg;
	int rc = sv->handler(f, sv->arg);

	/* A handler cut short because the server stopped is not a failure (Eio's rule). */
	if (rc < 0 && rc != WEIR_ECANCELED && sv->opts->on_error != NULL)
		sv->opts->on_error(f, rc, sv->arg);
}

int weir_run_server(struct weir_stack *stack, struct weir_server_opts *opts,
		    int (*handler)(struct weir_flow *flow, void *arg), void *arg,
		    struct weir_server_stop *stop)
{
	struct server sv = { .handler = handler, .arg = arg, .opts = opts };
	struct weir_server_stop never;
	struct weir_listener *l;
	int rc;

	if (stack == NULL || opts == NULL || handler == NULL || weir_fiber_self() == NULL)
		return WEIR_EINVAL;
	if (stop == NULL) {
		/* Eio's ?stop is optional: without it the server runs until its fiber is
		 * cancelled. */
		weir_server_stop_init(&never);
		stop = &never;
	}
	rc = weir_tcp_listen(stack, &opts->listen, run_handler, &sv, &l);
	if (rc < 0)
		return rc;
	if (opts->on_listening != NULL)
		opts->on_listening(weir_listener_port(l), arg);
	while (!stop->triggered && rc == 0)
		rc = weir_event_wait(&stop->ev, WEIR_DEADLINE_NEVER);
	if (rc == 0) {
		/* Stop accepting; let handlers finish, within the drain timeout. The wait is this
		 * fiber's own: cancelled meanwhile, it returns, and nothing outlives this frame. */
		rc = weir__listener_drain(l, weir_deadline_after(weir_clock_now_ns(),
								 opts->drain_timeout_ns,
								 WEIR_TIMEOUT_NEVER));
		if (rc == WEIR_ETIMEDOUT)
			rc = 0;
	}
	weir_listener_close(l); /* cancels what is still running, waits for it */
	return rc;
}
