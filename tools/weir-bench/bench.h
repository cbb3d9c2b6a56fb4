/* bench.h - weir-bench's shared definitions: options, workloads, results. */
#ifndef WEIR_BENCH_H
#define WEIR_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* The server listens on two ports: base (discard, for bulk) and base + 1 (echo, for the 64-byte
 * request/response and the connection-rate workloads). Both backends speak the same protocol,
 * so any client runs against any server. */
#define BENCH_DEFAULT_PORT 5300
#define BENCH_MSG	   64	       /* request and reply size for rr and crr */
#define BENCH_CHUNK	   (64 * 1024) /* bytes per write in bulk */
#define BENCH_MAX_FLOWS	   64
#define BENCH_RR_WARMUP	   200 /* round trips before rr starts recording (ARP, cwnd) */

enum bench_test {
	BENCH_BULK,
	BENCH_RR,
	BENCH_CRR,
};

struct bench_opts {
	enum bench_test test;
	unsigned flows;	     /* bulk: parallel flows */
	double duration_s;   /* client: how long to run */
	const char *peer;    /* client: server address (dotted quad) */
	uint16_t port;	     /* base port */
	int kernel;	     /* 1: Linux sockets instead of weir */
	const char *netdev;  /* weir: device spec for weir_netdev_open ("tap:IF", "dpdk:...") */
	const char *ip;	     /* weir: our ADDR/PREFIX */
	const char *bind_ip; /* kernel server: address to bind (NULL: any) */
	int server_cpu, client_cpu; /* link mode: CPUs to pin to (-1: none) */
	const char *impair;	    /* weir: weir_impair_parse() spec for the device, or NULL */
	unsigned shards;    /* weir server/client: stacks, one per thread and device queue */
	int shard_cpus[64]; /* --shard-cpus: shard i runs on shard_cpus[i % nshard_cpus] */
	unsigned nshard_cpus;
	const int *link_fds; /* link --shards: one socketpair end per shard, else NULL */
	int ready_fd;	     /* link --shards server: written once every shard listens (-1) */
	double rate;	     /* client: 0 (as fast as it goes), or the load offered in total: bulk
			      * Mbit/s, crr connections/s, shared evenly by the flows */
	unsigned spread;     /* kernel bulk client: 0, or N: flow i connects from a port weir's
			      * TAP steering puts on queue i % N (weir_tap_steer_queue) */
};

/* What a client run measured. */
struct bench_result {
	enum bench_test test;
	unsigned flows;
	double seconds;	  /* from the first byte to the last one acknowledged (bulk: peer's EOF) */
	uint64_t bytes;	  /* bulk: payload bytes delivered */
	uint64_t ops;	  /* rr: round trips recorded; crr: connections completed */
	uint64_t errors;  /* crr: connections that failed */
	uint64_t retrans; /* bulk: segments the client sent again (a diagnosis, not a figure) */
	uint64_t *lat_ns; /* rr: one round-trip time per op (malloc'd) */
	size_t lat_len, lat_cap;
};

/* Pacing (--rate): when the next unit of a flow is due, given the previous due time, the
 * units just done and the flow's share of the rate in units per second. A flow that fell
 * behind by more than 10 ms starts again from now instead of catching up in a burst. */
static inline uint64_t bench_next_due(uint64_t due, uint64_t now, double units, double per_s)
{
	due += (uint64_t)(units / per_s * 1e9);
	return due + 10000000u < now ? now : due;
}

/* Appends one latency sample; returns 0 or -1 (no memory). */
int bench_lat_add(struct bench_result *r, uint64_t ns);
/* Prints the one "result ..." line bench.sh parses, and frees the samples. */
void bench_report(struct bench_result *r);
const char *bench_test_name(enum bench_test t);

/* The two backends. Each returns 0, or 1 after printing why it failed. */
int bench_kernel_server(const struct bench_opts *o);
int bench_kernel_client(const struct bench_opts *o, struct bench_result *r);
int bench_weir_server(const struct bench_opts *o, int link_fd, int ready_fd);
int bench_weir_client(const struct bench_opts *o, int link_fd, struct bench_result *r);
/* --shards N (N >= 1): the same on N shards (weir/shards.h). The server prints a line per shard
 * at the end (connections, bytes, the thread's CPU time); the client splits the flows (bulk) or
 * runs the workload in each shard (crr) and reports the sum. */
int bench_weir_server_shards(const struct bench_opts *o);
int bench_weir_client_shards(const struct bench_opts *o, struct bench_result *r);

/* The calling thread's CPU time in ns (getrusage RUSAGE_THREAD), all of it, and in *user_ns the
 * part in user space; 0 and 0 if it cannot be read. */
uint64_t bench_thread_cpu_ns(uint64_t *user_ns);
/* Closes a[0..n) and b[0..n): socketpair ends made before an error. */
void bench_close_pairs(const int *a, const int *b, unsigned n);

/* pingpong: the machine's own figure, no weir (pingpong.c). 0, or 1 after printing why. */
int bench_pingpong(const struct bench_opts *o);

/* Set by SIGINT/SIGTERM in server roles. */
extern volatile int bench_stop;

#endif /* WEIR_BENCH_H */
