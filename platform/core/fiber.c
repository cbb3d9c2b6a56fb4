/* fiber.c - the portable fiber scheduler: ready queue, deadline heap, events, cancellation, scopes.
 *
 * Switching is asymmetric: the scheduler runs in the main context (inside its loop source's
 * poll()) and resumes one fiber at a time; a fiber that blocks switches back to the scheduler,
 * never straight to another fiber. That costs a second switch per hand-over but keeps every
 * decision in one place and means a fiber never runs inside anything but the scheduler's poll.
 *
 * Each poll() first moves fibers whose deadline passed to the ready queue, then runs the fibers
 * that are ready at that moment, once each, in FIFO order. Fibers made ready during the poll (a
 * yield, a signal from another fiber, a spawn) run on the next loop turn, so two fibers that keep
 * waking each other cannot starve the loop's other sources.
 *
 * Lifetime of a fiber record (struct weir_fiber): its stack is freed as soon as the fiber
 * finishes (by the scheduler, after switching off that stack); the small record stays until
 * either weir_fiber_join() returns or the fiber's scope closes, whichever comes first. So a
 * handle is valid until you join it or close its scope, never freed behind your back, and an
 * unjoined fiber leaks nothing beyond its scope. A join in progress when the scope closes keeps
 * the record alive (it is orphaned from the scope) and the joiner frees it.
 *
 * Scopes form a tree under the root scope. A nested scope is attached to its parent as an
 * ordinary scope item, so closing the parent finalizes children in the same reverse order as
 * the parent's other resources.
 *
 * No OS headers here: this file is also built bare metal (newlib, -ffreestanding). The context
 * switch and the stacks come from fiber_priv.h.
 */
#include <stdlib.h>
#include <string.h>

#define WEIR_LOG_COMPONENT "fiber"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/config.h>
#include <weir/freelist.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/log.h>
#include <weir/loop.h>

#include "fiber_priv.h"

#if WEIR__FIBER_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if WEIR__FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define FIBER_MAGIC 0x66696272u /* "fibr": catches stale and foreign handles */
#define SCOPE_MAGIC 0x73636f70u /* "scop" */
#define NOT_IN_HEAP UINT32_MAX
/* The contract's floor: less than this cannot hold a signal frame plus a few calls (hosted), or
 * an exception frame plus a few calls (bare metal: no signals). */
#ifdef CONFIG_WEIR_HOSTED
#define STACK_MIN ((size_t)8192)
#else
#define STACK_MIN ((size_t)1024)
#endif
/* Larger requests are caller bugs, and refusing them keeps page rounding from overflowing. */
#define STACK_MAX ((size_t)1 << 30)

enum fiber_state {
	FIBER_READY,	/* in the ready queue */
	FIBER_RUNNING,	/* sched.current */
	FIBER_WAITING,	/* on an event's list and/or in the deadline heap */
	FIBER_FINISHED, /* fn returned; stack freed; record kept until joined or scope closed */
};

struct weir_fiber {
	uint32_t magic;
	uint8_t state;
	uint8_t cancelled; /* weir_fiber_cancel() was called: waits fail with WEIR_ECANCELED */
	uint8_t shielded;  /* the current wait ignores cancellation (scope close must finish) */
	uint8_t joining;   /* a join is in progress: a scope close must not free the record */
	uint8_t detached;  /* nobody will join: the record goes as soon as the fiber finishes */
	int wake_rc;	   /* why the last wait ended: 0, WEIR_ETIMEDOUT or WEIR_ECANCELED */
	uint64_t id;
	weir_fiber_fn fn;
	void *arg;
	struct weir__fiber_ctx ctx;
	void *stack_lo; /* NULL once freed */
	size_t stack_size;
	struct weir_scope *scope; /* NULL only when orphaned by a scope close during a join */
	struct weir_list_node scope_node; /* in scope->fibers */
	struct weir_fiber *ready_next;
	struct weir_event *wait_ev;    /* the event whose list holds us, if any */
	struct weir_list_node ev_node; /* in wait_ev->waiters */
	uint64_t deadline;
	uint64_t timer_seq; /* orders equal deadlines FIFO */
	uint32_t heap_idx;
	struct weir_event join_ev; /* broadcast when the fiber finishes */
#if WEIR__FIBER_TSAN
	void *tsan_fiber;
#endif
	char name[];
};

struct weir_scope {
	uint32_t magic;
	uint8_t closing;
	struct weir_scope *parent;
	struct weir_scope_item link; /* in the parent's items: closes us with the parent */
	struct weir_list items;	     /* struct weir_scope_item, in order of attachment */
	struct weir_list fibers;     /* every record the scope owns, finished or not */
	uint32_t running;	     /* how many of them have not finished */
};

static WEIR_PER_SHARD struct {
	struct weir_loop *loop; /* NULL: not initialized */
	struct weir_loop_source *src;
	struct weir_scope *root;
	struct weir_fiber *current; /* NULL in the main context */
	struct weir__fiber_ctx main_ctx;
	struct weir_fiber *ready_head, *ready_tail;
	/* Min-heap of waiting fibers with a deadline. Its capacity never drops below the number of
	 * live fibers, so a wait never needs to allocate (and never fails for lack of memory). */
	struct weir_fiber **heap;
	uint32_t heap_len, heap_cap;
	uint64_t timer_seq;
	struct weir_event done_ev; /* broadcast when any fiber finishes; scope closers wait on it */
	uint64_t next_id;
	struct weir_fiber_stats stats;
#if WEIR__FIBER_ASAN
	const void *main_stack_bottom;
	size_t main_stack_size;
#endif
#if WEIR__FIBER_TSAN
	void *main_tsan_fiber;
#endif
} sched;

/* --- validation ------------------------------------------------------------------------------- */

static int fiber_valid(const struct weir_fiber *f)
{
	return sched.loop != NULL && f != NULL && f->magic == FIBER_MAGIC;
}

static int scope_valid(const struct weir_scope *s)
{
	return sched.loop != NULL && s != NULL && s->magic == SCOPE_MAGIC;
}

/* --- ready queue ------------------------------------------------------------------------------ */

static void ready_push(struct weir_fiber *f)
{
	f->state = FIBER_READY;
	f->ready_next = NULL;
	if (sched.ready_tail != NULL)
		sched.ready_tail->ready_next = f;
	else
		sched.ready_head = f;
	sched.ready_tail = f;
	sched.stats.ready++;
}

static struct weir_fiber *ready_pop(void)
{
	struct weir_fiber *f = sched.ready_head;

	if (f == NULL)
		return NULL;
	sched.ready_head = f->ready_next;
	if (sched.ready_head == NULL)
		sched.ready_tail = NULL;
	f->ready_next = NULL;
	sched.stats.ready--;
	return f;
}

/* --- deadline heap ---------------------------------------------------------------------------- */

static int heap_less(const struct weir_fiber *a, const struct weir_fiber *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->timer_seq < b->timer_seq;
}

static void heap_set(uint32_t i, struct weir_fiber *f)
{
	sched.heap[i] = f;
	f->heap_idx = i;
}

static void heap_up(uint32_t i)
{
	struct weir_fiber *f = sched.heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (!heap_less(f, sched.heap[p]))
			break;
		heap_set(i, sched.heap[p]);
		i = p;
	}
	heap_set(i, f);
}

static void heap_down(uint32_t i)
{
	struct weir_fiber *f = sched.heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= sched.heap_len)
			break;
		if (c + 1 < sched.heap_len && heap_less(sched.heap[c + 1], sched.heap[c]))
			c++;
		if (!heap_less(sched.heap[c], f))
			break;
		heap_set(i, sched.heap[c]);
		i = c;
	}
	heap_set(i, f);
}

static int heap_reserve(uint32_t n)
{
	struct weir_fiber **h;
	uint32_t cap = sched.heap_cap ? sched.heap_cap : 64;

	if (n <= sched.heap_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	h = realloc(sched.heap, cap * sizeof(*h));
	if (h == NULL)
		return WEIR_ENOMEM;
	sched.heap = h;
	sched.heap_cap = cap;
	return 0;
}

static void heap_push(struct weir_fiber *f)
{
	WEIR_BUG_ON(sched.heap_len >= sched.heap_cap);
	f->timer_seq = ++sched.timer_seq;
	heap_set(sched.heap_len++, f);
	heap_up(f->heap_idx);
}

static void heap_remove(struct weir_fiber *f)
{
	uint32_t i = f->heap_idx;
	struct weir_fiber *last;

	weir_assert(i < sched.heap_len && sched.heap[i] == f);
	last = sched.heap[--sched.heap_len];
	f->heap_idx = NOT_IN_HEAP;
	if (last == f)
		return;
	heap_set(i, last);
	heap_up(i);
	heap_down(last->heap_idx);
}

/* --- event wait lists ------------------------------------------------------------------------- */

static void ev_append(struct weir_event *ev, struct weir_fiber *f)
{
	f->wait_ev = ev;
	weir_list_push_tail(&ev->waiters, &f->ev_node);
}

static void ev_unlink(struct weir_fiber *f)
{
	weir_list_remove(&f->wait_ev->waiters, &f->ev_node);
	f->wait_ev = NULL;
}

/* The first fiber waiting on ev, or NULL. */
static struct weir_fiber *ev_first(const struct weir_event *ev)
{
	return weir_list_entry(ev->waiters.head, struct weir_fiber, ev_node);
}

/* Ends f's wait with rc and queues it. Never switches, so callable from lwIP callbacks. Takes f off
 * its event and out of the heap: the event may be freed as soon as the wait returns. */
static void wake(struct weir_fiber *f, int rc)
{
	WEIR_BUG_ON(f->state != FIBER_WAITING);
	if (f->wait_ev != NULL)
		ev_unlink(f);
	if (f->heap_idx != NOT_IN_HEAP)
		heap_remove(f);
	f->wake_rc = rc;
	ready_push(f);
}

/* --- switching -------------------------------------------------------------------------------- */

static void asan_start_switch(void **fake_save, const void *bottom, size_t size)
{
#if WEIR__FIBER_ASAN
	__sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
	WEIR_UNUSED(fake_save);
	WEIR_UNUSED(bottom);
	WEIR_UNUSED(size);
#endif
}

static void asan_finish_switch(void *fake_save, int from_main)
{
#if WEIR__FIBER_ASAN
	/* Coming back from the main context tells us its stack, which the next switch to it
	 * needs; coming back from a fiber, the old stack is of no interest. */
	if (from_main)
		__sanitizer_finish_switch_fiber(fake_save, &sched.main_stack_bottom,
						&sched.main_stack_size);
	else
		__sanitizer_finish_switch_fiber(fake_save, NULL, NULL);
#else
	WEIR_UNUSED(fake_save);
	WEIR_UNUSED(from_main);
#endif
}

static const void *main_stack_bottom(void)
{
#if WEIR__FIBER_ASAN
	return sched.main_stack_bottom;
#else
	return NULL;
#endif
}

static size_t main_stack_size(void)
{
#if WEIR__FIBER_ASAN
	return sched.main_stack_size;
#else
	return 0;
#endif
}

static void fiber_free(struct weir_fiber *f);

/* Main context -> f, until f blocks or finishes. */
static void resume(struct weir_fiber *f)
{
	void *fake = NULL;

	WEIR_BUG_ON(sched.current != NULL);
	f->state = FIBER_RUNNING;
	sched.current = f;
	sched.stats.switches++;
	asan_start_switch(&fake, f->stack_lo, f->stack_size);
#if WEIR__FIBER_TSAN
	__tsan_switch_to_fiber(f->tsan_fiber, 0);
#endif
	weir__fiber_switch(&sched.main_ctx, &f->ctx);
	asan_finish_switch(fake, 0);
	sched.current = NULL;
	if (f->state == FIBER_FINISHED) {
		/* Now that we are off its stack, nothing needs it any more. */
#if WEIR__FIBER_TSAN
		__tsan_destroy_fiber(f->tsan_fiber);
		f->tsan_fiber = NULL;
#endif
		weir__fiber_stack_free(f->stack_lo, f->stack_size);
		f->stack_lo = NULL;
		if (f->detached)
			fiber_free(f);
	}
}

/* The running fiber f -> main context; returns when the scheduler resumes f. The caller has
 * queued f somewhere (ready queue, event, heap) or marked it finished. */
static void suspend(struct weir_fiber *f, int finishing)
{
	void *fake = NULL;

	weir_assert(sched.current == f);
	/* A finishing fiber passes no save slot, so ASan drops its fake stack for good. */
	asan_start_switch(finishing ? NULL : &fake, main_stack_bottom(), main_stack_size());
#if WEIR__FIBER_TSAN
	__tsan_switch_to_fiber(sched.main_tsan_fiber, 0);
#endif
	weir__fiber_switch(&f->ctx, &sched.main_ctx);
	asan_finish_switch(fake, 1);
}

static void fiber_finish(struct weir_fiber *f) __attribute__((noreturn));
static void fiber_finish(struct weir_fiber *f)
{
	f->state = FIBER_FINISHED;
	sched.stats.finished++;
	WEIR_BUG_ON(f->scope == NULL || f->scope->running == 0);
	f->scope->running--;
	weir_event_broadcast(&f->join_ev);
	weir_event_broadcast(&sched.done_ev);
	suspend(f, 1);
	weir_panic(__FILE__, __LINE__, "finished fiber %llu resumed", (unsigned long long)f->id);
}

static void fiber_entry(void *arg) __attribute__((noreturn));
static void fiber_entry(void *arg)
{
	struct weir_fiber *f = arg;

	asan_finish_switch(NULL, 1);
	f->fn(f->arg);
	fiber_finish(f);
}

/* Blocks the running fiber on ev (may be NULL) until deadline. A shielded wait ignores
 * cancellation: scope close uses it because it must complete. May yield. */
static int wait_on(struct weir_fiber *f, struct weir_event *ev, uint64_t deadline, int shielded)
{
	if (f->cancelled && !shielded)
		return WEIR_ECANCELED;
	if (deadline != WEIR_DEADLINE_NEVER && deadline <= weir_clock_now_ns())
		return WEIR_ETIMEDOUT;
	f->state = FIBER_WAITING;
	f->shielded = (uint8_t)shielded;
	f->wake_rc = 0;
	if (ev != NULL)
		ev_append(ev, f);
	if (deadline != WEIR_DEADLINE_NEVER) {
		f->deadline = deadline;
		heap_push(f);
	}
	suspend(f, 0);
	f->shielded = 0;
	weir_assert(f->wait_ev == NULL && f->heap_idx == NOT_IN_HEAP);
	return f->wake_rc;
}

/* --- the loop source -------------------------------------------------------------------------- */

static void expire_timers(void)
{
	uint64_t now;

	if (sched.heap_len == 0)
		return;
	now = weir_clock_now_ns();
	while (sched.heap_len > 0 && sched.heap[0]->deadline <= now)
		wake(sched.heap[0], WEIR_ETIMEDOUT);
}

static int sched_poll(void *arg)
{
	uint32_t n;
	int ran = 0;

	WEIR_UNUSED(arg);
	WEIR_BUG_ON(sched.current != NULL);
	expire_timers();
	/* Only the fibers ready now: see the file header. */
	n = sched.stats.ready;
	while (n-- > 0) {
		struct weir_fiber *f = ready_pop();

		WEIR_BUG_ON(f == NULL);
		resume(f);
		ran++;
	}
	return ran;
}

static uint64_t sched_next_deadline(void *arg)
{
	WEIR_UNUSED(arg);
	if (sched.ready_head != NULL)
		return 0; /* already due: the loop must not sleep */
	if (sched.heap_len > 0)
		return sched.heap[0]->deadline;
	return WEIR_DEADLINE_NEVER;
}

static const struct weir_loop_source_ops sched_ops = {
	.poll = sched_poll,
	.next_deadline_ns = sched_next_deadline,
};

/* --- fibers ----------------------------------------------------------------------------------- */

static void scope_link_fiber(struct weir_scope *s, struct weir_fiber *f)
{
	f->scope = s;
	weir_list_push_head(&s->fibers, &f->scope_node);
}

static void scope_unlink_fiber(struct weir_fiber *f)
{
	weir_list_remove(&f->scope->fibers, &f->scope_node);
	f->scope = NULL;
}

#define scope_fiber(ln) weir_list_entry(ln, struct weir_fiber, scope_node)
#define scope_item(ln)	weir_list_entry(ln, struct weir_scope_item, node)

/* Records of fibers with short names (a handler per connection) wait on a free list for the next
 * spawn: hosted only (a bare-metal heap is too small to keep spares). A record there has room for
 * any short name. */
#define RECORD_NAME_MAX	   23
#define RECORD_CACHED_SIZE (sizeof(struct weir_fiber) + RECORD_NAME_MAX + 1)
#if defined(CONFIG_WEIR_HOSTED)
#define RECORD_CACHE_KEEP (WEIR_ASAN ? 0 : 4096)
#else
#define RECORD_CACHE_KEEP 0
#endif
static WEIR_PER_SHARD struct weir__freelist record_cache = { .keep = RECORD_CACHE_KEEP };

static struct weir_fiber *record_alloc(size_t namelen)
{
	if (namelen > RECORD_NAME_MAX)
		return calloc(1, sizeof(struct weir_fiber) + namelen + 1);
	return weir__freelist_get(&record_cache, RECORD_CACHED_SIZE);
}

static void record_free(struct weir_fiber *f, size_t namelen)
{
	if (namelen > RECORD_NAME_MAX)
		free(f);
	else
		weir__freelist_put(&record_cache, f);
}

static void fiber_free(struct weir_fiber *f)
{
	WEIR_BUG_ON(f->state != FIBER_FINISHED || f->stack_lo != NULL);
	if (f->scope != NULL)
		scope_unlink_fiber(f);
	f->magic = 0;
	record_free(f, strlen(f->name));
	sched.stats.live--;
}

size_t weir_fiber_stack_min(void)
{
	return STACK_MIN;
}

int weir_fiber_spawn(struct weir_scope *scope, weir_fiber_fn fn, void *arg,
		     const struct weir_fiber_opts *opts, struct weir_fiber **out)
{
	size_t want = CONFIG_WEIR_FIBER_STACK_SIZE, namelen;
	const char *name = "";
	struct weir_fiber *f;

	WEIR_EINVAL_IF(sched.loop == NULL || fn == NULL);
	if (scope == NULL)
		scope = weir_scope_current();
	WEIR_EINVAL_IF(!scope_valid(scope) || scope->closing);
	if (opts != NULL) {
		if (opts->stack_size != 0)
			want = opts->stack_size;
		if (opts->name != NULL)
			name = opts->name;
	}
	WEIR_EINVAL_IF(want < STACK_MIN || want > STACK_MAX);
	if (heap_reserve(sched.stats.live + 1) < 0)
		return WEIR_ENOMEM;
	namelen = strlen(name);
	f = record_alloc(namelen);
	if (f == NULL)
		return WEIR_ENOMEM;
	f->stack_lo = weir__fiber_stack_alloc(want, &f->stack_size);
	if (f->stack_lo == NULL) {
		record_free(f, namelen);
		return WEIR_ENOMEM;
	}
	memcpy(f->name, name, namelen + 1);
	f->magic = FIBER_MAGIC;
	f->id = ++sched.next_id;
	f->fn = fn;
	f->arg = arg;
	f->heap_idx = NOT_IN_HEAP;
	weir_event_init(&f->join_ev);
	weir__fiber_ctx_init(&f->ctx, f->stack_lo, f->stack_size, fiber_entry, f);
#if WEIR__FIBER_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
#endif
	scope_link_fiber(scope, f);
	scope->running++;
	sched.stats.spawned++;
	sched.stats.live++;
	ready_push(f);
	if (out != NULL)
		*out = f;
	return 0;
}

struct weir_fiber *weir_fiber_self(void)
{
	return sched.current;
}

uint64_t weir_fiber_id(const struct weir_fiber *f)
{
	return fiber_valid(f) ? f->id : 0;
}

const char *weir_fiber_name(const struct weir_fiber *f)
{
	return fiber_valid(f) ? f->name : "";
}

int weir_fiber_yield(void)
{
	struct weir_fiber *f = sched.current;

	WEIR_EINVAL_IF(f == NULL);
	if (f->cancelled)
		return WEIR_ECANCELED;
	ready_push(f);
	suspend(f, 0);
	return f->cancelled ? WEIR_ECANCELED : 0;
}

int weir_fiber_sleep_until(uint64_t deadline_ns)
{
	int rc;

	WEIR_EINVAL_IF(sched.current == NULL);
	rc = wait_on(sched.current, NULL, deadline_ns, 0);
	return rc == WEIR_ETIMEDOUT ? 0 : rc;
}

int weir_fiber_sleep_ns(uint64_t ns)
{
	uint64_t now = weir_clock_now_ns();
	/* Saturate: a huge duration means "until cancelled", not a wrapped, past deadline. */
	uint64_t deadline = ns >= WEIR_DEADLINE_NEVER - now ? WEIR_DEADLINE_NEVER : now + ns;

	return weir_fiber_sleep_until(deadline);
}

static void fiber_cancel(struct weir_fiber *f)
{
	if (f->state == FIBER_FINISHED)
		return;
	f->cancelled = 1;
	if (f->state == FIBER_WAITING && !f->shielded)
		wake(f, WEIR_ECANCELED);
}

int weir_fiber_cancel(struct weir_fiber *f)
{
	WEIR_EINVAL_IF(!fiber_valid(f));
	fiber_cancel(f);
	return 0;
}

int weir_fiber_cancelled(void)
{
	return sched.current != NULL && sched.current->cancelled;
}

int weir_fiber_detach(struct weir_fiber *f)
{
	WEIR_EINVAL_IF(!fiber_valid(f) || f->detached || f->joining);
	if (f->state == FIBER_FINISHED) {
		fiber_free(f);
		return 0;
	}
	f->detached = 1;
	return 0;
}

int weir_fiber_join(struct weir_fiber *f)
{
	struct weir_fiber *self = sched.current;

	WEIR_EINVAL_IF(!fiber_valid(f) || f == self || f->joining || f->detached);
	f->joining = 1;
	while (f->state != FIBER_FINISHED) {
		int rc;

		if (self == NULL) {
			rc = weir_loop_run_once(sched.loop, WEIR_DEADLINE_NEVER);
		} else {
			rc = wait_on(self, &f->join_ev, WEIR_DEADLINE_NEVER, 0);
			/* Condition-variable semantics: only give up if f is still running. */
			if (rc == WEIR_ECANCELED && f->state == FIBER_FINISHED)
				rc = 0;
		}
		if (rc < 0) {
			f->joining = 0;
			return rc;
		}
	}
	fiber_free(f);
	return 0;
}

/* --- events ----------------------------------------------------------------------------------- */

void weir_event_init(struct weir_event *ev)
{
	if (ev != NULL)
		ev->waiters.head = ev->waiters.tail = NULL;
}

int weir_event_wait(struct weir_event *ev, uint64_t deadline_ns)
{
	WEIR_EINVAL_IF(ev == NULL || sched.current == NULL);
	return wait_on(sched.current, ev, deadline_ns, 0);
}

int weir_event_wait_protected(struct weir_event *ev, uint64_t deadline_ns)
{
	struct weir_fiber *f = sched.current;

	WEIR_EINVAL_IF(ev == NULL || f == NULL);
	return wait_on(f, ev, deadline_ns, 1);
}

void weir_event_signal(struct weir_event *ev)
{
	if (ev != NULL && !weir_list_empty(&ev->waiters))
		wake(ev_first(ev), 0);
}

void weir_event_broadcast(struct weir_event *ev)
{
	if (ev == NULL)
		return;
	/* wake() unlinks the head each time, so this ends. */
	while (!weir_list_empty(&ev->waiters))
		wake(ev_first(ev), 0);
}

int weir_event_has_waiters(const struct weir_event *ev)
{
	return ev != NULL && !weir_list_empty(&ev->waiters);
}

/* --- scopes ----------------------------------------------------------------------------------- */

static void item_link(struct weir_scope *s, struct weir_scope_item *item)
{
	item->scope = s;
	weir_list_push_tail(&s->items, &item->node);
}

static void item_unlink(struct weir_scope_item *item)
{
	weir_list_remove(&item->scope->items, &item->node);
	item->scope = NULL;
}

static void scope_link_close(struct weir_scope_item *item);

/* The scope behind item if item is a nested scope's link, else NULL. */
static struct weir_scope *item_child(struct weir_scope_item *item)
{
	if (item->close != scope_link_close)
		return NULL;
	return WEIR_CONTAINER_OF(item, struct weir_scope, link);
}

static uint32_t scope_running(const struct weir_scope *s)
{
	uint32_t n = s->running;

	for (struct weir_list_node *ln = s->items.head; ln != NULL; ln = ln->next) {
		const struct weir_scope *child = item_child(scope_item(ln));

		if (child != NULL)
			n += scope_running(child);
	}
	return n;
}

/* Marks s and its descendants closing (no more spawns, opens or attaches) and cancels their
 * fibers. Never switches. */
static void scope_cancel(struct weir_scope *s)
{
	s->closing = 1;
	for (struct weir_list_node *n = s->fibers.head; n != NULL; n = n->next)
		fiber_cancel(scope_fiber(n));
	for (struct weir_list_node *n = s->items.head; n != NULL; n = n->next) {
		struct weir_scope *child = item_child(scope_item(n));

		if (child != NULL)
			scope_cancel(child);
	}
}

/* Closes s's resources in reverse order (children included), frees its fiber records and s. All
 * fibers of the subtree have finished. */
static void scope_finalize(struct weir_scope *s)
{
	struct weir_scope_item *it;
	struct weir_fiber *f;

	WEIR_BUG_ON(s->running != 0);
	while ((it = scope_item(s->items.tail)) != NULL) {
		item_unlink(it);
		it->close(it);
	}
	while ((f = scope_fiber(s->fibers.head)) != NULL) {
		WEIR_BUG_ON(f->state != FIBER_FINISHED);
		if (f->joining)
			scope_unlink_fiber(f); /* orphaned: the joiner frees it */
		else
			fiber_free(f);
	}
	s->magic = 0;
	free(s);
	sched.stats.scopes--;
}

static void scope_link_close(struct weir_scope_item *item)
{
	scope_finalize(WEIR_CONTAINER_OF(item, struct weir_scope, link));
}

/* Whether s is inner or one of its ancestors. */
static int scope_contains(const struct weir_scope *s, const struct weir_scope *inner)
{
	for (; inner != NULL; inner = inner->parent)
		if (inner == s)
			return 1;
	return 0;
}

/* Cancels, waits for and finalizes s. May yield. */
static int scope_close(struct weir_scope *s)
{
	struct weir_fiber *self = sched.current;

	scope_cancel(s);
	while (scope_running(s) > 0) {
		if (self == NULL) {
			int rc = weir_loop_run_once(sched.loop, WEIR_DEADLINE_NEVER);

			if (rc < 0)
				return rc;
		} else {
			wait_on(self, &sched.done_ev, WEIR_DEADLINE_NEVER, 1);
		}
	}
	if (s->link.scope != NULL)
		item_unlink(&s->link);
	scope_finalize(s);
	return 0;
}

int weir_scope_open(struct weir_scope *parent, struct weir_scope **out)
{
	struct weir_scope *s;

	WEIR_EINVAL_IF(sched.loop == NULL || out == NULL);
	if (parent == NULL)
		parent = weir_scope_current();
	WEIR_EINVAL_IF(!scope_valid(parent) || parent->closing);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return WEIR_ENOMEM;
	s->magic = SCOPE_MAGIC;
	s->parent = parent;
	s->link.close = scope_link_close;
	item_link(parent, &s->link);
	sched.stats.scopes++;
	*out = s;
	return 0;
}

int weir_scope_close(struct weir_scope *scope)
{
	struct weir_fiber *self = sched.current;

	/* The root closes only in weir_fibers_fini(); a second closer would free the scope under
	 * the first. */
	WEIR_EINVAL_IF(!scope_valid(scope) || scope == sched.root || scope->closing);
	/* Closing our own scope would wait for ourselves. */
	WEIR_EINVAL_IF(self != NULL && scope_contains(scope, self->scope));
	return scope_close(scope);
}

struct weir_scope *weir_scope_current(void)
{
	if (sched.loop == NULL)
		return NULL;
	return sched.current != NULL ? sched.current->scope : sched.root;
}

int weir_scope_attach(struct weir_scope *scope, struct weir_scope_item *item)
{
	WEIR_EINVAL_IF(!scope_valid(scope) || item == NULL || item->close == NULL ||
		       scope->closing);
	item_link(scope, item);
	return 0;
}

void weir_scope_detach(struct weir_scope_item *item)
{
	if (item != NULL && item->scope != NULL)
		item_unlink(item);
}

/* --- scheduler lifetime ----------------------------------------------------------------------- */

int weir_fibers_init(struct weir_loop *loop)
{
	struct weir_scope *root;
	int rc;

	WEIR_EINVAL_IF(loop == NULL);
	if (sched.loop != NULL)
		return WEIR_EBUSY;
	memset(&sched, 0, sizeof(sched));
	root = calloc(1, sizeof(*root));
	if (root == NULL)
		return WEIR_ENOMEM;
	root->magic = SCOPE_MAGIC;
	rc = weir_loop_add(loop, &sched_ops, NULL, -1, WEIR_LOOP_SOURCE_MAY_SLEEP, &sched.src);
	if (rc < 0) {
		free(root);
		return rc;
	}
	sched.root = root;
	sched.stats.scopes = 1;
	sched.loop = loop;
#if WEIR__FIBER_TSAN
	sched.main_tsan_fiber = __tsan_get_current_fiber();
#endif
	return 0;
}

void weir_fibers_fini(void)
{
	int rc;

	if (sched.loop == NULL)
		return;
	if (sched.current != NULL || sched.root->closing) {
		weir_log_error("weir_fibers_fini() must be called once, from the main context");
		return;
	}
	rc = scope_close(sched.root);
	if (rc < 0) {
		weir_log_error("cannot finish fibers: %s", weir_strerror(rc));
		return;
	}
	weir_assert(sched.ready_head == NULL && sched.heap_len == 0);
	weir_loop_remove(sched.loop, sched.src);
	free(sched.heap);
	weir__freelist_drain(&record_cache);
	weir__fiber_stack_trim();
	if (sched.stats.live != 0)
		weir_log_warn("%lu fiber records outlived the scheduler",
			      (unsigned long)sched.stats.live);
	/* Keep the counters readable for leak checks; forget everything else. */
	sched.root = NULL;
	sched.src = NULL;
	sched.heap = NULL;
	sched.heap_len = sched.heap_cap = 0;
	sched.loop = NULL;
}

void weir_fiber_get_stats(struct weir_fiber_stats *out)
{
	if (out != NULL)
		*out = sched.stats;
}

int weir__fiber_running(uintptr_t *stack_lo, uint64_t *id, const char **name)
{
	const struct weir_fiber *f = sched.current;

	if (f == NULL)
		return 0;
	*stack_lo = (uintptr_t)f->stack_lo;
	*id = f->id;
	*name = f->name;
	return 1;
}
