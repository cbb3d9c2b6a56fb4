/* tap.h - Linux TUN/TAP netdev (hosted only).
 *
 * Opens an existing TAP device or creates one, non-blocking, and reads frames in batches. Needs
 * CAP_NET_ADMIN to create a device; an existing persistent device owned by the caller works
 * without it.
 */
#ifndef WEIR_TAP_H
#define WEIR_TAP_H

#include <weir/netdev.h>

struct weir_tap_config {
	const char *ifname; /* required, at most 15 characters */
	unsigned rx_frames; /* receive buffers (0: CONFIG_WEIR_TAP_RX_FRAMES) */
	unsigned rx_burst;  /* frames read per rx_burst at most (0: 32) */
	uint16_t mtu;	    /* 0: 1500 */
	/* 0 (default): Linux may hand over TCP super-frames of up to 64 KiB and leave checksums
	 * to us (virtio_net_hdr offload; each receive buffer is then 64 KiB). 1: plain frames. */
	int no_offload;
};

/* Parses what follows "tap:" in a netdev spec, IFNAME[,offload=0|1][,mtu=N], into *cfg (zeroed
 * first; cfg->ifname points into name, which has cap bytes). Returns 0, or WEIR_EINVAL with the
 * reason in weir_netdev_last_error(). weir_netdev_open("tap:...") takes the same grammar; its
 * params->mtu applies when the spec gives no mtu. */
int weir_tap_parse_spec(const char *spec, struct weir_tap_config *cfg, char *name, size_t cap);

/* Returns 0 and sets *out, or WEIR_EINVAL (NULL/empty/too long name, mtu outside 576..9000),
 * WEIR_EPERM (no CAP_NET_ADMIN), WEIR_EBUSY (another process has the device), WEIR_ENODEV (no
 * /dev/net/tun), WEIR_ENOMEM, WEIR_EIO; the one-line reason is in weir_netdev_last_error(). */
int weir_tap_open(const struct weir_tap_config *cfg, struct weir_netdev **out);
/* Shards: opens n queues of the device (IFF_MULTI_QUEUE) as out[0..n-1], out[i] reading queue i
 * (caps.rx_queue), each for one thread. A device that exists must have been made with
 * multi_queue (ip tuntap add dev NAME mode tap multi_queue); one that does not is created so.
 * Which queue a packet arrives on is set by a steering program weir attaches to the device
 * (TUNSETSTEERINGEBPF; needs CAP_BPF or root): IPv4 TCP and UDP by a hash of the two ports,
 * the same both ways (weir_netdev_rx_queue_of says where a flow lands, so a shard connects from
 * ports that come back to it), everything else to queue 0. The program stays on a persistent device
 * after the process. Without it (a warning) Linux steers flows itself. n == 1 is weir_tap_open.
 * Returns as weir_tap_open; on failure nothing stays open. */
int weir_tap_open_queues(const struct weir_tap_config *cfg, unsigned n, struct weir_netdev **out);

/* The queue of nqueues that weir's steering program gives an IPv4 TCP or UDP packet between
 * ports port_a and port_b (host byte order; either order of the two: both directions agree). A
 * pure function that cannot fail: nqueues 0 or 1 gives queue 0 (nothing to steer). For peers
 * that want to place their flows: a Linux client that binds its source ports spreads its
 * connections evenly over a sharded weir server (weir-bench client --kernel --spread). */
unsigned weir_tap_steer_queue(uint16_t port_a, uint16_t port_b, unsigned nqueues);

/* What only the TAP driver counts (the generic counters are weir_netdev_get_stats'). */
struct weir_tap_stats {
	/* With offload: TCP super-frames taken whole, and frames whose checksum Linux left
	 * unfinished (flagged WEIR_FRAME_L4_CSUM_OK, or finished by the driver). */
	uint64_t rx_super, rx_csum_partial;
	/* TCP super-frames we sent for Linux to cut into segments (TSO). */
	uint64_t tx_super;
};
/* Fills *out for a device from weir_tap_open. Returns 0, or WEIR_EINVAL (NULL, another
 * driver's device). */
int weir_tap_get_stats(const struct weir_netdev *dev, struct weir_tap_stats *out);

#endif /* WEIR_TAP_H */
