/* shards.c - weir_shards_run and weir_shards_run_server: a thread, loop, stack and fibers per
 * shard (hosted). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/log.h>
#include <weir/loop.h>
#include <weir/shards.h>

void weir_shards_stop_init(struct weir_shards_stop *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->triggered, 0);
	for (unsigned i = 0; i < WEIR_SHARDS_MAX; i++)
		atomic_store(&s->wakers[i], NULL);
}

void weir_shards_stop_trigger(struct weir_shards_stop *s)
{
	if (s == NULL)
		return;
	atomic_store(&s->triggered, 1);
	for (unsigned i = 0; i < WEIR_SHARDS_MAX; i++)
		weir_loop_waker_wake(atomic_load(&s->wakers[i]));
}

int weir_shards_stop_triggered(const struct weir_shards_stop *s)
{
	return s != NULL && atomic_load(&s->triggered);
}

/* Per shard: the stop as this thread's fibers see it (an event the waker broadcasts). */
static __thread struct weir_event *stop_ev;

static int stop_woken(void *arg)
{
	if (weir_shards_stop_triggered(arg) && stop_ev != NULL)
		weir_event_broadcast(stop_ev);
	return 0;
}

int weir_shards_stop_wait(struct weir_shards_stop *stop)
{
	WEIR_EINVAL_IF(stop == NULL || stop_ev == NULL || weir_fiber_self() == NULL);
	while (!weir_shards_stop_triggered(stop)) {
		int rc = weir_event_wait(stop_ev, WEIR_DEADLINE_NEVER);

		if (rc < 0)
			return rc;
	}
	return 0;
}

struct run {
	const struct weir_shards_config *cfg;
	weir_shard_fn fn;
	void *arg;
	struct weir_shards_stop *stop;
	struct weir_shard_group *group;
};

/* One cache line or more each: the array is made by the calling thread, and each shard's
 * thread writes its own element. */
struct shard {
	WEIR_CACHE_ALIGNED struct run *run;
	unsigned idx;
	pthread_t thread;
	struct weir_stack *stack;
	int rc;	  /* fn's return, or why the shard could not start */
	int done; /* fn returned (its fiber's own flag) */
};

static void shard_fiber(void *arg)
{
	struct shard *sh = arg;

	sh->rc = sh->run->fn(sh->idx, sh->stack, sh->run->arg);
	sh->done = 1;
}

static void *shard_thread(void *arg)
{
	struct shard *sh = arg;
	const struct weir_shards_config *cfg = sh->run->cfg;
	struct weir_stack_config sc = cfg->stack;
	struct weir_loop_waker *w = NULL;
	struct weir_loop *loop = NULL;
	struct weir_event ev;
	int rc;

	if (cfg->cpus != NULL && cfg->ncpus > 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cfg->cpus[sh->idx % cfg->ncpus], &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			weir_log_warn("shard %u: cannot run on CPU %d", sh->idx,
				      cfg->cpus[sh->idx % cfg->ncpus]);
	}
	weir_event_init(&ev);
	rc = weir_loop_create(&loop);
	if (rc < 0)
		goto out;
	sc.netdev = cfg->devs[sh->idx];
	sc.loop = loop;
	sc.group = sh->run->group;
	sc.shard = sh->idx;
	rc = weir_stack_open(&sc, &sh->stack);
	if (rc < 0)
		goto out_loop;
	rc = weir_fibers_init(loop);
	if (rc < 0)
		goto out_stack;
	if (sh->run->stop != NULL) {
		rc = weir_loop_waker_create(&w);
		if (rc == 0)
			rc = weir_loop_waker_attach(w, loop, stop_woken, sh->run->stop);
		if (rc < 0)
			goto out_fibers;
		stop_ev = &ev;
		atomic_store(&sh->run->stop->wakers[sh->idx], w);
		if (weir_shards_stop_triggered(sh->run->stop))
			weir_loop_waker_wake(w); /* triggered before we listened */
	}
	rc = weir_fiber_spawn(NULL, shard_fiber, sh, &(struct weir_fiber_opts){ .name = "shard" },
			      NULL);
	if (rc < 0)
		goto out_fibers;
	while (!sh->done) {
		rc = weir_loop_run_once(loop, 100 * WEIR_NS_PER_MS);
		if (rc < 0) {
			weir_log_error("shard %u: loop: %s", sh->idx, weir_strerror(rc));
			break;
		}
	}
	rc = sh->rc;
out_fibers:
	if (sh->run->stop != NULL)
		atomic_store(&sh->run->stop->wakers[sh->idx], NULL);
	weir_fibers_fini();
	stop_ev = NULL;
	weir_loop_waker_destroy(w); /* nobody wakes it now (the trigger read NULL) */
out_stack:
	weir_stack_close(sh->stack);
out_loop:
	weir_loop_destroy(loop);
out:
	sh->rc = rc;
	return NULL;
}

int weir_shards_run(const struct weir_shards_config *cfg, weir_shard_fn fn, void *arg,
		    struct weir_shards_stop *stop)
{
	struct run run = { .cfg = cfg, .fn = fn, .arg = arg, .stop = stop };
	struct shard *sh;
	unsigned started = 0;
	int rc = 0;

	WEIR_EINVAL_IF(cfg == NULL || fn == NULL || cfg->devs == NULL || cfg->n == 0 ||
		       cfg->n > WEIR_SHARDS_MAX || (cfg->cpus == NULL && cfg->ncpus != 0));
	for (unsigned i = 0; i < cfg->n; i++)
		WEIR_EINVAL_IF(cfg->devs[i] == NULL);
	if (cfg->n > 1) {
		rc = weir_shard_group_create(cfg->n, &run.group);
		if (rc < 0)
			return rc;
	}
	sh = weir__zalloc_lines(cfg->n, sizeof(*sh));
	if (sh == NULL) {
		weir_shard_group_destroy(run.group);
		return WEIR_ENOMEM;
	}
	for (; started < cfg->n; started++) {
		sh[started].run = &run;
		sh[started].idx = started;
		if (pthread_create(&sh[started].thread, NULL, shard_thread, &sh[started]) != 0) {
			rc = WEIR_ENOMEM;
			/* The ones running must end too. */
			weir_shards_stop_trigger(stop);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(sh[i].thread, NULL);
		if (rc == 0 && sh[i].rc < 0)
			rc = sh[i].rc;
	}
	free(sh);
	weir_shard_group_destroy(run.group);
	return rc;
}

/* --- run_server on every shard ---------------------------------------------------------------- */

struct server_run {
	struct weir_server_opts *opts;
	int (*handler)(struct weir_flow *flow, void *arg);
	void *arg;
	struct weir_shards_stop *stop;
};

struct relay {
	struct weir_shards_stop *stop;
	struct weir_server_stop *local;
};

/* Turns the shared stop into this shard's weir_server_stop. */
static void relay_stop(void *arg)
{
	struct relay *r = arg;

	if (weir_shards_stop_wait(r->stop) == 0)
		weir_server_stop_trigger(r->local);
}

static int server_shard(unsigned shard, struct weir_stack *stack, void *arg)
{
	struct server_run *sr = arg;
	struct weir_server_opts o = *sr->opts;
	struct weir_server_stop local;
	struct relay r = { .stop = sr->stop, .local = &local };
	struct weir_fiber *f;
	int rc;

	WEIR_UNUSED(shard);
	weir_server_stop_init(&local);
	/* Every shard listens on the port; the device spreads the connections. */
	o.listen.reuse_port = weir_stack_group(stack) != NULL;
	rc = weir_fiber_spawn(NULL, relay_stop, &r, NULL, &f);
	if (rc < 0)
		return rc;
	rc = weir_run_server(stack, &o, sr->handler, sr->arg, &local);
	weir_fiber_cancel(f);
	weir_fiber_join(f);
	return rc;
}

int weir_shards_run_server(const struct weir_shards_config *cfg, struct weir_server_opts *opts,
			   int (*handler)(struct weir_flow *flow, void *arg), void *arg,
			   struct weir_shards_stop *stop)
{
	struct server_run sr = { .opts = opts, .handler = handler, .arg = arg, .stop = stop };

	WEIR_EINVAL_IF(opts == NULL || handler == NULL || stop == NULL);
	return weir_shards_run(cfg, server_shard, &sr, stop);
}
