/* fiber.h - cooperative fibers, events with deadlines, cancellation and scopes.
 *
 * Fibers run on the loop's thread, one at a time, and switch only when one blocks (a wait, a sleep,
 * a yield). The scheduler is a loop source: each loop turn runs every ready fiber until it blocks,
 * and the loop sleeps until the earliest fiber deadline when nothing is ready. Code outside any
 * fiber (the "main context": main(), lwIP callbacks, loop sources) must never block; it may spawn
 * fibers, signal events and cancel fibers. Blocking calls made from the main context return
 * WEIR_EINVAL, except weir_fiber_join() and weir_scope_close(), which drive the loop themselves.
 *
 * Cancellation (Eio's model): weir_fiber_cancel() marks a fiber cancelled; its current wait returns
 * WEIR_ECANCELED at once and every later wait or sleep returns WEIR_ECANCELED without blocking. A
 * fiber sees it through those return codes and unwinds.
 *
 * Scopes (Eio's Switch): every fiber belongs to a scope; resources (flows, listeners) may attach
 * to one. Closing a scope cancels its fibers, waits for them to finish, then closes its resources
 * in reverse order of attachment, so nothing outlives the scope.
 *
 * Caller bugs (NULL, a fiber from another scheduler) return WEIR_EINVAL; nothing here aborts on
 * bad input. A fiber that overflows its stack hits a guard page: the process stops with a message
 * naming the fiber, never silent corruption.
 */
#ifndef WEIR_FIBER_H
#define WEIR_FIBER_H

#include <stddef.h>
#include <stdint.h>

#include <weir/list.h>
#include <weir/loop.h>

struct weir_fiber;
struct weir_scope;

typedef void (*weir_fiber_fn)(void *arg);

/* Starts the fiber scheduler on loop (one per process). Returns 0, WEIR_EBUSY (already started),
 * WEIR_EINVAL or WEIR_ENOMEM. */
int weir_fibers_init(struct weir_loop *loop);
/* Stops the scheduler: cancels and finishes every fiber (driving the loop as needed), closes the
 * root scope and detaches from the loop. Call from the main context. */
void weir_fibers_fini(void);

struct weir_fiber_opts {
	size_t stack_size; /* bytes; 0: CONFIG_WEIR_FIBER_STACK_SIZE. Rounded up to pages (hosted).
			    */
	const char *name;  /* for logs and the overflow message; copied; may be NULL */
};

/* The smallest stack_size weir_fiber_spawn takes: 8 KiB hosted (a signal frame must fit), 1 KiB
 * on bare metal. */
size_t weir_fiber_stack_min(void);

/* Creates a fiber running fn(arg) in scope (NULL: the calling fiber's scope, or the root scope
 * from the main context). It becomes ready at once but runs only when the caller blocks or
 * returns to the loop. *out (may be NULL) stays valid until the fiber is joined, or until it
 * finished and its scope closed. Returns 0, WEIR_EINVAL (NULL fn, closing scope, bad stack size),
 * WEIR_ENOMEM. */
int weir_fiber_spawn(struct weir_scope *scope, weir_fiber_fn fn, void *arg,
		     const struct weir_fiber_opts *opts, struct weir_fiber **out);

/* The running fiber, or NULL in the main context. */
struct weir_fiber *weir_fiber_self(void);
/* A unique, sequential id (1, 2, ...), for logs. */
uint64_t weir_fiber_id(const struct weir_fiber *f);
const char *weir_fiber_name(const struct weir_fiber *f);

/* Lets every other ready fiber run once. Returns 0 or WEIR_ECANCELED. May yield. */
int weir_fiber_yield(void);
/* Sleeps until weir_clock_now_ns() >= deadline (WEIR_DEADLINE_NEVER: until cancelled). Returns 0 or
 * WEIR_ECANCELED. May yield. */
int weir_fiber_sleep_until(uint64_t deadline_ns);
int weir_fiber_sleep_ns(uint64_t ns);

/* Marks f cancelled and wakes it if it waits. Idempotent; a finished fiber is ignored. Callable
 * from anywhere, including lwIP callbacks. Returns 0 or WEIR_EINVAL. */
int weir_fiber_cancel(struct weir_fiber *f);
/* Whether the calling fiber has been cancelled (0 in the main context). */
int weir_fiber_cancelled(void);

/* Waits for f to finish and frees it (f is invalid afterwards). From a fiber it blocks (May
 * yield; WEIR_ECANCELED if the joiner is cancelled: f is then left unjoined); from the main
 * context it runs the loop until f finished. Returns 0, WEIR_EINVAL (NULL, self, already joined).
 */
int weir_fiber_join(struct weir_fiber *f);

/* Nobody will join f: its record is freed as soon as it finishes (at once if it already has).
 * Long-lived scopes that spawn many fibers (a server's handlers) need this, or finished records
 * stay until the scope closes. f stays valid (e.g. for weir_fiber_cancel) until it finishes.
 * Returns 0, or WEIR_EINVAL (NULL, already detached, being joined). */
int weir_fiber_detach(struct weir_fiber *f);

/* An event: fibers wait on it, anyone signals it. Waits have condition-variable semantics: a woken
 * fiber re-checks its condition. No allocation; embed it in your object. */
struct weir_event {
	struct weir_list waiters; /* waiting fibers, FIFO (private) */
};
void weir_event_init(struct weir_event *ev);
/* Blocks the calling fiber until the event is signalled, the deadline passes or the fiber is
 * cancelled. Returns 0 (signalled), WEIR_ETIMEDOUT, WEIR_ECANCELED, or WEIR_EINVAL (NULL, or
 * called from the main context). May yield. */
int weir_event_wait(struct weir_event *ev, uint64_t deadline_ns);
/* As weir_event_wait, but cancellation does not interrupt it (Eio's Cancel.protect): for cleanup
 * that must complete even in a cancelled fiber, such as waiting for cancelled handlers to finish.
 * Keep such waits short or bounded. Returns 0, WEIR_ETIMEDOUT or WEIR_EINVAL. May yield. */
int weir_event_wait_protected(struct weir_event *ev, uint64_t deadline_ns);
/* Makes the first (signal) or every (broadcast) waiting fiber ready. Never switches fibers, so it
 * is safe inside lwIP callbacks. Waking nobody is fine (events do not count). */
void weir_event_signal(struct weir_event *ev);
void weir_event_broadcast(struct weir_event *ev);
/* Whether any fiber waits on ev. */
int weir_event_has_waiters(const struct weir_event *ev);

/* A resource attached to a scope: its close() runs when the scope closes (after the scope's
 * fibers finished), in reverse order of attachment, unless detached first. Embed it. */
struct weir_scope_item {
	void (*close)(struct weir_scope_item *item);
	struct weir_list_node node; /* private: in the scope's items */
	struct weir_scope *scope;   /* private */
};

/* Creates a scope nested in parent (NULL: the calling fiber's scope, or the root scope). Closing
 * the parent closes it too. Returns 0, WEIR_EINVAL, WEIR_ENOMEM. */
int weir_scope_open(struct weir_scope *parent, struct weir_scope **out);
/* Cancels the scope's fibers (and nested scopes'), waits for them, closes its resources, frees
 * it. From a fiber it blocks; from the main context it drives the loop. A fiber must not close a
 * scope it belongs to (WEIR_EINVAL). Returns 0 or WEIR_EINVAL. May yield. */
int weir_scope_close(struct weir_scope *scope);
/* The calling fiber's scope (the root scope in the main context). */
struct weir_scope *weir_scope_current(void);
/* Attaches/detaches a resource. attach returns 0 or WEIR_EINVAL (NULL, no close fn, scope
 * closing). detach of an unattached item is a no-op. */
int weir_scope_attach(struct weir_scope *scope, struct weir_scope_item *item);
void weir_scope_detach(struct weir_scope_item *item);

/* Counters for tests and leak checks. */
struct weir_fiber_stats {
	uint64_t spawned, finished, switches;
	uint32_t live;	 /* spawned and not yet freed */
	uint32_t ready;	 /* runnable now */
	uint32_t scopes; /* open scopes, root included */
};
void weir_fiber_get_stats(struct weir_fiber_stats *out);

#endif /* WEIR_FIBER_H */
