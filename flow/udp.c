/* udp.c - UDP datagram sockets on lwIP's raw UDP API: open/close, send, a receive FIFO per socket.
 *
 * lwIP's receive callback only queues the datagram and wakes fibers; receivers run in fibers and
 * wait on the socket's event. A socket closed while fibers still wait in it stays allocated (but
 * inert) until the last of them has left, so weir_udp_close() never frees memory under a waiter.
 */
#include <stdlib.h>
#include <string.h>

#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/udp.h>

#include "buf_priv.h"
#include "weir_stack_lwip.h"

/* One received datagram: always a single pbuf (chains are copied into one on arrival). */
struct udp_dgram {
	struct pbuf *p;
	struct weir_ipaddr src;
	uint16_t sport;
	struct udp_dgram *next;
};

struct weir_udp {
	struct udp_pcb *pcb; /* NULL once closed */
	struct weir_stack *stack;
	uint16_t port;
	unsigned queue_max;
	struct udp_dgram *head, *tail;
	unsigned queued;
	unsigned users;		 /* fibers inside a receive call */
	unsigned closed : 1;	 /* weir_udp_close() was called */
	struct weir_event rx_ev; /* a datagram arrived, or the socket closed */
	struct weir_udp_stats st;
	struct weir_scope_item item;
};

static WEIR_PER_SHARD uint32_t live_sockets, live_queued;

static void queue_drop(struct weir_udp *u);
static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port);

/* The stack is closing (one per process: every pcb is its): the sockets, found through lwIP's own
 * list, lose their pcbs and queued datagrams; receivers wake with WEIR_ECLOSED, and so does every
 * later call (u->pcb is NULL). The user still closes each socket. */
static void on_stack_close(struct weir_stack *s)
{
	struct udp_pcb *pcb, *next;

	WEIR_UNUSED(s);
	for (pcb = udp_pcbs; pcb != NULL; pcb = next) {
		struct weir_udp *u = pcb->recv_arg;

		next = pcb->next;
		if (pcb->recv != on_recv)
			continue;
		udp_recv(pcb, NULL, NULL);
		udp_remove(pcb);
		u->pcb = NULL;
		queue_drop(u); /* they hold the device's receive buffers */
		weir_event_broadcast(&u->rx_ev);
	}
}

/* --- lwIP callback (main context: record and wake, never block) ------------------------------- */

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		    u16_t port)
{
	struct weir_udp *u = arg;
	struct udp_dgram *d;

	WEIR_UNUSED(pcb);
	if (u == NULL || u->closed) {
		pbuf_free(p);
		return;
	}
	if (u->queued >= u->queue_max) {
		u->st.dropped_queue_full++;
		pbuf_free(p);
		return;
	}
	/* A reassembled datagram arrives as a chain; receivers get one contiguous buffer. */
	if (p->next != NULL) {
		struct pbuf *q = pbuf_clone(PBUF_RAW, PBUF_RAM, p);

		pbuf_free(p);
		if (q == NULL) {
			u->st.dropped_nomem++;
			return;
		}
		p = q;
	}
	d = malloc(sizeof(*d));
	if (d == NULL) {
		u->st.dropped_nomem++;
		pbuf_free(p);
		return;
	}
	d->p = p;
	d->src.v4 = ip_2_ip4(addr)->addr;
	d->sport = port;
	d->next = NULL;
	if (u->tail != NULL)
		u->tail->next = d;
	else
		u->head = d;
	u->tail = d;
	u->queued++;
	live_queued++;
	u->st.datagrams_in++;
	u->st.bytes_in += p->tot_len;
	/* Broadcast, not signal: a woken receiver may be cancelled at the same time and must not
	 * swallow the wake-up another receiver needs. */
	weir_event_broadcast(&u->rx_ev);
}

/* --- lifecycle -------------------------------------------------------------------------------- */

static void queue_drop(struct weir_udp *u)
{
	while (u->head != NULL) {
		struct udp_dgram *d = u->head;

		u->head = d->next;
		pbuf_free(d->p);
		free(d);
		u->queued--;
		live_queued--;
	}
	u->tail = NULL;
}

static void udp_sock_free(struct weir_udp *u)
{
	live_sockets--;
	free(u);
}

static void scope_close(struct weir_scope_item *item)
{
	weir_udp_close(WEIR_CONTAINER_OF(item, struct weir_udp, item));
}

int weir_udp_open(struct weir_stack *stack, const struct weir_udp_opts *opts, struct weir_udp **out)
{
	static const struct weir_udp_opts defaults;
	struct weir_scope *scope;
	struct weir_udp *u;
	ip_addr_t lip;
	err_t e;
	int rc;

	WEIR_EINVAL_IF(out == NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	WEIR_EINVAL_IF(stack == NULL || opts->reuse_addr < 0 || opts->reuse_addr > 1 ||
		       opts->reuse_port < 0 || opts->reuse_port > 1);
	if ((opts->reuse_port && weir_stack_group(stack) == NULL) ||
	    (opts->reuse_addr && !SO_REUSE))
		return WEIR_ENOTSUP;
	scope = opts->scope ? opts->scope : weir_scope_current();
	WEIR_EINVAL_IF(scope == NULL);
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return WEIR_ENOMEM;
	u->stack = stack;
	u->queue_max = opts->queue_max ? opts->queue_max : WEIR_UDP_QUEUE_DEFAULT;
	weir_event_init(&u->rx_ev);
	u->pcb = udp_new_ip_type(IPADDR_TYPE_V4);
	if (u->pcb == NULL) {
		free(u);
		return WEIR_ENOMEM;
	}
	if (opts->reuse_addr)
		ip_set_option(u->pcb, SOF_REUSEADDR);
	ip_addr_set_ip4_u32(&lip, opts->local_ip.v4);
	e = udp_bind(u->pcb, &lip, opts->local_port);
	if (e != ERR_OK) {
		rc = weir__err_from_lwip(e);
		udp_remove(u->pcb);
		free(u);
		return rc;
	}
	u->port = u->pcb->local_port;
	u->item.close = scope_close;
	if (weir_scope_attach(scope, &u->item) < 0) {
		udp_remove(u->pcb);
		free(u);
		return WEIR_EINVAL;
	}
	udp_recv(u->pcb, on_recv, u);
	weir__stack_on_close(on_stack_close);
	live_sockets++;
	*out = u;
	return 0;
}

uint16_t weir_udp_port(const struct weir_udp *u)
{
	return u != NULL ? u->port : 0;
}

void weir_udp_close(struct weir_udp *u)
{
	if (u == NULL || u->closed)
		return;
	u->closed = 1;
	if (u->pcb != NULL) {
		udp_recv(u->pcb, NULL, NULL);
		udp_remove(u->pcb);
		u->pcb = NULL;
	}
	queue_drop(u);
	weir_scope_detach(&u->item);
	if (u->users == 0) {
		udp_sock_free(u);
		return;
	}
	/* The last receiver to leave frees it (see take()). */
	weir_event_broadcast(&u->rx_ev);
}

/* --- send ------------------------------------------------------------------------------------- */

int weir_udp_send_to(struct weir_udp *u, struct weir_ipaddr dst, uint16_t port, const void *data,
		     size_t len)
{
	struct pbuf *p;
	ip_addr_t ip;
	err_t e;

	WEIR_EINVAL_IF(u == NULL || (data == NULL && len > 0) || dst.v4 == 0 || port == 0);
	if (len > WEIR_UDP_MAX_PAYLOAD)
		return WEIR_EMSGSIZE;
	if (u->pcb == NULL)
		return WEIR_ECLOSED;
	p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
	if (p == NULL)
		return WEIR_ENOMEM;
	if (len > 0)
		memcpy(p->payload, data, len); /* PBUF_RAM: one contiguous piece */
	ip_addr_set_ip4_u32(&ip, dst.v4);
	e = udp_sendto(u->pcb, p, &ip, port);
	pbuf_free(p);
	if (e != ERR_OK)
		return weir__err_from_lwip(e);
	u->st.datagrams_out++;
	u->st.bytes_out += len;
	return 0;
}

/* --- receive ---------------------------------------------------------------------------------- */

/* Waits for the next datagram and unlinks it into *out (the caller owns it). Returns 0 or a
 * negative code. On WEIR_ECLOSED the socket may have been freed here (the last waiter frees a
 * closed socket), so callers never touch u after this returns. */
static int take(struct weir_udp *u, uint64_t timeout_ns, struct udp_dgram **out)
{
	uint64_t deadline =
		weir_deadline_after(weir_clock_now_ns(), timeout_ns, WEIR_TIMEOUT_NEVER);
	int rc;

	*out = NULL;
	u->users++;
	for (;;) {
		if (u->pcb == NULL) {
			rc = WEIR_ECLOSED;
			break;
		}
		if (u->head != NULL) {
			struct udp_dgram *d = u->head;

			u->head = d->next;
			if (u->head == NULL)
				u->tail = NULL;
			u->queued--;
			live_queued--;
			d->next = NULL;
			*out = d;
			rc = 0;
			break;
		}
		rc = weir_event_wait(&u->rx_ev, deadline);
		/* A timeout that races an arrival still takes the datagram. */
		if (rc == WEIR_ETIMEDOUT && u->head != NULL && !u->closed)
			continue;
		if (rc < 0)
			break;
	}
	u->users--;
	if (u->closed && u->users == 0)
		udp_sock_free(u);
	return rc;
}

static int recv_check(const struct weir_udp *u)
{
	WEIR_EINVAL_IF(u == NULL);
	WEIR_EINVAL_IF(weir_fiber_self() == NULL);
	if (u->pcb == NULL)
		return WEIR_ECLOSED;
	return 0;
}

static void fill_src(const struct udp_dgram *d, struct weir_ipaddr *src, uint16_t *sport)
{
	if (src != NULL)
		*src = d->src;
	if (sport != NULL)
		*sport = d->sport;
}

ssize_t weir_udp_recv_from(struct weir_udp *u, void *buf, size_t cap, struct weir_ipaddr *src,
			   uint16_t *sport, uint64_t timeout_ns)
{
	struct udp_dgram *d;
	size_t len;
	int rc;

	WEIR_EINVAL_IF(buf == NULL && cap > 0);
	rc = recv_check(u);
	if (rc < 0)
		return rc;
	rc = take(u, timeout_ns, &d);
	if (rc < 0)
		return rc;
	len = d->p->tot_len;
	if (len > 0 && cap > 0)
		memcpy(buf, d->p->payload, WEIR_MIN(len, cap));
	fill_src(d, src, sport);
	pbuf_free(d->p);
	free(d);
	return len > cap ? WEIR_EMSGSIZE : (ssize_t)len;
}

ssize_t weir_udp_recv(struct weir_udp *u, struct weir_buf *buf, struct weir_ipaddr *src,
		      uint16_t *sport, uint64_t timeout_ns)
{
	struct udp_dgram *d;
	int rc;

	WEIR_EINVAL_IF(buf == NULL);
	buf->data = NULL;
	buf->len = 0;
	buf->priv = NULL;
	rc = recv_check(u);
	if (rc < 0)
		return rc;
	rc = take(u, timeout_ns, &d);
	if (rc < 0)
		return rc;
	weir__buf_hand_out(buf, d->p); /* a single pbuf: len is the whole datagram */
	fill_src(d, src, sport);
	free(d);
	return (ssize_t)buf->len;
}

/* --- stats ------------------------------------------------------------------------------------ */

int weir_udp_get_stats(const struct weir_udp *u, struct weir_udp_stats *out)
{
	WEIR_EINVAL_IF(u == NULL || out == NULL);
	*out = u->st;
	return 0;
}

void weir_udp_count(uint32_t *sockets, uint32_t *queued)
{
	if (sockets != NULL)
		*sockets = live_sockets;
	if (queued != NULL)
		*queued = live_queued;
}
