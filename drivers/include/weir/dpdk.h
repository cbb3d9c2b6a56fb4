/* dpdk.h - any DPDK rte_ethdev port as a weir netdev (hosted, built when libdpdk is found).
 *
 * One process owns one EAL (DPDK allows rte_eal_init once per process) and drives one RX and one
 * TX queue of one port from the loop thread, in poll mode. Received frames are mbufs whose private
 * area holds the struct weir_frame (and so lwIP's pbuf_custom): the stack wraps them without a
 * copy. Transmitted frames are copied into mbufs of a separate pool, so tx_burst is done with the
 * caller's memory when it returns (netdev.h).
 *
 * Spec string (weir_netdev_open):
 *
 *     dpdk:EAL ARGS[,KEY=VALUE]...
 *
 * EAL ARGS are DPDK's own arguments, separated by spaces, passed to rte_eal_init() unchanged
 * (no quoting: an argument cannot contain a space), e.g.
 *     dpdk:--no-huge --no-pci --vdev=net_tap0,iface=dtap0
 *     dpdk:-a 0000:3b:00.0 -m 1024,port=0
 * Then trailing ",KEY=VALUE" items whose KEY is one of weir's (below) are taken off the end; any
 * other comma belongs to the EAL arguments (so --vdev=net_memif0,role=server works). Keys:
 *     port=N           the ethdev port (default 0)
 *     idle_sleep_us=N  let the loop sleep up to N us when the port has been idle for its
 *                      busy window (busy_us, 1 ms by default; default 0: busy-poll, one
 *                      core at 100%)
 *     busy_us=N        with idle_sleep_us: how long the port counts as busy after it last
 *                      moved a frame (default 1000); 0 sleeps as soon as a poll finds
 *                      nothing: less CPU where threads outnumber CPUs, more latency
 *     idle_yield=1     a receive poll that finds nothing yields the CPU (sched_yield): for
 *                      more polling threads than CPUs (shards and their peers on a small
 *                      machine), so that the thread with work runs instead of one spinning
 *     rx_desc=N tx_desc=N  ring sizes (default 1024 / 1024)
 *     mbufs=N          receive pool size (default: RX ring + four TCP windows + the ooseq cap)
 *     mtu=N            IP MTU to set on the port (default: the port's, at most 1500)
 *     tso=0            send MSS-sized frames even where the port offers TCP segmentation
 *                      (default 1: where the port offers TSO and checksum offload, the stack
 *                      hands it TCP super-frames of up to 64 KiB as chains of mbufs)
 *
 * Arguments weir adds unless the user gave their own (so that two weir processes can run at once
 * and nothing is left in /var/run/dpdk): --in-memory (unless --file-prefix, --in-memory,
 * --proc-type or --no-shconf is given), --no-telemetry (unless --telemetry), and
 * --lcores=0@(CPUS) with the CPUs the process may run on (unless -l, -c or --lcores): weir
 * runs on the calling thread only and must not be pinned to one core by default. DPDK's log
 * goes to weir's log at debug level (errors at warn level once the port is up).
 *
 * Errors: WEIR_EINVAL (malformed spec or config), WEIR_EBUSY (EAL already initialised with other
 * arguments, or already cleaned up in this process), WEIR_EIO (EAL failed), WEIR_ENODEV (no such
 * port), WEIR_ENOTSUP (port lacks a needed feature), WEIR_ENOMEM (mempool). The one-line reason
 * (DPDK's own last error line for an EAL failure) is in weir_netdev_last_error(). On failure
 * nothing is left: the EAL is cleaned up if this call started it.
 */
#ifndef WEIR_DPDK_H
#define WEIR_DPDK_H

#include <stdint.h>

#include <weir/netdev.h>

struct weir_dpdk_config {
	const char *eal_args;	/* required: EAL arguments separated by spaces ("" is allowed) */
	uint16_t port;		/* ethdev port id */
	uint16_t mtu;		/* 0: the port's current MTU, at most 1500 */
	uint16_t rx_desc;	/* 0: 1024 */
	uint16_t tx_desc;	/* 0: 1024 */
	uint32_t mbufs;		/* receive pool size; 0: computed (see above) */
	uint32_t idle_sleep_us; /* 0: busy-poll; else may sleep this long when idle */
	int no_tso;		/* 1: send MSS-sized frames even where the port offers TSO */
	int idle_yield;		/* 1: an empty receive poll yields the CPU (sched_yield) */
	uint32_t busy_us;	/* with busy_us_set: the busy window (see busy_us= above) */
	int busy_us_set;	/* 0: the default window, 1000 us */
};

/* Initialises the EAL (once per process) and starts one port. Returns 0 and sets *out, or one of
 * the errors above. */
int weir_dpdk_open(const struct weir_dpdk_config *cfg, struct weir_netdev **out);
/* Shards: starts the port with n RX/TX queue pairs, out[i] using pair i with mbuf pools of its
 * own (one thread each). Where the port has RSS over IPv4 TCP/UDP (a NIC), weir sets the key
 * and a RETA of queue j % n and weir_netdev_rx_queue_of computes the Toeplitz hash, so a shard
 * connects from ports whose replies come to its queue. Without RSS (memif, rings) the peer's
 * queue i arrives on our queue i: two sharded weir processes pair their shards. n == 1 is
 * weir_dpdk_open; counters are per queue where the PMD keeps them so. */
int weir_dpdk_open_queues(const struct weir_dpdk_config *cfg, unsigned n, struct weir_netdev **out);

/* Parses the part of a spec after "dpdk:" into *cfg; eal_args then points into buf (size bytes,
 * it receives a copy of the EAL arguments). Returns 0 or WEIR_EINVAL. */
int weir_dpdk_parse_spec(const char *spec, struct weir_dpdk_config *cfg, char *buf, size_t size);

struct weir_dpdk_stats {
	uint32_t pool_size;	/* receive mbufs in the pool */
	uint32_t pool_in_use;	/* receive mbufs out of the pool now (rings, stack, PMD) */
	uint32_t pool_baseline; /* pool_in_use right after the port started */
	uint32_t frames_held;	/* frames handed to the stack and not yet released */
	uint32_t tx_pool_in_use;
	uint64_t low_buffer_events; /* times the pool fell below its low-water mark */
	uint64_t rx_csum_bad;	    /* frames dropped because the port flagged a bad checksum */
	uint64_t tx_tso;	    /* TCP super-frames handed to the port to cut (TSO) */
	uint32_t link_up;	    /* 1: the port reports link up */
	uint32_t link_speed_mbps;
	uint16_t port;
	char driver[32]; /* the PMD's name, e.g. "net_memif" */
};

/* Fills *out for a device opened by weir_dpdk_open (after releasing TX mbufs the PMD no longer
 * needs, where it supports that). Returns 0, or WEIR_EINVAL for NULL or a device of another
 * driver. */
int weir_dpdk_get_stats(struct weir_netdev *dev, struct weir_dpdk_stats *out);

#endif /* WEIR_DPDK_H */
