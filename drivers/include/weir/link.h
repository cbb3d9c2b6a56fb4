/* link.h - a point-to-point link between two weir stacks with seeded impairments.
 *
 * Each end is a netdev over one end of a SOCK_SEQPACKET socketpair (one datagram = one frame), so
 * the two ends can live in two processes (fork, or pass the fd). Impairments are applied by the
 * sending end, each with its own rate in [0, 1], and every decision comes from a PRNG seeded with
 * `seed`: the same seed and the same frame sequence give the same drops, duplicates, reorders,
 * corruptions and delays.
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
	uint16_t mtu;	  /* 0: 1500 */
	unsigned rx_frames; /* receive buffers (0: 256) */
	struct weir_link_impair impair;
};

/* Makes a socketpair suitable for two link ends. Returns 0 or WEIR_EIO. */
int weir_link_socketpair(int fds[2]);

/* Returns 0 and sets *out, or WEIR_EINVAL (bad fd, rate outside [0,1], NaN), WEIR_ENOMEM. On
 * failure the fd still belongs to the caller. */
int weir_link_open(const struct weir_link_config *cfg, struct weir_netdev **out);

#endif /* WEIR_LINK_H */
