/* stack.h - an IPv4 host on one netdev: ARP, ICMP echo, and (through flow/) TCP and UDP.
 *
 * One stack per thread: lwIP's state is per thread in hosted builds (CONFIG_WEIR_SHARDS, shards
 * below), global in the small profile; a second weir_stack_open() in a thread before
 * weir_stack_close() fails with WEIR_EBUSY. Every call must come from the thread that opened the
 * stack and runs its loop. Caller bugs (NULL, bad prefix length, zero MTU) return WEIR_EINVAL;
 * nothing here aborts on bad input.
 */
#ifndef WEIR_STACK_H
#define WEIR_STACK_H

#include <stddef.h>
#include <stdint.h>

#include <weir/loop.h>
#include <weir/netdev.h>

/* An IPv4 address in network byte order (192.0.2.1 is { 0x010200c0 } on little endian). */
struct weir_ipaddr {
	uint32_t v4;
};
#define WEIR_IPADDR_STRLEN 16

/* Parses dotted-quad "192.0.2.1". Returns 0 or WEIR_EINVAL. */
int weir_ipaddr_parse(const char *text, struct weir_ipaddr *out);
/* Parses "192.0.2.1/24" (a missing "/N" means /32). Returns 0 or WEIR_EINVAL. */
int weir_ipaddr_parse_cidr(const char *text, struct weir_ipaddr *out, uint8_t *prefix_len);
/* Writes the dotted quad into buf (at least WEIR_IPADDR_STRLEN bytes); returns buf. */
char *weir_ipaddr_format(struct weir_ipaddr addr, char *buf);
/* Parses "02:00:5e:00:53:01". Returns 0 or WEIR_EINVAL. */
int weir_mac_parse(const char *text, uint8_t mac[WEIR_ETH_ALEN]);

struct weir_stack;

/* Shards (hosted, CONFIG_WEIR_SHARDS; docs/shards.md): the stacks of one process, one per thread,
 * each on its own receive queue of one device (weir_netdev_open_queues), with one IP and MAC.
 * Each has its own lwIP, loop and fibers, and they share nothing on the data path: what one
 * receives that all must see (ARP, ICMP other than echo requests, UDP for another shard's
 * socket) is copied to the others through rings, one per pair, without locks. A connect picks an
 * ephemeral port whose replies the device steers back to the connecting shard's queue. Create
 * the group first (any thread), open each stack with cfg.group and cfg.shard in its own thread,
 * destroy the group after the last stack closed. Returns 0 and sets *out, or WEIR_EINVAL (0 or
 * more than WEIR_SHARDS_MAX shards), WEIR_ENOMEM, WEIR_EIO. */
#define WEIR_SHARDS_MAX 64
struct weir_shard_group;
int weir_shard_group_create(unsigned nshards, struct weir_shard_group **out);
void weir_shard_group_destroy(struct weir_shard_group *g);	  /* NULL is ignored */
unsigned weir_shard_group_size(const struct weir_shard_group *g); /* 0 for NULL */

struct weir_stack_config {
	struct weir_netdev *netdev; /* required; stays the caller's and must outlive the stack */
	struct weir_loop *loop;	    /* required; the stack attaches itself as a loop source */
	struct weir_ipaddr ip;	    /* required (not 0.0.0.0) unless dhcp */
	uint8_t prefix_len;	    /* 1..32 (ignored with dhcp) */
	struct weir_ipaddr gw;	    /* 0.0.0.0: no default gateway */
	uint8_t mac[WEIR_ETH_ALEN]; /* all zero: the device's MAC, else a random local one */
	uint16_t mtu;		    /* 0: the device's MTU; else 576..device MTU */
	int dhcp; /* 1: get address, prefix and gateway from DHCP (lwIP's client) */
	/* Live TCP connections (any state but TIME-WAIT) at most; 0: CONFIG_WEIR_MAX_CONNECTIONS
	 * (100,000 hosted). Past it a SYN gets a RST and a connect WEIR_ENOMEM, both counted in
	 * tcp_refused; established connections are never evicted. Memory, not a pool size, is the
	 * other bound: connections come from pools that grow on demand. The small profile's static
	 * pools (CONFIG_LWIP_MEMP_NUM_TCP_PCB) bound it instead, and it must be 0 there. */
	uint32_t max_connections;
	/* TIME-WAIT connections kept at most; past it the oldest is forgotten (counted in
	 * tcp_time_wait_dropped); 0: CONFIG_WEIR_MAX_TIME_WAIT (32,768). Hosted only, as above. */
	uint32_t max_time_wait;
	/* Shards: the group this stack is shard `shard` (0..size-1) of; NULL: alone. A stack on
	 * one queue of a multi-queue device connects from ports that come back to its queue
	 * whether or not it is in a group. */
	struct weir_shard_group *group;
	unsigned shard;
};

struct weir_stack_stats {
	uint64_t rx_frames, rx_bytes; /* frames handed to lwIP */
	uint64_t rx_copied;	      /* of those, copied out of device buffers that ran low */
	uint64_t tx_frames, tx_bytes; /* frames the device took */
	uint64_t tx_segments;	      /* lwIP frames in them (more than tx_frames with TSO) */
	uint64_t tx_super;	      /* TCP super-frames the device cut into segments (TSO) */
	uint64_t tx_acks_folded;      /* ACKs not sent: a later one in the same burst said more */
	/* drops by reason */
	uint64_t drop_runt;	   /* shorter than WEIR_ETH_MIN_FRAME */
	uint64_t drop_wrap;	   /* frame could not be wrapped as a pbuf */
	uint64_t drop_input;	   /* lwIP's input refused the frame */
	uint64_t drop_tx_full;	   /* device queue full */
	uint64_t drop_tx_error;	   /* device error on transmit, or it took nothing for 200 ms */
	uint64_t drop_tx_oversize; /* frame larger than the MTU */
	uint64_t drop_tx_chain;	   /* a frame of too many pieces not copied (no memory) */
	/* ICMP echo */
	uint64_t icmp_echo_requests_out; /* weir_stack_ping() */
	uint64_t icmp_echo_replies_in;	 /* replies matching our pings */
	/* lwIP's own view (0 when CONFIG_LWIP_STATS is off) */
	uint64_t ip_drops, tcp_drops, etharp_drops, icmp_drops;
	/* SYN cookies (CONFIG_LWIP_TCP_SYNCOOKIES; counted since the process started): SYNs
	 * answered with a cookie because a listener's backlog was full, connections made from a
	 * returned cookie, and ACKs to a listener sending cookies that carried no valid cookie
	 * (answered with RST). */
	uint64_t syncookies_sent, syncookies_accepted, syncookies_rejected;
	/* TCP connections (hosted; 0 in the small profile): live now, in TIME-WAIT now, refused at
	 * max_connections, TIME-WAIT ones forgotten at max_time_wait, and TIME-WAIT ones a connect
	 * took over for the same address and ports (since the process started). */
	uint64_t tcp_connections, tcp_time_wait;
	uint64_t tcp_refused, tcp_time_wait_dropped, tcp_time_wait_reused;
	/* Shards: frames copied to other shards (ARP, ICMP, another's UDP), copies taken from
	 * them, and copies dropped for a full ring or no memory. */
	uint64_t shard_frames_out, shard_frames_in, shard_frames_dropped;
};

/* Brings up the host on cfg->netdev and attaches it to cfg->loop. Returns 0 and sets *out, or
 * WEIR_EINVAL (bad config), WEIR_EBUSY (a stack is already open), WEIR_ENOMEM, WEIR_EIO. */
int weir_stack_open(const struct weir_stack_config *cfg, struct weir_stack **out);
/* Ends every flow (RST to its peer, reason WEIR_CLOSE_STACK_CLOSED), listener and UDP socket still
 * open on the stack, detaches from the loop and frees the stack. Their handles stay valid until the
 * user frees them (weir_flow_free, weir_listener_close, weir_udp_close, or their scope); every call
 * on them returns WEIR_ECLOSED, blocked ones included, and unread data is dropped. Buffers from
 * weir_flow_read/weir_udp_recv must be released before the netdev is closed. The netdev stays
 * open. NULL is ignored. */
void weir_stack_close(struct weir_stack *stack);

/* Receives a burst, runs due lwIP timers and the driver's timed work. Returns work done (>= 0).
 * The loop calls this; tests driving time by hand may call it directly. */
int weir_stack_poll(struct weir_stack *stack);

/* The current address, prefix length and gateway (all zero until DHCP bound). Returns 1 when the
 * host has an address, 0 while DHCP is still asking, WEIR_EINVAL for NULL. */
int weir_stack_get_addr(const struct weir_stack *stack, struct weir_ipaddr *ip, uint8_t *prefix_len,
			struct weir_ipaddr *gw);

/* The shard group the stack is in, NULL when alone (or for NULL). */
struct weir_shard_group *weir_stack_group(const struct weir_stack *stack);

/* The loop the stack is attached to (NULL for NULL). */
struct weir_loop *weir_stack_loop(const struct weir_stack *stack);

/* Copies the counters into *out. Returns 0 or WEIR_EINVAL. */
int weir_stack_get_stats(const struct weir_stack *stack, struct weir_stack_stats *out);
/* Copies our MAC address into mac: the configured one, else the device's, else the random one
 * weir_stack_open picked. Returns 0 or WEIR_EINVAL. */
int weir_stack_get_mac(const struct weir_stack *stack, uint8_t mac[WEIR_ETH_ALEN]);

/* Sends one ICMP echo request with payload_len bytes (0..1472) to dst. Replies are counted in
 * icmp_echo_replies_in. Returns 0, WEIR_EINVAL, WEIR_EMSGSIZE, WEIR_ENOMEM or WEIR_EUNREACH. */
int weir_stack_ping(struct weir_stack *stack, struct weir_ipaddr dst, uint16_t seq,
		    size_t payload_len);

/* Whether dst has a resolved ARP entry. Returns 1, 0, or WEIR_EINVAL. */
int weir_stack_arp_resolved(struct weir_stack *stack, struct weir_ipaddr dst);

#endif /* WEIR_STACK_H */
