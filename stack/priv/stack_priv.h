/* stack_priv.h - the stack object, shared by stack.c (netif glue, receive, timers) and tx.c (the
 * transmit queue). */
#ifndef WEIR_STACK_PRIV_H
#define WEIR_STACK_PRIV_H

#include "lwip/netif.h"

#include <weir/config.h>
#include <weir/netdev.h>
#include <weir/stack.h>

/* Frames, gather-list pieces and lwIP pbufs a loop turn can queue before it must flush (Kconfig:
 * the small profile keeps the queue small, it lives in the stack object). */
#define WEIR__TXQ_FRAMES CONFIG_WEIR_TX_BURST_FRAMES
#define WEIR__TXQ_IOVS	 CONFIG_WEIR_TX_BURST_PIECES
#define WEIR__TXQ_PBUFS	 CONFIG_WEIR_TX_BURST_PIECES

/* One queued frame: a single lwIP frame, or a TCP super-frame of several (TSO). */
struct weir__tx_entry {
	unsigned iov_first, iovcnt;  /* in txq.iov */
	unsigned pbuf_first, npbufs; /* in txq.held */
	uint32_t len;		     /* frame bytes */
	uint32_t flags;		     /* enum weir_tx_flag */
	uint16_t l4_offset, l4_hlen; /* where the TCP header is, and its length */
	uint16_t gso_size;     /* the first segment's payload: what each wire segment carries */
	uint16_t last_payload; /* the payload of the last segment merged */
	uint8_t tcp;	       /* an IPv4 TCP data segment: later ones may join it */
	uint8_t pure_ack;      /* an IPv4 TCP ACK alone (no data or other flags): 1, 2 with SACK */
	uint8_t segs;	       /* lwIP segments in it */
	uint8_t *ip, *th;      /* its IPv4 and TCP headers (in the first pbuf) */
	uint32_t next_seq;     /* the sequence number a following segment must have */
};

struct weir__txq {
	struct weir__tx_entry e[WEIR__TXQ_FRAMES];
	unsigned n;
	struct weir_iovec iov[WEIR__TXQ_IOVS];
	unsigned niov;
	struct pbuf
		*held[WEIR__TXQ_PBUFS]; /* one reference each, released when the device took them */
	unsigned nheld;
	struct weir_tx_frame tf[WEIR__TXQ_FRAMES];
	int csum_l4; /* the device finishes TCP checksums */
	int tso;     /* the device segments TCP super-frames */
	/* Nonzero while a burst is being gathered (inside weir_stack_poll, or between the flow
	 * layer's hold and release): frames wait for the flush. Zero: each leaves at once. */
	unsigned batch;
	uint64_t stuck_since_ns; /* the first flush in a row the device took nothing (0: none) */
};

struct weir_stack {
	struct netif netif;
	struct weir_netdev *dev;
	struct weir_loop *loop;
	struct weir_loop_source *src;
	struct raw_pcb *icmp_pcb;
	uint16_t mtu;
	int dev_down;	     /* the device reported an error on receive */
	int busy_poll;	     /* a poll-mode device that never lets the loop sleep */
	unsigned timer_skip; /* polls since lwIP's timers were last checked (busy_poll) */
	uint32_t pcb_peak;   /* most TCP pcbs since memory was last given back */
	int dhcp;	     /* lwIP's DHCP client runs on the netif */
	struct weir_stack_stats st;
	struct weir__txq txq;
	struct weir_shard_group *group; /* shards: the group this stack is shard `shard` of */
	unsigned shard;
	uint16_t rx_queue; /* the device's receive queue we read (caps.rx_queue) */
	uint16_t ping_id;  /* ICMP echo id of our pings (one per shard) */
	int ack_now; /* ACKs of a burst built at once, not at its end (weir__stack_ack_defer) */
};

/* stack.c: hands p (a received frame) to lwIP, skipping the TCP/UDP checksum check when flags
 * say the device vouched for it. Returns lwIP's verdict (on error p is still the caller's). */
err_t weir__stack_input(struct weir_stack *s, struct pbuf *p, uint32_t flags);

/* shard.c (CONFIG_WEIR_SHARDS) */
/* Makes s shard `shard` of g (its inbox attached to s's loop). Returns 0, WEIR_EINVAL (shard
 * out of range), WEIR_EBUSY (a stack is that shard already), WEIR_ENOMEM. */
int weir__shard_join(struct weir_stack *s, struct weir_shard_group *g, unsigned shard);
void weir__shard_leave(struct weir_stack *s);
/* The group's MAC, chosen when it was made (a random locally administered one). */
void weir__shard_group_mac(const struct weir_shard_group *g, uint8_t mac[WEIR_ETH_ALEN]);
/* Copies a received frame to the other shards when they must see it (shard.c says which).
 * Returns 1 when this shard must not take the frame itself, else 0. */
int weir__shard_share(struct weir_stack *s, const uint8_t *d, uint32_t len, uint32_t flags);

/* tx.c */
/* Sets up the queue for the device's offloads. */
void weir__stack_tx_init(struct weir_stack *s, const struct weir_netdev_caps *caps);
/* netif->linkoutput: queues the frame p (a reference is taken until the device has it). Returns
 * ERR_OK, ERR_IF (larger than the MTU), ERR_MEM (the queue is full and the device takes nothing).
 */
err_t weir__stack_tx_queue(struct netif *netif, struct pbuf *p);
/* Hands everything queued to the device in one burst. Returns the frames it took. */
int weir__stack_tx_flush(struct weir_stack *s);
/* Gathers a burst: frames queue until the matching release (or the poll's end) flushes them. */
void weir__stack_tx_batch_begin(struct weir_stack *s);
void weir__stack_tx_batch_end(struct weir_stack *s);
/* Whether frames wait in the queue (the loop must not sleep). */
int weir__stack_tx_pending(const struct weir_stack *s);
/* Drops what is queued (the stack is closing): references released. */
void weir__stack_tx_discard(struct weir_stack *s);

#endif /* WEIR_STACK_PRIV_H */
