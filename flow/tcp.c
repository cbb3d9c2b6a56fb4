/* tcp.c - TCP flow lifecycle: connect, listen and accept, shutdown, close, abort, timers, stats.
 *
 * lwIP's callbacks only record what happened and wake fibers (weir_event_*); fibers never run
 * inside lwIP. The ext-arg destroy callback is the one place that learns a pcb was freed, on every
 * path (tcp_abort, the retransmission limit, TIME_WAIT expiry, which gives no err callback);
 * when we let go of a pcb ourselves we clear every callback first.
 */
#include <stdlib.h>
#include <string.h>

#include "lwip/ip_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#define WEIR_LOG_COMPONENT "tcp"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/freelist.h>
#include <weir/log.h>

#include "buf_priv.h"
#include "tcp_priv.h"
#include "weir_lwip_hooks.h"
#include "weir_stack_lwip.h"

/* Eio's connect has no timeout of its own (weir/clock.h). */
#define CONNECT_TIMEOUT_DEFAULT_NS  WEIR_TIMEOUT_NEVER
#define FIN_WAIT_TIMEOUT_DEFAULT_MS 60000u
/* lwIP's poll callback runs every slow tick (2 * TCP_TMR_INTERVAL) with interval 1. */
/* on_poll runs every slow tick (TCP_SLOW_INTERVAL) for a flow with a user timeout, keepalive or
 * its FIN sent, whose timers it keeps; else once in POLL_IDLE ticks (about a second), for the
 * statistics: tens of thousands of idle flows then cost the slow timer little. */
#define POLL_INTERVAL 1
#define POLL_IDLE     25

WEIR_PER_SHARD u8_t weir__flow_ext_id;
static WEIR_PER_SHARD int ext_id_ready;
static WEIR_PER_SHARD uint64_t next_flow_id = 1;

/* Freed flows and handler records wait for the next connection (every accepted connection takes
 * one of each). */
#define OBJ_CACHE_KEEP (WEIR_ASAN ? 0 : 4096)
static WEIR_PER_SHARD struct weir__freelist flow_cache = { .keep = OBJ_CACHE_KEEP },
					    handler_cache = { .keep = OBJ_CACHE_KEEP };
static WEIR_PER_SHARD uint32_t live_flows, live_listeners;

struct listener_handler {
	struct weir_listener *l;
	struct weir_flow *f;
	struct weir_fiber *fiber;
	struct weir_list_node node; /* in l->handlers */
};

struct weir_listener {
	struct tcp_pcb *pcb;
	weir_flow_handler handler;
	void *arg;
	struct weir_tcp_listen_opts opts;
	uint16_t port;
	struct weir_scope
		*scope; /* owner: the handlers run in it, the listener is attached to it */
	struct weir_scope_item item;
	struct weir_list handlers; /* struct listener_handler: running handlers */
	struct weir_event idle_ev; /* a handler finished */
	/* The backlog: connections TCP accepted, not yet handed to a handler (all max_connections
	 * were busy) or to weir_listener_accept; at most `backlog` of them. */
	struct weir_list pending; /* struct weir_flow, by pend_node, oldest first */
	unsigned backlog;
	struct weir_event accept_ev; /* a connection joined the backlog, or the listener stopped */
	struct weir_listener_stats st;
	int closing;
	struct weir_loop *loop; /* the stack's (still there after the stack closed) */
};

/* Every live flow, so that closing the stack can end them (those whose pcb is already gone may
 * still hold unread data; listeners are found through lwIP's own list). */
static WEIR_PER_SHARD struct weir_list all_flows; /* struct weir_flow */

static const char *const reason_str[] = {
#define WEIR__CR_STR(name, str) [WEIR_CLOSE_##name] = str,
	WEIR_CLOSE_REASON_MAP(WEIR__CR_STR)
#undef WEIR__CR_STR
};

const char *weir_close_reason_str(enum weir_close_reason r)
{
	if ((unsigned)r >= WEIR_ARRAY_SIZE(reason_str))
		return "unknown";
	return reason_str[r];
}

int weir__flow_check_fiber(void)
{
	return weir_fiber_self() == NULL ? WEIR_EINVAL : 0;
}

void weir__flow_wake_all(struct weir_flow *f)
{
	weir_event_broadcast(&f->rx_ev);
	weir_event_broadcast(&f->tx_ev);
	weir_event_broadcast(&f->st_ev);
}

/* --- lwIP callbacks (main context: record and wake, never block) ------------------------------ */

static void pending_died(struct weir_flow *f);

static void ext_destroy(u8_t id, void *data)
{
	struct weir_flow *f = data;

	WEIR_UNUSED(id);
	if (f != NULL) {
		f->pcb = NULL;
		weir__flow_wake_all(f);
		/* Gone while it waited in a backlog (RST, lwIP's timeouts). */
		if (f->pending_in != NULL && ++f->pend_deaths == 2)
			pending_died(f);
	}
}

static const struct tcp_ext_arg_callbacks ext_callbacks = {
	.destroy = ext_destroy,
};

/* Ends the flow's connection state with a reason and an error for later reads/writes. */
static void flow_end(struct weir_flow *f, enum weir_close_reason reason, int err)
{
	if (f->reason == WEIR_CLOSE_NONE)
		f->reason = reason;
	/* Keepalive or the user timeout gave up: as MirageOS says, reads then end (WEIR_EOF, after
	 * the data already received) and writes fail with WEIR_ECLOSED; the reason tells why. */
	if (err == WEIR_ETIMEDOUT &&
	    (reason == WEIR_CLOSE_KEEPALIVE || reason == WEIR_CLOSE_USER_TIMEOUT)) {
		err = WEIR_ECLOSED;
		f->rx_eof = 1;
	}
	if (f->err == 0)
		f->err = err;
	f->state = FLOW_DONE;
	weir__flow_wake_all(f);
}

static void on_err(void *arg, err_t err)
{
	struct weir_flow *f = arg;

	/* lwIP calls the err callback after it freed the pcb (tcp_abort: synchronously). */
	if (f == NULL)
		return;
	f->pcb = NULL;
	switch (err) {
	case ERR_RST:
		if (f->state == FLOW_CONNECTING)
			flow_end(f, WEIR_CLOSE_CONNECT_REFUSED, WEIR_EREFUSED);
		else
			flow_end(f, WEIR_CLOSE_PEER_RST, WEIR_ERESET);
		break;
	case ERR_CLSD:
		/* Both FINs exchanged after a write-side shutdown: an orderly end. */
		flow_end(f, WEIR_CLOSE_PEER_FIN, WEIR_ECLOSED);
		break;
	case ERR_ABRT:
	default:
		/* lwIP gives the same code for every timeout; tell them apart by our own state. */
		if (f->state == FLOW_CONNECTING)
			flow_end(f, WEIR_CLOSE_CONNECT_TIMEOUT, WEIR_ETIMEDOUT);
		else if (f->opts.keepalive.after_ms != 0 && f->ka_sent > 0 && !f->had_unacked)
			/* Probes were out and no data was: lwIP's keepalive gave up (it aborts
			 * once idle > after + probes x interval, whatever it managed to send). */
			flow_end(f, WEIR_CLOSE_KEEPALIVE, WEIR_ETIMEDOUT);
		else
			flow_end(f, WEIR_CLOSE_RETRANSMIT, WEIR_ETIMEDOUT);
		break;
	}
	if (f->pending_in != NULL && ++f->pend_deaths == 2)
		pending_died(f);
}

void weir__flow_note_timing(struct weir_flow_stats *st, const struct tcp_pcb *pcb)
{
	/* lwIP keeps the RTT average scaled by 8, in slow-timer ticks; the retransmission timer
	 * fires once rtime (ticks since the last new ACK) reaches rto. */
	st->srtt_ms = (uint32_t)(pcb->sa >> 3) * TCP_SLOW_INTERVAL;
	st->rto_ms = pcb->rto > 0 ? (uint32_t)pcb->rto * TCP_SLOW_INTERVAL : 0;
	st->rto_timeouts = pcb->rto_fired;
	st->fast_recoveries = pcb->recoveries;
	st->loss_probes = pcb->tlp_probes;
#if TCP_ACK_RESEND_MS
	st->acks_resent = pcb->acks_resent;
#endif
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct weir_flow *f = arg;

	WEIR_UNUSED(err); /* always ERR_OK in lwIP 2.1 */
	if (f == NULL)
		return ERR_OK;
	f->state = FLOW_OPEN;
	f->lip.v4 = ip_2_ip4(&pcb->local_ip)->addr;
	f->lport = pcb->local_port;
	weir_event_broadcast(&f->st_ev);
	return ERR_OK;
}

/* Forgets the pcb: no callback of ours runs for it again. Returns it. */
static struct tcp_pcb *flow_detach(struct weir_flow *f)
{
	struct tcp_pcb *pcb = f->pcb;

	if (pcb == NULL)
		return NULL;
	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
	tcp_ext_arg_set(pcb, weir__flow_ext_id, NULL);
	f->pcb = NULL;
	return pcb;
}

/* Ends the connection with RST, recording why. */
static void flow_abort_with(struct weir_flow *f, enum weir_close_reason reason, int err)
{
	struct tcp_pcb *pcb = flow_detach(f);

	if (pcb != NULL)
		tcp_abort(pcb);
	flow_end(f, reason, err);
}

static err_t on_poll(void *arg, struct tcp_pcb *pcb)
{
	struct weir_flow *f = arg;
	uint64_t now;

	if (f == NULL)
		return ERR_OK;
	/* Runs for every flow each slow tick (40 ms): with tens of thousands of idle flows the
	 * clock is read only where a user timeout runs. */
	f->ka_sent = pcb->keep_cnt_sent;
	f->had_unacked = pcb->unacked != NULL;
	weir__flow_note_timing(&f->st, pcb);

	/* lwIP never ends a FIN_WAIT_2 pcb after a write-side shutdown (tcp_shutdown(pcb, 0, 1):
	 * its FIN_WAIT_2 timeout covers only a full close). Bound the time
	 * the peer stays *silent* after our FIN (pcb->tmr is when it last sent anything), not the
	 * time since our FIN: a peer still sending its half is fine however long it takes. */
	if (f->fin_sent_ns != 0 && (pcb->state == FIN_WAIT_1 || pcb->state == FIN_WAIT_2) &&
	    (uint64_t)(u32_t)(tcp_ticks - pcb->tmr) * TCP_SLOW_INTERVAL >
		    f->opts.fin_wait_timeout_ms) {
		flow_abort_with(f, WEIR_CLOSE_FIN_WAIT_TIMEOUT, WEIR_ETIMEDOUT);
		return ERR_ABRT;
	}

	/* RFC 5482 user timeout: how long the oldest unacknowledged byte has waited. */
	if (f->opts.user_timeout_ms != 0) {
		if (pcb->unacked != NULL || pcb->unsent != NULL) {
			now = weir_clock_now_ns();
			if (f->ut_since_ns == 0 || pcb->lastack != f->ut_lastack) {
				f->ut_since_ns = now;
				f->ut_lastack = pcb->lastack;
			} else if (now - f->ut_since_ns >
				   (uint64_t)f->opts.user_timeout_ms * WEIR_NS_PER_MS) {
				flow_abort_with(f, WEIR_CLOSE_USER_TIMEOUT, WEIR_ETIMEDOUT);
				return ERR_ABRT;
			}
			/* The user timeout overrides the retransmission limit: keep lwIP from
			 * giving up first (the backoff stays at its last step). */
			if (pcb->nrtx > TCP_MAXRTX - 2)
				pcb->nrtx = TCP_MAXRTX - 2;
		} else {
			f->ut_since_ns = 0;
		}
	}
	return ERR_OK;
}

/* --- segment counters (lwIP hooks) ------------------------------------------------------------ */

static struct weir_flow *flow_of(const struct tcp_pcb *pcb)
{
	if (!ext_id_ready || pcb == NULL || pcb->state == LISTEN)
		return NULL;
	return tcp_ext_arg_get(pcb, weir__flow_ext_id);
}

static void hook_in(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p)
{
	struct weir_flow *f = flow_of(pcb);

	WEIR_UNUSED(hdr);
	WEIR_UNUSED(p);
	if (f != NULL)
		f->st.segments_in++;
}

static void hook_out(struct tcp_pcb *pcb, struct tcp_hdr *hdr, struct pbuf *p)
{
	struct weir_flow *f = flow_of(pcb);
	u32_t seq, len;

	if (f == NULL)
		return;
	f->st.segments_out++;
	len = (u32_t)p->tot_len - (u32_t)TCPH_HDRLEN_BYTES(hdr);
	if (len == 0)
		return;
	seq = lwip_ntohl(hdr->seqno);
	if (f->snd_max != 0 && TCP_SEQ_LT(seq, f->snd_max))
		f->st.retransmissions++;
	if (f->snd_max == 0 || TCP_SEQ_GT(seq + len, f->snd_max))
		f->snd_max = seq + len;
}

static const struct weir__lwip_tcp_hooks flow_hooks = {
	.segment_in = hook_in,
	.segment_out = hook_out,
};

/* --- flows ------------------------------------------------------------------------------------ */

static void listener_stop_accepting(struct weir_listener *l);
static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err);

/* The stack is closing (one per process: every pcb is its): its listeners stop accepting (running
 * handlers go on, and find their flows ended), its flows end with RST (WEIR_CLOSE_STACK_CLOSED;
 * blocked calls return WEIR_ECLOSED). Handles stay valid until the user frees them. */
static void on_stack_close(struct weir_stack *s)
{
	struct tcp_pcb_listen *lp, *next;

	WEIR_UNUSED(s);
	for (lp = tcp_listen_pcbs.listen_pcbs; lp != NULL; lp = next) {
		next = lp->next;
		if (lp->accept == on_accept)
			listener_stop_accepting(lp->callback_arg);
	}
	for (struct weir_list_node *n = all_flows.head; n != NULL; n = n->next) {
		struct weir_flow *f = weir_list_entry(n, struct weir_flow, all_node);

		if (f->pcb != NULL || f->state != FLOW_DONE)
			flow_abort_with(f, WEIR_CLOSE_STACK_CLOSED, WEIR_ECLOSED);
		weir__flow_rxq_drop(f); /* unread data holds the device's receive buffers */
	}
}

static void ensure_ext_id(void)
{
	if (!ext_id_ready) {
		weir__flow_ext_id = tcp_ext_arg_alloc_id();
		weir__lwip_tcp_hooks = &flow_hooks;
		weir__stack_on_close(on_stack_close);
		ext_id_ready = 1;
	}
}

static void apply_keepalive(struct weir_flow *f)
{
	struct tcp_pcb *pcb = f->pcb;
	const struct weir_keepalive *ka = &f->opts.keepalive;

	if (pcb == NULL)
		return;
	if (ka->after_ms == 0) {
		ip_reset_option(pcb, SOF_KEEPALIVE);
		return;
	}
#if LWIP_TCP_KEEPALIVE
	pcb->keep_idle = ka->after_ms;
	pcb->keep_intvl = ka->interval_ms ? ka->interval_ms : 75000;
	pcb->keep_cnt = ka->probes ? ka->probes : 9;
#endif
	ip_set_option(pcb, SOF_KEEPALIVE);
}

static void set_poll_rate(struct weir_flow *f)
{
	if (f->pcb != NULL)
		tcp_poll(f->pcb, on_poll,
			 f->opts.user_timeout_ms != 0 || f->opts.keepalive.after_ms != 0 ||
					 f->fin_sent_ns != 0
				 ? POLL_INTERVAL
				 : POLL_IDLE);
}

static void apply_opts(struct weir_flow *f)
{
	if (f->opts.fin_wait_timeout_ms == 0)
		f->opts.fin_wait_timeout_ms = FIN_WAIT_TIMEOUT_DEFAULT_MS;
	if (f->opts.keepalive.after_ms != 0) {
		if (f->opts.keepalive.interval_ms == 0)
			f->opts.keepalive.interval_ms = 75000;
		if (f->opts.keepalive.probes == 0)
			f->opts.keepalive.probes = 9;
	}
	apply_keepalive(f);
	set_poll_rate(f);
	if (f->pcb != NULL) {
		if (f->opts.nodelay)
			tcp_nagle_disable(f->pcb);
		else
			tcp_nagle_enable(f->pcb);
	}
}

static int valid_opts(const struct weir_flow_opts *o)
{
	/* lwIP keeps keepalive times in u32 milliseconds and the probe count in a u32; keep the
	 * products far from wrapping. */
	return o->keepalive.probes <= 1000 && o->keepalive.interval_ms <= 86400000u &&
	       o->keepalive.after_ms <= 864000000u && o->nodelay >= 0 && o->nodelay <= 1;
}

static struct weir_flow *flow_new(struct tcp_pcb *pcb, const struct weir_flow_opts *opts)
{
	struct weir_flow *f = weir__freelist_get(&flow_cache, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->pcb = pcb;
	f->id = next_flow_id++;
	if (opts != NULL)
		f->opts = *opts;
	weir_event_init(&f->rx_ev);
	weir_event_init(&f->tx_ev);
	weir_event_init(&f->st_ev);
	tcp_arg(pcb, f);
	tcp_recv(pcb, weir__flow_recv);
	tcp_sent(pcb, weir__flow_sent);
	tcp_err(pcb, on_err);
	tcp_poll(pcb, on_poll, POLL_IDLE);
	tcp_ext_arg_set_callbacks(pcb, weir__flow_ext_id, &ext_callbacks);
	tcp_ext_arg_set(pcb, weir__flow_ext_id, f);
	apply_opts(f);
	weir_list_push_head(&all_flows, &f->all_node);
	live_flows++;
	return f;
}

/* Lets go of the connection without waiting: FIN if it is still up (lwIP finishes the close,
 * FIN_WAIT_2 bounded by its RXCLOSED timeout), RST if FIN cannot be queued or a write without
 * copy is in progress (its bytes must not outlive the call in lwIP's queues). */
static void flow_close_nowait(struct weir_flow *f)
{
	struct tcp_pcb *pcb;

	weir__flow_rxq_drop(f);
	f->shut_rd = 1;
	pcb = flow_detach(f);
	if (pcb != NULL) {
		if (f->nocopy_writers > 0 || tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
	}
	if (f->state != FLOW_DONE)
		flow_end(f, f->rx_eof ? WEIR_CLOSE_PEER_FIN : WEIR_CLOSE_LOCAL_CLOSE, WEIR_ECLOSED);
	f->closed = 1;
	weir__flow_wake_all(f);
}

static void flow_destroy(struct weir_flow *f)
{
	WEIR_BUG_ON(weir_event_has_waiters(&f->rx_ev) || weir_event_has_waiters(&f->tx_ev) ||
		    weir_event_has_waiters(&f->st_ev));
	if (!f->closed || f->pcb != NULL)
		flow_close_nowait(f);
	weir__flow_rxq_drop(f);
	weir_list_remove(&all_flows, &f->all_node);
	live_flows--;
	weir__freelist_put(&flow_cache, f);
}

static void flow_scope_close(struct weir_scope_item *item)
{
	flow_destroy(WEIR_CONTAINER_OF(item, struct weir_flow, item));
}

/* --- connect ---------------------------------------------------------------------------------- */

int weir_tcp_connect(struct weir_stack *stack, struct weir_ipaddr dst, uint16_t port,
		     const struct weir_tcp_connect_opts *opts, struct weir_flow **out)
{
	static const struct weir_tcp_connect_opts defaults;
	struct weir_scope *scope;
	struct tcp_pcb *pcb;
	struct weir_flow *f;
	ip_addr_t ip, lip;
	uint64_t deadline;
	err_t e;
	int rc;

	WEIR_EINVAL_IF(out == NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	WEIR_EINVAL_IF(stack == NULL || dst.v4 == 0 || port == 0 || !valid_opts(&opts->flow) ||
		       opts->reuse_addr < 0 || opts->reuse_addr > 1);
	if (opts->reuse_addr && !SO_REUSE)
		return WEIR_ENOTSUP;
	rc = weir__flow_check_fiber();
	if (rc < 0)
		return rc;
	if (weir_fiber_cancelled())
		return WEIR_ECANCELED;
	scope = opts->scope ? opts->scope : weir_scope_current();
	ensure_ext_id();

	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (pcb == NULL)
		return WEIR_ENOMEM;
	if (opts->reuse_addr)
		ip_set_option(pcb, SOF_REUSEADDR);
	if (opts->local_ip.v4 != 0 || opts->local_port != 0) {
		ip_addr_set_ip4_u32(&lip, opts->local_ip.v4);
		e = tcp_bind(pcb, &lip, opts->local_port);
		if (e != ERR_OK) {
			tcp_close(pcb);
			return weir__err_from_lwip(e);
		}
	}
	f = flow_new(pcb, &opts->flow);
	if (f == NULL) {
		tcp_close(pcb);
		return WEIR_ENOMEM;
	}
	f->state = FLOW_CONNECTING;
	f->rip = dst;
	f->rport = port;
	ip_addr_set_ip4_u32(&ip, dst.v4);
	e = tcp_connect(pcb, &ip, port, on_connected);
	if (e != ERR_OK) {
		rc = weir__err_from_lwip(e);
		flow_detach(f);
		tcp_abort(pcb);
		f->closed = 1;
		f->state = FLOW_DONE;
		flow_destroy(f);
		return rc;
	}
	deadline = weir_deadline_after(weir_clock_now_ns(), opts->timeout_ns,
				       CONNECT_TIMEOUT_DEFAULT_NS);
	while (f->state == FLOW_CONNECTING) {
		rc = weir_event_wait(&f->st_ev, deadline);
		if (rc == WEIR_ETIMEDOUT && f->state == FLOW_CONNECTING) {
			flow_abort_with(f, WEIR_CLOSE_CONNECT_TIMEOUT, WEIR_ETIMEDOUT);
		} else if (rc == WEIR_ECANCELED && f->state == FLOW_CONNECTING) {
			flow_abort_with(f, WEIR_CLOSE_CONNECT_CANCELED, WEIR_ECANCELED);
		}
	}
	if (f->state != FLOW_OPEN) {
		rc = f->err ? f->err : WEIR_ECLOSED;
		f->closed = 1;
		flow_destroy(f);
		return rc;
	}
	f->item.close = flow_scope_close;
	if (weir_scope_attach(scope, &f->item) < 0) {
		flow_destroy(f);
		return WEIR_EINVAL;
	}
	*out = f;
	return 0;
}

/* --- listen ----------------------------------------------------------------------------------- */

static void listener_hand_over(struct weir_listener *l);

static void handler_main(void *arg)
{
	struct listener_handler *h = arg;
	struct weir_listener *l = h->l;
	struct weir_flow *f = h->f;

	l->handler(f, l->arg);
	/* As Eio: the handler returned, the flow closes (FIN after what is queued; lwIP finishes
	 * the close) without waiting for the peer, so the handler's slot is free at once. */
	flow_destroy(f);
	weir_list_remove(&l->handlers, &h->node);
	l->st.active--;
	weir__freelist_put(&handler_cache, h);
	weir_event_broadcast(&l->idle_ev);
	listener_hand_over(l); /* the freed slot takes the oldest waiting connection */
}

static void accept_failed(struct weir_listener *l, enum weir_accept_error cls, int err)
{
	l->st.refused++;
	if (l->opts.on_accept_error != NULL)
		l->opts.on_accept_error(cls, err, l->arg);
}

/* Starts f's handler. Returns 0, or a weir error after reporting it (f is then gone). */
static int start_handler(struct weir_listener *l, struct weir_flow *f)
{
	struct weir_fiber_opts fo = { .stack_size = l->opts.handler_stack_size,
				      .name = "tcp-handler" };
	struct listener_handler *h = weir__freelist_get(&handler_cache, sizeof(*h));
	int rc = h != NULL ? 0 : WEIR_ENOMEM;

	if (h != NULL) {
		h->l = l;
		h->f = f;
		rc = weir_fiber_spawn(l->scope, handler_main, h, &fo, &h->fiber);
	}
	if (rc < 0) {
		/* Memory is the host's shortage; anything else (the listener's scope is closing)
		 * is unexpected for this listener. */
		accept_failed(l, rc == WEIR_ENOMEM ? WEIR_ACCEPT_SYSTEM : WEIR_ACCEPT_UNEXPECTED,
			      rc);
		flow_abort_with(f, WEIR_CLOSE_LOCAL_ABORT, WEIR_ECLOSED);
		f->closed = 1;
		flow_destroy(f);
		weir__freelist_put(&handler_cache, h);
		return rc;
	}
	/* Nobody joins handler fibers: a long-running listener must not keep their records. The
	 * handle stays valid while the handler runs (it unlinks h just before finishing). */
	weir_fiber_detach(h->fiber);
	weir_list_push_head(&l->handlers, &h->node);
	l->st.active++;
	l->st.accepted++;
	return 0;
}

static int slot_free(const struct weir_listener *l)
{
	return l->opts.max_connections == 0 || l->st.active < l->opts.max_connections;
}

static struct weir_flow *pending_pop(struct weir_listener *l)
{
	struct weir_list_node *n = l->pending.head;
	struct weir_flow *f;

	if (n == NULL)
		return NULL;
	f = weir_list_entry(n, struct weir_flow, pend_node);
	weir_list_remove(&l->pending, n);
	f->pending_in = NULL;
	l->st.pending--;
	return f;
}

/* Hands waiting connections to handlers while slots are free. */
static void listener_hand_over(struct weir_listener *l)
{
	struct weir_flow *f;

	while (l->handler != NULL && !l->closing && slot_free(l) && (f = pending_pop(l)) != NULL)
		start_handler(l, f);
}

/* A connection died (RST, or lwIP gave up) while it waited in the backlog: dropped, reported. */
static void pending_died(struct weir_flow *f)
{
	struct weir_listener *l = f->pending_in;

	weir_list_remove(&l->pending, &f->pend_node);
	f->pending_in = NULL;
	l->st.pending--;
	accept_failed(l, WEIR_ACCEPT_CONNECTION, f->err ? f->err : WEIR_ECLOSED);
	f->closed = 1;
	flow_destroy(f);
}

/* Ends every connection still in the backlog (the listener stops): RST, as a closed listening
 * socket does to the connections in its queue; counted in refused. */
static void pending_reset_all(struct weir_listener *l)
{
	struct weir_flow *f;

	while ((f = pending_pop(l)) != NULL) {
		l->st.refused++;
		f->closed = 1;
		flow_abort_with(f, WEIR_CLOSE_LOCAL_ABORT, WEIR_ECLOSED);
		flow_destroy(f);
	}
}

/* Closes a connection at once, politely (FIN), counted in refused. */
static err_t refuse(struct weir_listener *l, struct tcp_pcb *newpcb)
{
	l->st.refused++;
	if (tcp_close(newpcb) != ERR_OK) {
		tcp_abort(newpcb);
		return ERR_ABRT;
	}
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
	struct weir_listener *l = arg;
	struct weir_flow *f;

	if (err != ERR_OK || newpcb == NULL) {
		/* lwIP could not allocate a pcb for a SYN (ERR_MEM): the host is short. */
		if (l != NULL)
			accept_failed(l,
				      err == ERR_MEM ? WEIR_ACCEPT_SYSTEM : WEIR_ACCEPT_CONNECTION,
				      weir__err_from_lwip(err));
		return ERR_VAL;
	}
	if (l == NULL || l->closing) {
		tcp_abort(newpcb);
		return ERR_ABRT;
	}
	if (l->handler != NULL && !slot_free(l) && l->opts.refuse_over_max)
		return refuse(l, newpcb); /* the option: closed at once when every slot is busy */
	if ((l->handler == NULL || !slot_free(l)) && l->st.pending >= l->backlog)
		return refuse(l, newpcb); /* the backlog is full */
	f = flow_new(newpcb, &l->opts.flow);
	if (f == NULL) {
		accept_failed(l, WEIR_ACCEPT_SYSTEM, WEIR_ENOMEM);
		tcp_abort(newpcb);
		return ERR_ABRT;
	}
	f->state = FLOW_OPEN;
	f->lip.v4 = ip_2_ip4(&newpcb->local_ip)->addr;
	f->lport = newpcb->local_port;
	f->rip.v4 = ip_2_ip4(&newpcb->remote_ip)->addr;
	f->rport = newpcb->remote_port;
	if (l->handler != NULL && slot_free(l)) {
		f->owned_by_listener = 1;
		/* On failure the flow's pcb was aborted (flow_abort_with). */
		return start_handler(l, f) < 0 ? ERR_ABRT : ERR_OK;
	}
	/* Waits in the backlog (data it sends queues, up to the receive window) until a slot
	 * frees or weir_listener_accept takes it (Eio's accept queue). */
	f->owned_by_listener = l->handler != NULL;
	f->pending_in = l;
	weir_list_push_tail(&l->pending, &f->pend_node);
	l->st.pending++;
	weir_event_signal(&l->accept_ev);
	return ERR_OK;
}

int weir_listener_accept(struct weir_listener *l, struct weir_scope *scope, struct weir_flow **out)
{
	struct weir_flow *f;
	int rc;

	WEIR_EINVAL_IF(out == NULL);
	*out = NULL;
	WEIR_EINVAL_IF(l == NULL || l->handler != NULL);
	rc = weir__flow_check_fiber();
	if (rc < 0)
		return rc;
	if (scope == NULL)
		scope = weir_scope_current();
	for (;;) {
		if (l->pcb == NULL)
			return WEIR_ECLOSED;
		f = pending_pop(l);
		if (f != NULL)
			break;
		rc = weir_event_wait(&l->accept_ev, WEIR_DEADLINE_NEVER);
		if (rc < 0)
			return rc;
	}
	f->item.close = flow_scope_close;
	if (weir_scope_attach(scope, &f->item) < 0) {
		f->closed = 1;
		flow_abort_with(f, WEIR_CLOSE_LOCAL_ABORT, WEIR_ECLOSED);
		flow_destroy(f);
		return WEIR_EINVAL;
	}
	l->st.accepted++;
	*out = f;
	return 0;
}

static void listener_scope_close(struct weir_scope_item *item)
{
	weir_listener_close(WEIR_CONTAINER_OF(item, struct weir_listener, item));
}

int weir_tcp_listen(struct weir_stack *stack, const struct weir_tcp_listen_opts *opts,
		    weir_flow_handler handler, void *arg, struct weir_listener **out)
{
	static const struct weir_tcp_listen_opts defaults;
	struct weir_listener *l;
	struct tcp_pcb *pcb, *lpcb;
	ip_addr_t ip;
	err_t e;
	int rc;

	WEIR_EINVAL_IF(out == NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if (stack == NULL || !valid_opts(&opts->flow) || opts->backlog > 255 ||
	    (handler == NULL && (opts->max_connections != 0 || opts->refuse_over_max)) ||
	    opts->refuse_over_max < 0 || opts->refuse_over_max > 1 || opts->reuse_addr < 0 ||
	    opts->reuse_addr > 1 || opts->reuse_port < 0 || opts->reuse_port > 1 ||
	    (opts->handler_stack_size != 0 && (opts->handler_stack_size < weir_fiber_stack_min() ||
					       opts->handler_stack_size > ((size_t)1 << 30))))
		return WEIR_EINVAL;
	/* reuse_port: the listeners on this port in the other shards share it (each shard has its
	 * own lwIP, and the device spreads connections among them); a stack alone has no others. */
	if ((opts->reuse_port && weir_stack_group(stack) == NULL) ||
	    (opts->reuse_addr && !SO_REUSE))
		return WEIR_ENOTSUP;
	ensure_ext_id();
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return WEIR_ENOMEM;
	l->handler = handler;
	l->arg = arg;
	l->opts = *opts;
	weir_event_init(&l->idle_ev);
	weir_event_init(&l->accept_ev);
	l->backlog = opts->backlog ? opts->backlog : TCP_DEFAULT_LISTEN_BACKLOG;
	l->scope = opts->scope ? opts->scope : weir_scope_current();
	pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (pcb == NULL) {
		rc = WEIR_ENOMEM;
		goto fail_scope;
	}
	if (opts->reuse_addr)
		ip_set_option(pcb, SOF_REUSEADDR);
	ip_addr_set_ip4_u32(&ip, opts->ip.v4);
	e = tcp_bind(pcb, &ip, opts->port);
	if (e != ERR_OK) {
		tcp_close(pcb);
		rc = weir__err_from_lwip(e);
		goto fail_scope;
	}
	/* lwIP's own backlog bounds the half-open connections (SYN_RCVD) before SYN cookies; ours
	 * (l->backlog) the established ones not yet handed over. */
	lpcb = tcp_listen_with_backlog_and_err(pcb, (u8_t)l->backlog, &e);
	if (lpcb == NULL) {
		tcp_close(pcb);
		rc = weir__err_from_lwip(e);
		goto fail_scope;
	}
	l->pcb = lpcb;
	l->port = lpcb->local_port;
	tcp_arg(lpcb, l);
	tcp_accept(lpcb, on_accept);
	l->item.close = listener_scope_close;
	rc = weir_scope_attach(l->scope, &l->item);
	if (rc < 0) {
		tcp_close(lpcb);
		goto fail_scope;
	}
	l->loop = weir_stack_loop(stack);
	live_listeners++;
	*out = l;
	return 0;

fail_scope:
	free(l);
	return rc;
}

uint16_t weir_listener_port(const struct weir_listener *l)
{
	return l ? l->port : 0;
}

static void listener_stop_accepting(struct weir_listener *l)
{
	if (l->pcb != NULL) {
		tcp_arg(l->pcb, NULL);
		tcp_accept(l->pcb, NULL);
		tcp_close(l->pcb); /* a listening pcb is freed at once */
		l->pcb = NULL;
	}
	pending_reset_all(l);
	weir_event_broadcast(&l->accept_ev); /* blocked accepts return WEIR_ECLOSED */
}

int weir__listener_drain(struct weir_listener *l, uint64_t deadline)
{
	int rc;

	WEIR_EINVAL_IF(l == NULL);
	listener_stop_accepting(l);
	rc = weir__flow_check_fiber();
	if (rc < 0)
		return rc;
	while (l->st.active > 0) {
		rc = weir_event_wait(&l->idle_ev, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int weir_listener_stop(struct weir_listener *l)
{
	return weir__listener_drain(l, WEIR_DEADLINE_NEVER);
}

int weir_listener_close(struct weir_listener *l)
{
	WEIR_EINVAL_IF(l == NULL);
	if (l->closing)
		return 0;
	l->closing = 1;
	listener_stop_accepting(l);
	/* Cancel every running handler and wait until each returned (its fiber closes and frees
	 * its flow on the way out). From the main context, run the loop meanwhile. */
	for (struct weir_list_node *n = l->handlers.head; n != NULL; n = n->next)
		weir_fiber_cancel(weir_list_entry(n, struct listener_handler, node)->fiber);
	while (l->st.active > 0) {
		if (weir_fiber_self() != NULL) {
			/* Our own cancellation must not cut this short (nor spin: a cancelled
			 * fiber's waits return at once): the handlers are already cancelled and
			 * finish without blocking for long. */
			weir_event_wait_protected(&l->idle_ev,
						  weir_clock_now_ns() + 10 * WEIR_NS_PER_MS);
		} else {
			weir_loop_run_once(l->loop, 10 * WEIR_NS_PER_MS);
		}
	}
	weir_scope_detach(&l->item);
	live_listeners--;
	free(l);
	return 0;
}

int weir_listener_get_stats(const struct weir_listener *l, struct weir_listener_stats *out)
{
	WEIR_EINVAL_IF(l == NULL || out == NULL);
	*out = l->st;
	return 0;
}

/* --- shutdown, close, abort, free ------------------------------------------------------------- */

int weir_flow_shutdown(struct weir_flow *f, int how)
{
	WEIR_EINVAL_IF(f == NULL || how < WEIR_SHUT_RD || how > WEIR_SHUT_RDWR);
	if (f->closed)
		return WEIR_ECLOSED;
	if (how & WEIR_SHUT_RD) {
		f->shut_rd = 1;
		weir__flow_rxq_drop(f);
		weir_event_broadcast(&f->rx_ev);
	}
	if ((how & WEIR_SHUT_WR) && !f->shut_wr) {
		if (f->pcb == NULL)
			return f->err ? f->err : WEIR_ECLOSED;
		/* Queued data goes first, FIN after it (tcp_shutdown appends the FIN). */
		if (tcp_shutdown(f->pcb, 0, 1) != ERR_OK)
			return WEIR_ECLOSED;
		f->shut_wr = 1;
		f->fin_sent_ns = weir_clock_now_ns();
		set_poll_rate(f);
		weir_event_broadcast(&f->tx_ev);
	}
	return 0;
}

int weir_flow_close(struct weir_flow *f)
{
	uint64_t deadline;

	WEIR_EINVAL_IF(f == NULL);
	if (f->closed || f->closing)
		return 0;
	f->closing = 1;
	/* Who closed first decides the reason: the peer if its FIN is already here. */
	if (f->reason == WEIR_CLOSE_NONE)
		f->reason = f->rx_eof ? WEIR_CLOSE_PEER_FIN : WEIR_CLOSE_LOCAL_CLOSE;
	weir_event_broadcast(&f->tx_ev); /* blocked writers see the flow closed */
	if (f->pcb != NULL && !f->shut_wr && tcp_shutdown(f->pcb, 0, 1) == ERR_OK) {
		f->shut_wr = 1;
		f->fin_sent_ns = weir_clock_now_ns();
		set_poll_rate(f);
	}
	/* MirageOS: close flushes our data, sends FIN, and waits until the peer closed too;
	 * meanwhile the peer may still write and other fibers may still read. Data nobody reads
	 * would close the receive window before the peer's FIN could come: once the window is
	 * nearly shut with no fiber reading, what is queued is dropped (acknowledged). Bounded by
	 * fin_wait_timeout; a cancelled fiber or the main context does not wait. */
	deadline = weir_clock_now_ns() + (uint64_t)f->opts.fin_wait_timeout_ms * WEIR_NS_PER_MS;
	while (f->pcb != NULL && !f->rx_eof && weir_fiber_self() != NULL &&
	       !weir_fiber_cancelled()) {
		if (f->readers == 0 && f->rxq_head != NULL && f->pcb->rcv_wnd < TCP_MSS)
			weir__flow_rxq_drop(f);
		if (weir_event_wait(&f->st_ev, deadline) < 0)
			break;
	}
	/* Readers the FIN woke take what is queued (and the end) before the flow closes. */
	if (f->readers > 0 && weir_fiber_self() != NULL)
		weir_fiber_yield();
	flow_close_nowait(f);
	return 0;
}

void weir__flow_reset(struct weir_flow *f, int err)
{
	flow_abort_with(f, WEIR_CLOSE_LOCAL_ABORT, err);
}

int weir_flow_abort(struct weir_flow *f)
{
	WEIR_EINVAL_IF(f == NULL);
	if (f->closed && f->pcb == NULL)
		return 0;
	f->closed = 1;
	weir__flow_rxq_drop(f);
	flow_abort_with(f, WEIR_CLOSE_LOCAL_ABORT, WEIR_ECLOSED);
	return 0;
}

void weir_flow_free(struct weir_flow *f)
{
	if (f == NULL)
		return;
	if (f->owned_by_listener) {
		weir_log_warn("flow %llu belongs to its listener's handler; not freed",
			      (unsigned long long)f->id);
		return;
	}
	weir_scope_detach(&f->item);
	flow_destroy(f);
}

/* --- options, identity, stats ----------------------------------------------------------------- */

int weir_flow_set_nodelay(struct weir_flow *f, int nodelay)
{
	WEIR_EINVAL_IF(f == NULL || nodelay < 0 || nodelay > 1);
	if (f->closed || f->pcb == NULL)
		return WEIR_ECLOSED;
	f->opts.nodelay = nodelay;
	apply_opts(f);
	return 0;
}

int weir_flow_set_keepalive(struct weir_flow *f, const struct weir_keepalive *ka)
{
	struct weir_flow_opts o;

	WEIR_EINVAL_IF(f == NULL || ka == NULL);
	o = f->opts;
	o.keepalive = *ka;
	WEIR_EINVAL_IF(!valid_opts(&o));
	if (f->closed || f->pcb == NULL)
		return WEIR_ECLOSED;
	f->opts.keepalive = *ka;
	apply_opts(f);
	return 0;
}

int weir_flow_set_user_timeout(struct weir_flow *f, uint32_t ms)
{
	WEIR_EINVAL_IF(f == NULL);
	if (f->closed || f->pcb == NULL)
		return WEIR_ECLOSED;
	f->opts.user_timeout_ms = ms;
	f->ut_since_ns = 0;
	set_poll_rate(f); /* checked every slow tick while it is on */
	return 0;
}

uint64_t weir_flow_id(const struct weir_flow *f)
{
	return f ? f->id : 0;
}

int weir_flow_src(const struct weir_flow *f, struct weir_ipaddr *ip, uint16_t *port)
{
	WEIR_EINVAL_IF(f == NULL || (ip == NULL && port == NULL));
	if (ip != NULL)
		*ip = f->lip;
	if (port != NULL)
		*port = f->lport;
	return 0;
}

int weir_flow_dst(const struct weir_flow *f, struct weir_ipaddr *ip, uint16_t *port)
{
	WEIR_EINVAL_IF(f == NULL || (ip == NULL && port == NULL));
	if (ip != NULL)
		*ip = f->rip;
	if (port != NULL)
		*port = f->rport;
	return 0;
}

enum weir_close_reason weir_flow_close_reason(const struct weir_flow *f)
{
	return f ? f->reason : WEIR_CLOSE_NONE;
}

int weir_flow_get_stats(const struct weir_flow *f, struct weir_flow_stats *out)
{
	const struct tcp_pcb *pcb;

	WEIR_EINVAL_IF(f == NULL || out == NULL);
	*out = f->st;
	pcb = f->pcb;
	if (pcb != NULL) {
		weir__flow_note_timing(out, pcb);
		out->cwnd = (uint32_t)pcb->cwnd;
		out->snd_wnd = (uint32_t)pcb->snd_wnd;
		out->rcv_wnd = (uint32_t)pcb->rcv_wnd;
		out->snd_queued = (uint32_t)(pcb->snd_lbb - pcb->lastack);
	}
	return 0;
}

void weir_tcp_get_stats(struct weir_tcp_stats *out)
{
	if (out == NULL)
		return;
	out->flows = live_flows;
	out->listeners = live_listeners;
	out->bufs_out = weir__bufs_out;
}
