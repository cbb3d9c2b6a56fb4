/* link.h - a point-to-point link between two weir stacks with seeded impairments.
 *
 * Each end is a netdev over one end of a SOCK_SEQPACKET socketpair (one datagram = one frame), so
 * the two ends can live in two processes (fork, or pass the fd). Impairments are applied by the
 * sending end, each with its own rate in [0, 1], and every decision comes from a PRNG seeded with
 * `seed`: the same seed and the same frame sequence give the same drops, duplicates, reorders,
 * corruptions and delays.
 *
 * The reproducibility promise rests on this draw order, per frame taken by tx_burst: five
 * weir_prng_unit() draws (loss, corrupt, duplicate, reorder, delay), then one weir_prng_next()
 * for the corrupted byte's position and (never zero) flip mask. A lost frame gets no other
 * impairment; reorder wins over delay; a duplicate goes out twice wherever it ends up. A held
 * (reordered) frame goes out after the next datagram, or from poll() after 1 ms. Frames the
 * socket could not take are rolled back (PRNG state included), so backpressure never changes
 * what the peer sees. The imp_* counters (weir_link_get_stats) count decisions; the generic
 * tx_frames counts datagrams written.
 *
 * Frames are padded to WEIR_ETH_MIN_FRAME on transmit, as a NIC would; on receive, frames without
 * an Ethernet header are dropped (rx_runts) and short ones padded (rx_padded). The largest frame
 * is mtu + 18 bytes (header and a VLAN tag); a longer one is WEIR_EINVAL on transmit and dropped
 * (rx_oversize) on receive. After the peer closes, rx_burst and tx_burst return WEIR_EIO.
 */
#ifndef WEIR_LINK_H
#define WEIR_LINK_H

#include <stdint.h>
#include <weir/netdev.h>

struct weir_link_impair {
	double loss;	  /* probability a frame is dropped */
	double reorder;	  /* probability a frame is held back and sent after the next one */
	double duplicate; /* probability a frame is sent twice */
	double corrupt;	  /* probability one random byte of the frame is flipped */
	double delay;	  /* probability a frame is delayed by delay_ns */
	uint64_t delay_ns;
	uint64_t seed;
};

struct weir_link_config {
	int fd;		  /* one end of socketpair(AF_UNIX, SOCK_SEQPACKET); the netdev owns it */
	const char *name; /* for logs ("a", "b"); may be NULL */
	uint8_t mac[WEIR_ETH_ALEN]; /* reported in caps; all zero lets the stack choose */
	uint16_t mtu;		    /* 0: 1500 */
	unsigned rx_frames;	    /* receive buffers (0: 256) */
	struct weir_link_impair impair;
	/* 1: check the TCP/UDP checksums of what arrives even though this end corrupts nothing.
	 * 0 (default): a link whose own corruption rate is 0 trusts them (a frame in a socketpair
	 * never crossed a wire), on the understanding that both ends are configured alike, as
	 * weir-bench and the tests do; set this when the peer corrupts and this end does not. */
	int check_rx_csum;
};

/* Makes a socketpair suitable for two link ends. Returns 0 or WEIR_EIO. */
int weir_link_socketpair(int fds[2]);

/* Returns 0 and sets *out, or WEIR_EINVAL (fd not a SOCK_SEQPACKET socket, rate outside [0,1] or
 * NaN, mtu below 68), WEIR_ENOMEM. On failure the fd still belongs to the caller. */
int weir_link_open(const struct weir_link_config *cfg, struct weir_netdev **out);

/* Shards: n link ends, out[i] on fds[i] (one socketpair per shard), each with cfg's settings,
 * the name "NAME/i" and the impairment seed + i. A frame sent on pair i arrives on the peer's
 * pair i, so two sharded weir processes pair their shards, as over memif; caps report n queues
 * and the object's own as rx_queue. n == 1 is weir_link_open. Returns 0, or what
 * weir_link_open returns, or WEIR_EINVAL (n 0 or above WEIR_NETDEV_QUEUES_MAX, NULL); on
 * failure every fd still belongs to the caller. */
int weir_link_open_queues(const struct weir_link_config *cfg, const int *fds, unsigned n,
			  struct weir_netdev **out);

/* The impairments applied on transmit, counted per decision for frames taken. */
struct weir_link_stats {
	uint64_t imp_dropped, imp_duplicated, imp_reordered, imp_corrupted, imp_delayed;
};
/* Fills *out for a device from weir_link_open. Returns 0, or WEIR_EINVAL (NULL, another
 * driver's device). */
int weir_link_get_stats(const struct weir_netdev *dev, struct weir_link_stats *out);

#endif /* WEIR_LINK_H */
