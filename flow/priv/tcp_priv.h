/* tcp_priv.h - the flow object shared by tcp.c (lifecycle) and tcp_io.c (read/write). */
#ifndef WEIR_FLOW_TCP_PRIV_H
#define WEIR_FLOW_TCP_PRIV_H

#include "lwip/tcp.h"

#include <weir/fiber.h>
#include <weir/flow.h>

enum flow_state {
	FLOW_CONNECTING, /* SYN sent, waiting */
	FLOW_OPEN,	 /* connected (may be half-closed) */
	FLOW_DONE,	 /* the connection is gone or we closed it */
};

struct weir_flow {
	struct tcp_pcb *pcb; /* NULL once lwIP freed it or we let go of it */
	uint64_t id;
	enum flow_state state;
	enum weir_close_reason reason;
	int err;    /* why the connection died, for reads and writes (WEIR_ERESET, ...) */
	int wr_err; /* sticky: the first write error */

	/* Received data not yet read: single pbufs linked through ->next (split from lwIP's
	 * chains so no tot_len can overflow); tcp_recved() happens when the data is read. */
	struct pbuf *rxq_head, *rxq_tail;
	size_t rxq_bytes;
	unsigned rx_eof : 1;  /* the peer's FIN arrived */
	unsigned shut_rd : 1; /* we stopped reading: input is discarded */
	unsigned shut_wr : 1; /* our FIN is queued */
	unsigned closing : 1; /* weir_flow_close is waiting for the peer's FIN: no more writes, but
			       * other fibers' reads go on until that FIN */
	unsigned closed : 1;  /* weir_flow_close returned, or abort/free was called */
	unsigned owned_by_listener : 1;
	/* weir_flow_write_nocopy calls in progress: lwIP's segments point into their callers'
	 * buffers, so a close then resets the connection (a graceful close would leave lwIP
	 * sending from those buffers after the calls returned). */
	unsigned nocopy_writers;
	unsigned readers; /* fibers blocked in a read of this flow */

	struct weir_event rx_ev; /* data, FIN, error */
	struct weir_event tx_ev; /* send space, ACKs, error */
	struct weir_event st_ev; /* connect result, peer FIN, end */

	struct weir_flow_opts opts;
	uint64_t fin_sent_ns; /* when our FIN was queued (0: not yet) */
	uint64_t ut_since_ns; /* user timeout: since when lastack has not moved */
	u32_t ut_lastack;
	u8_t ka_sent;	  /* keepalive probes sent, last seen by the poll callback */
	u8_t had_unacked; /* data was in flight, last seen by the poll callback */

	struct weir_ipaddr lip, rip;
	uint16_t lport, rport;

	struct weir_flow_stats st;
	u32_t snd_max; /* highest sequence number sent + 1 (retransmission detection) */

	struct weir_listener *pending_in; /* waiting in this listener's backlog, else NULL */
	/* lwIP's two calls when a pcb dies (its err callback and the ext-arg destroy), in either
	 * order (tcp_input: err first; tcp_abandon and tcp_slowtmr: destroy first): a backlog
	 * flow is dropped at the second, when lwIP is done with it. */
	uint8_t pend_deaths;
	struct weir_list_node pend_node; /* in pending_in->pending */

	struct weir_scope_item item;	/* when owned by a scope */
	struct weir_list_node all_node; /* in every live flow (tcp.c: stack close) */
};

/* tcp.c */
extern WEIR_PER_SHARD u8_t weir__flow_ext_id;
void weir__flow_wake_all(struct weir_flow *f);
/* Returns the fiber-context error for a blocking call, or 0. */
int weir__flow_check_fiber(void);
/* Copies the pcb's smoothed RTT and RTO into *st (flows keep them in their stats, so they
 * outlive the pcb). */
void weir__flow_note_timing(struct weir_flow_stats *st, const struct tcp_pcb *pcb);

/* weir_listener_stop until a deadline (server.c): returns 0 once no handler runs, or
 * WEIR_ETIMEDOUT, WEIR_ECANCELED, WEIR_EINVAL. */
int weir__listener_drain(struct weir_listener *l, uint64_t deadline);

/* tcp_io.c */
err_t weir__flow_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
err_t weir__flow_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
/* Frees queued received data, acknowledging it to lwIP so the window reopens. */
void weir__flow_rxq_drop(struct weir_flow *f);
/* Ends the connection with RST (a local abort whose later calls fail with err); tcp.c. */
void weir__flow_reset(struct weir_flow *f, int err);
void weir__flow_recved(struct weir_flow *f, size_t n);

#endif /* WEIR_FLOW_TCP_PRIV_H */
