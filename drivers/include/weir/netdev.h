/* netdev.h - the NIC interface: burst receive, burst transmit, release, capabilities.
 *
 * Contract (DPDK's burst rule): rx_burst returns how many frames it filled and the caller owns
 * exactly those until it hands each back with weir_netdev_release(); tx_burst returns how many
 * frames it took and is done with their memory when it returns (every driver here copies or has
 * finished sending), the rest still belong to the caller. Drivers never block and never call back
 * into the stack. All calls happen on the loop thread.
 *
 * Caller bugs (NULL device, more frames than exist) are WEIR_EINVAL; device failures are WEIR_EIO.
 */
#ifndef WEIR_NETDEV_H
#define WEIR_NETDEV_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_ETH_ALEN 6
#define WEIR_ETH_HLEN 14
/* The Ethernet minimum frame without FCS. lwIP 2.1.3's ip4_input reads IP header fields before
 * checking the length (an over-read our fuzzer found), so no frame shorter than this may reach it.
 * Every driver therefore drops frames shorter than an Ethernet header (runts) and zero-pads the
 * others up to 60 bytes, as the wire would have: Linux TAP and lwIP itself send 42-byte ARP frames
 * unpadded, and dropping those would break ARP. Receive buffers are always at least this large. */
#define WEIR_ETH_MIN_FRAME 60
/* Bytes the stack may use inside each received frame descriptor (holds lwIP's pbuf_custom). */
#define WEIR_FRAME_STACK_PRIV 64

struct weir_netdev;

/* weir_frame.flags: what the driver knows about a received frame. */
enum weir_frame_flag {
	/* An unfragmented IPv4 TCP or UDP packet whose L4 checksum needs no check: it never crossed
	 * a wire (Linux made it and left the checksum unfinished, TAP offload). The stack skips
	 * its TCP/UDP checksum check for this frame only; the IPv4 header is still checked. */
	WEIR_FRAME_L4_CSUM_OK = 1 << 0,
};

/* One received frame. The driver owns the buffer behind data; the stack owns stack_priv while it
 * holds the frame. */
struct weir_frame {
	uint8_t *data;		 /* first byte of the Ethernet header */
	uint32_t len;		 /* bytes of frame at data */
	uint32_t cap;		 /* writable bytes from data (>= len) */
	uint32_t flags;		 /* enum weir_frame_flag bits; set by the driver on every receive */
	struct weir_netdev *dev; /* the device to release the frame to */
	void *drv;		 /* driver's own per-frame cookie */
	_Alignas(16) uint8_t stack_priv[WEIR_FRAME_STACK_PRIV];
};

/* One frame to send, as a gather list (an lwIP pbuf chain maps onto it without copying). */
struct weir_iovec {
	const void *base;
	size_t len;
};
/* weir_tx_frame.flags: what the stack leaves to a device that offered to do it (caps.offloads). */
enum weir_tx_flag {
	/* The TCP checksum is the device's to finish (WEIR_OFFLOAD_TX_CSUM_L4): the field holds the
	 * pseudo-header sum (folded, not inverted) and the sum covers l4_offset to the end. */
	WEIR_TX_L4_CSUM = 1 << 0,
	/* A TCPv4 super-frame (WEIR_OFFLOAD_TX_TSO4) for the device to cut into segments of
	 * gso_size payload bytes, each with the headers repeated, sequence numbers and IPv4 ids
	 * advanced, PSH and FIN on the last only. Always with WEIR_TX_L4_CSUM. */
	WEIR_TX_TSO4 = 1 << 1,
};

struct weir_tx_frame {
	const struct weir_iovec *iov;
	unsigned iovcnt;
	size_t len;	    /* sum of iov[i].len */
	uint32_t flags;	    /* enum weir_tx_flag bits (0: a complete frame, send as it is) */
	uint16_t l4_offset; /* WEIR_TX_L4_CSUM: where the TCP header starts */
	uint16_t l4_hlen;   /* WEIR_TX_TSO4: the TCP header's length, options included */
	uint16_t gso_size;  /* WEIR_TX_TSO4: payload bytes per segment on the wire */
};

enum weir_netdev_offload {
	WEIR_OFFLOAD_RX_CSUM_IP4 = 1 << 0, /* driver verified IPv4 header checksums */
	WEIR_OFFLOAD_RX_CSUM_L4 = 1 << 1,  /* driver verified TCP/UDP checksums */
	WEIR_OFFLOAD_TX_CSUM_IP4 = 1 << 2, /* device fills IPv4 header checksums */
	WEIR_OFFLOAD_TX_CSUM_L4 = 1 << 3,  /* device fills TCP/UDP checksums */
	WEIR_OFFLOAD_TX_TSO4 = 1 << 4,	   /* device segments TCPv4 super-frames (WEIR_TX_TSO4) */
};

struct weir_netdev_caps {
	uint8_t mac[WEIR_ETH_ALEN]; /* the device's own MAC (all zero: none, the stack picks) */
	uint16_t mtu;		    /* largest IP packet the device carries */
	uint32_t offloads;	    /* enum weir_netdev_offload bits */
	uint16_t rx_queues, tx_queues;
	/* A multi-queue device opened as one object per queue (weir_netdev_open_queues: one per
	 * shard): the receive queue this object reads, 0..rx_queues-1. */
	uint16_t rx_queue;
	int fd;	       /* readable when rx_burst has work; -1 if poll-mode */
	int poll_mode; /* 1: the loop must busy-poll this device */
	/* Poll-mode devices only: nonzero lets the loop sleep when the device is idle; the device
	 * then bounds the sleep through next_deadline_ns (e.g. DPDK's idle_sleep_us=N). */
	uint32_t idle_sleep_us;
	/* Poll-mode devices only: 1 when the device's interrupt ends the loop's sleep (bare metal:
	 * it wakes the CPU from WFI), so the loop may sleep while the device is idle. */
	int irq_wake;
};

struct weir_netdev_stats {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_runts;    /* dropped: shorter than an Ethernet header (WEIR_ETH_HLEN) */
	uint64_t rx_padded;   /* shorter than WEIR_ETH_MIN_FRAME, zero-padded up to it */
	uint64_t rx_oversize; /* dropped: larger than the receive buffers */
	uint64_t rx_nobuf;    /* rx calls that left frames waiting: every buffer was held */
	uint64_t rx_errors, tx_errors;
	uint64_t tx_full; /* times the transmit queue was found full (EAGAIN) */
	/* What only one driver counts is in that driver's own stats call (weir_tap_get_stats,
	 * weir_link_get_stats, weir_dpdk_get_stats). */
};

/* A TCP or UDP flow as its packets arrive at us: addresses in network byte order, ports in host
 * order, proto 6 (TCP) or 17 (UDP). */
struct weir_flow_key {
	uint32_t remote_ip, local_ip;
	uint16_t remote_port, local_port;
	uint8_t proto;
};

/* The ops table every driver provides (designated initializers, see STYLE.md). */
struct weir_netdev_ops {
	/* Required. Fills up to n frame pointers; returns the count (>= 0) or WEIR_EIO. */
	int (*rx_burst)(struct weir_netdev *dev, struct weir_frame **frames, int n);
	/* Required. Hands a frame from rx_burst back to the driver. */
	void (*release)(struct weir_netdev *dev, struct weir_frame *frame);
	/* Required. Sends up to n frames; returns how many were taken (>= 0) or WEIR_EIO. */
	int (*tx_burst)(struct weir_netdev *dev, const struct weir_tx_frame *frames, int n);
	/* Required. Fills *caps. */
	void (*get_caps)(const struct weir_netdev *dev, struct weir_netdev_caps *caps);
	/* Optional. Fills *stats (zeroed by the caller first). */
	void (*get_stats)(const struct weir_netdev *dev, struct weir_netdev_stats *stats);
	/* Optional. Absolute time (weir_clock_now_ns) when the driver needs a poll even without
	 * input (e.g. delayed frames), or WEIR_DEADLINE_NEVER. A time already past means "poll
	 * now" (e.g. frames queued behind a full socket). */
	uint64_t (*next_deadline_ns)(struct weir_netdev *dev);
	/* Optional. Does timed work (sends due delayed frames); returns work done. */
	int (*poll)(struct weir_netdev *dev);
	/* Optional. Nonzero when the device's receive buffers run low (most of them are held by
	 * the stack): the stack should give back what it can, e.g. out-of-order segments. */
	int (*rx_buffers_low)(struct weir_netdev *dev);
	/* Optional. The receive queue (0..rx_queues-1) on which the device delivers the packets of
	 * flow k that come to us, or -1 when it cannot tell. Multi-queue devices whose steering
	 * is known (TAP with weir's steering program, DPDK's RSS) say, so that a shard connects
	 * from ports whose replies come back to its own queue. */
	int (*rx_queue_of)(const struct weir_netdev *dev, const struct weir_flow_key *k);
	/* Required. Frees the device. Every frame must have been released. */
	void (*close)(struct weir_netdev *dev);
};

/* Drivers embed this as the first member of their device struct. */
struct weir_netdev {
	const struct weir_netdev_ops *ops;
	const char *name; /* "tap:weir0", "link:a" ... */
};

/* Thin, checked wrappers around the ops. NULL dev or frames → WEIR_EINVAL. */
int weir_netdev_rx_burst(struct weir_netdev *dev, struct weir_frame **frames, int n);
int weir_netdev_tx_burst(struct weir_netdev *dev, const struct weir_tx_frame *frames, int n);
void weir_netdev_release(struct weir_frame *frame);
int weir_netdev_get_caps(const struct weir_netdev *dev, struct weir_netdev_caps *caps);
int weir_netdev_get_stats(const struct weir_netdev *dev, struct weir_netdev_stats *stats);
uint64_t weir_netdev_next_deadline_ns(struct weir_netdev *dev);
int weir_netdev_poll(struct weir_netdev *dev);
/* Nonzero when the device asks the stack to release receive buffers; 0 for NULL or a device
 * without the op. */
int weir_netdev_rx_buffers_low(struct weir_netdev *dev);
/* The receive queue the device delivers flow k's packets on (rx_queue_of above), or -1: a device
 * with one queue, one that cannot tell, NULL arguments. */
int weir_netdev_rx_queue_of(const struct weir_netdev *dev, const struct weir_flow_key *k);
/* Closes the device. NULL is ignored. */
void weir_netdev_close(struct weir_netdev *dev);

/* What any driver takes when opened from a spec string; a value the spec itself gives wins. */
struct weir_netdev_params {
	uint16_t mtu; /* the IP MTU the device should carry; 0: the driver's default */
};

/* Opens a device from a spec string "DRIVER:ARGS", e.g. "tap:weir0" or "dpdk:EAL ARGS,port=1"
 * (each driver's header gives its grammar). The build registers the drivers it includes in a
 * table this searches; the message of an unknown DRIVER lists them. params may be NULL
 * (defaults). Returns 0 and sets *out, or WEIR_EINVAL (NULL spec or out, no such driver,
 * malformed ARGS), WEIR_ENOTSUP (a driver this build left out, e.g. DPDK without libdpdk), or the
 * driver's error; the one-line reason is in weir_netdev_last_error(). */
int weir_netdev_open(const char *spec, const struct weir_netdev_params *params,
		     struct weir_netdev **out);
/* One line saying why the last weir_netdev_open (or a driver's own open call) on this thread
 * failed, e.g. "no DPDK port 1 (1 port available)"; "" when the driver gave no reason. The
 * string stays valid until the next open. */
const char *weir_netdev_last_error(void);

#define WEIR_NETDEV_QUEUES_MAX 64
/* Opens n receive/transmit queue pairs of one device as n device objects, out[i] reading queue i
 * (shards: one per thread, each object used by one thread only). n == 1 is weir_netdev_open. A
 * driver without several queues refuses n > 1 with WEIR_ENOTSUP; on any failure nothing stays
 * open. Same spec and returns as weir_netdev_open. */
int weir_netdev_open_queues(const char *spec, const struct weir_netdev_params *params, unsigned n,
			    struct weir_netdev **out);

#endif /* WEIR_NETDEV_H */
