/* shards.h - run code, or a server, on every shard: N stacks in N threads (hosted,
 * CONFIG_WEIR_SHARDS).
 *
 * Eio's Net.run_server ~additional_domains runs the accept loop in more domains; weir's shards
 * are the same idea with a stack per thread (docs/shards.md): weir_shards_run_server with n
 * shards is run_server with n - 1 additional domains, each shard on its own queue of the device
 * (weir_netdev_open_queues). The lower-level weir_shards_run runs any function in each shard.
 */
#ifndef WEIR_SHARDS_H
#define WEIR_SHARDS_H

#include <weir/server.h>
#include <weir/stack.h>

struct weir_shards_config {
	unsigned n;		   /* shards (threads), 1..WEIR_SHARDS_MAX */
	struct weir_netdev **devs; /* devs[i] is shard i's device queue; they stay the caller's */
	/* Every shard's stack: ip, prefix_len, gw, mac, mtu, limits. netdev, loop, group and shard
	 * are set per shard (a group is made for n > 1 and destroyed at the end). */
	struct weir_stack_config stack;
	const int *cpus; /* shard i runs on CPU cpus[i % ncpus]; NULL: anywhere */
	unsigned ncpus;
};

/* A stop trigger for all shards: thread-safe and async-signal-safe (a signal handler may
 * trigger it). Init before weir_shards_run*, trigger from anywhere. */
struct weir_shards_stop {
	_Atomic int triggered;
	struct weir_loop_waker *_Atomic wakers[WEIR_SHARDS_MAX]; /* the running shards' */
};
void weir_shards_stop_init(struct weir_shards_stop *s);
void weir_shards_stop_trigger(struct weir_shards_stop *s); /* NULL is ignored */
/* 1 once triggered (a shard's fn polls it, or waits on it with weir_shards_stop_wait). */
int weir_shards_stop_triggered(const struct weir_shards_stop *s);

/* Runs fn(shard, stack, arg) in a fiber of each shard: thread i makes a loop, opens its stack on
 * cfg->devs[i], starts fibers, runs fn, and once fn returned closes everything (flows still
 * open end with the stack). Returns when every shard finished: 0 when every fn returned 0, else
 * the first failure (a shard that could not start: its weir error; fn's own negative return).
 * stop, if not NULL, wakes each shard when triggered (fn sees it with weir_shards_stop_triggered
 * or weir_shards_stop_wait). WEIR_EINVAL for a bad config, WEIR_ENOTSUP without shards. */
typedef int (*weir_shard_fn)(unsigned shard, struct weir_stack *stack, void *arg);
int weir_shards_run(const struct weir_shards_config *cfg, weir_shard_fn fn, void *arg,
		    struct weir_shards_stop *stop);
/* In a shard's fiber: waits until stop is triggered (0), or the fiber is cancelled. */
int weir_shards_stop_wait(struct weir_shards_stop *stop);

/* weir_run_server on every shard (a listener per shard on the same port, reuse_port: the device
 * spreads the connections): handler(flow, arg) runs in a fiber per accepted flow, in the shard
 * that accepted it. Returns once stop was triggered and every shard drained (as
 * weir_run_server, opts->drain_timeout_ns per shard). opts->on_listening is called by each
 * shard. Returns 0, or the first shard's failure. */
int weir_shards_run_server(const struct weir_shards_config *cfg, struct weir_server_opts *opts,
			   int (*handler)(struct weir_flow *flow, void *arg), void *arg,
			   struct weir_shards_stop *stop);

#endif /* WEIR_SHARDS_H */
