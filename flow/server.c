/* server.c - weir_run_server: a listener, a stop trigger, a drain, error reporting. */
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/server.h>

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

struct drainer {
	struct weir_listener *l;
	int done;
};

static void drain(void *arg)
{
	struct drainer *d = arg;

	weir_listener_stop(d->l);
	d->done = 1;
}

int weir_run_server(struct weir_stack *stack, struct weir_server_opts *opts,
		    int (*handler)(struct weir_flow *flow, void *arg), void *arg,
		    struct weir_server_stop *stop)
{
	struct server sv = { .handler = handler, .arg = arg, .opts = opts };
	struct drainer d = { 0 };
	struct weir_fiber *df;
	int rc;

	if (stack == NULL || opts == NULL || handler == NULL || stop == NULL ||
	    weir_fiber_self() == NULL)
		return WEIR_EINVAL;
	rc = weir_tcp_listen(stack, &opts->listen, run_handler, &sv, &d.l);
	if (rc < 0)
		return rc;
	if (opts->on_listening != NULL)
		opts->on_listening(weir_listener_port(d.l), arg);
	while (!stop->triggered && rc == 0)
		rc = weir_event_wait(&stop->ev, WEIR_DEADLINE_NEVER);
	if (rc == 0) {
		/* Stop accepting; let handlers finish, within the drain timeout. */
		uint64_t deadline = opts->drain_timeout_ns
					    ? weir_clock_now_ns() + opts->drain_timeout_ns
					    : WEIR_DEADLINE_NEVER;

		if (weir_fiber_spawn(NULL, drain, &d, NULL, &df) == 0) {
			while (!d.done && weir_clock_now_ns() < deadline &&
			       weir_fiber_sleep_ns(WEIR_NS_PER_MS * 5) == 0)
				;
			weir_fiber_cancel(df);
			weir_fiber_join(df);
		}
	}
	weir_listener_close(d.l); /* cancels what is still running, waits for it */
	return rc;
}
