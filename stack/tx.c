/* tx.c - the stack's transmit path: lwIP's frames are queued during a loop turn and leave in one
 * burst; consecutive segments of one TCP stream become one super-frame that the device cuts back
 * into the same segments (TSO), and the device finishes TCP checksums, where it offers to.
 *
 * lwIP keeps its own segments (MSS-sized, each on the unacked queue with its own sequence number),
 * so retransmission, partial ACKs, RTT timing, Nagle and the windows stay lwIP's, in MSS terms:
 * only the way they reach the device changes. A queued frame holds a reference on its pbuf until
 * the device took it; lwIP does not retransmit a segment whose pbuf is still referenced
 * (tcp_output_segment_busy), and a flush happens every loop turn (the stack does not let the
 * loop sleep while frames wait). */
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/tcp.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/csum.h>

#include "stack_priv.h"

#define ETH_HLEN_     14u
#define TCP_FLAGS_OFF 13u /* byte of the TCP header holding FIN SYN RST PSH ACK URG */
#define F_FIN	      0x01u
#define F_SYN	      0x02u
#define F_RST	      0x04u
#define F_PSH	      0x08u
#define F_ACK	      0x10u
#define F_URG	      0x20u
/* How long a device may take nothing before the queue is dropped (see weir__stack_tx_flush). */
#define TXQ_STUCK_NS (200 * WEIR_NS_PER_MS)
/* The largest IPv4 packet: a super-frame's IP total length must fit its 16-bit field. */
#define IP_TOTAL_MAX 65535u

/* What a TCP/IPv4 frame's headers say, when they lie contiguous in its first pbuf. */
struct tcp4 {
	uint8_t *ip, *th;
	unsigned ihl, thl;
	uint32_t seq, payload;
	uint8_t flags;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Returns 1 and fills *t when p is an unfragmented IPv4 TCP frame whose Ethernet, IPv4 and TCP
 * headers are all in its first pbuf (lwIP builds them so). */
static int parse_tcp4(struct pbuf *p, struct tcp4 *t)
{
	uint8_t *f = p->payload, *ip;
	unsigned tot;

	if (p->len < ETH_HLEN_ + 20 + 20 || f[12] != 0x08 || f[13] != 0x00)
		return 0;
	ip = f + ETH_HLEN_;
	t->ihl = (unsigned)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || t->ihl < 20 || ip[9] != 6 || (ip[6] & 0x3f) != 0 || ip[7] != 0)
		return 0; /* not IPv4 TCP, or a fragment (MF or an offset) */
	tot = be16(ip + 2);
	if (p->len < ETH_HLEN_ + t->ihl + 20)
		return 0;
	t->th = ip + t->ihl;
	t->thl = (unsigned)(t->th[12] >> 4) * 4;
	if (t->thl < 20 || p->len < ETH_HLEN_ + t->ihl + t->thl || tot < t->ihl + t->thl ||
	    p->tot_len < ETH_HLEN_ + tot)
		return 0;
	t->ip = ip;
	t->seq = be32(t->th + 4);
	t->payload = tot - t->ihl - t->thl;
	t->flags = t->th[TCP_FLAGS_OFF];
	return 1;
}

void weir__stack_tx_init(struct weir_stack *s, const struct weir_netdev_caps *caps)
{
	memset(&s->txq, 0, sizeof(s->txq));
	s->txq.csum_l4 = (caps->offloads & WEIR_OFFLOAD_TX_CSUM_L4) != 0;
	/* Super-frames leave their checksum to the device: TSO needs both. */
	s->txq.tso = s->txq.csum_l4 && (caps->offloads & WEIR_OFFLOAD_TX_TSO4) != 0;
}

/* Appends the pieces of p from byte off on to the queue's gather list. Returns the count, or -1
 * when the list is full. */
static int add_iovs(struct weir__txq *q, struct pbuf *p, unsigned off)
{
	unsigned n = 0;

	for (struct pbuf *r = p; r != NULL; r = r->next) {
		if (off >= r->len) {
			off -= r->len;
			continue;
		}
		if (q->niov + n == WEIR__TXQ_IOVS)
			return -1;
		q->iov[q->niov + n].base = (const uint8_t *)r->payload + off;
		q->iov[q->niov + n].len = r->len - off;
		off = 0;
		n++;
	}
	q->niov += n;
	return (int)n;
}

/* Walks the options of the TCP header th: returns 0 when they cannot be walked (a length byte
 * that lies), else 1 with *sack at the SACK option (RFC 2018) or NULL. */
static int tcp_options(const uint8_t *th, const uint8_t **sack)
{
	const uint8_t *o = th + 20, *end = th + (unsigned)(th[12] >> 4) * 4;

	*sack = NULL;
	while (o < end && *o != 0) {
		if (*o == 1) {
			o++; /* NOP */
			continue;
		}
		if (o + 1 >= end || o[1] < 2 || o[1] > end - o)
			return 0;
		if (*o == 5)
			*sack = o;
		o += o[1];
	}
	return 1;
}

/* What t is as an ACK: 0 anything else (data; SYN FIN RST URG; options we cannot walk), 1 an
 * ACK and nothing else, 2 an ACK and nothing else that carries SACK blocks. */
static int ack_kind(const struct tcp4 *t)
{
	const uint8_t *sack;

	if (t->payload != 0 || !(t->flags & F_ACK) || (t->flags & ~(F_ACK | F_PSH)) != 0 ||
	    !tcp_options(t->th, &sack))
		return 0;
	return sack != NULL ? 2 : 1;
}

/* The SACK blocks of the TCP header th, at most 4: fills b with left and right edges and
 * returns how many. */
static unsigned sack_blocks(const uint8_t *th, uint32_t (*b)[2])
{
	const uint8_t *o;
	unsigned n;

	if (!tcp_options(th, &o) || o == NULL)
		return 0;
	n = WEIR_MIN((unsigned)(o[1] - 2) / 8, 4u);
	for (unsigned i = 0; i < n; i++) {
		b[i][0] = be32(o + 2 + 8 * i);
		b[i][1] = be32(o + 6 + 8 * i);
	}
	return n;
}

/* Whether the ACK th2 reports everything the ACK th1 of the same stream did: every block of
 * th1 lies below th2's cumulative ACK or inside one of th2's blocks. */
static int sack_covered(const uint8_t *th1, const uint8_t *th2)
{
	uint32_t b1[4][2], b2[4][2], ack2 = be32(th2 + 8);
	unsigned n1 = sack_blocks(th1, b1), n2 = sack_blocks(th2, b2);

	for (unsigned i = 0; i < n1; i++) {
		int ok = (int32_t)(b1[i][1] - ack2) <= 0;

		for (unsigned j = 0; j < n2 && !ok; j++)
			ok = (int32_t)(b1[i][0] - b2[j][0]) >= 0 &&
			     (int32_t)(b2[j][1] - b1[i][1]) >= 0;
		if (!ok)
			return 0;
	}
	return 1;
}

/* An ACK with no news since an earlier one of the same stream in this burst makes that one
 * redundant, and only the later one is sent, in the earlier one's place:
 * - it acknowledges more, or the same with a larger window (a window update after a read);
 * - or SACK is in use on the connection (either carries blocks), it acknowledges at least as
 *   much and its blocks cover all of the earlier one's. A SACK sender counts SACKed segments,
 *   not duplicate ACKs (RFC 6675 §5; Linux's sacked_out), so it loses nothing; a receiver with
 *   GRO sends the same. The blocks are compared because an ACK holds only 3 or 4 of them, most
 *   recent first (RFC 2018 §4): when retransmissions fill holes and new data opens others in
 *   one burst, the last ACK no longer names some blocks the earlier ones did, and a sender
 *   never told of them resends that data (Linux resent twice what was lost at 2% loss).
 * Identical ACKs without SACK are never folded: a sender without SACK counts them. Returns 1
 * when t was folded. */
static int fold_ack(struct weir__txq *q, struct pbuf *p, const struct tcp4 *t, int kind)
{
	unsigned stop = q->n > 8 ? q->n - 8 : 0;

	if (p->next != NULL || p->len != p->tot_len)
		return 0;
	for (unsigned i = q->n; i-- > stop;) {
		struct weir__tx_entry *e = &q->e[i];
		int32_t dack;
		int sack = kind == 2 || e->pure_ack == 2;

		if (e->th == NULL || memcmp(e->ip + 12, t->ip + 12, 8) != 0 ||
		    memcmp(e->th, t->th, 4) != 0)
			continue; /* another stream */
		if (!e->pure_ack || e->npbufs != 1 || e->iovcnt != 1)
			return 0; /* the stream's last frame is not an ACK alone */
		dack = (int32_t)(be32(t->th + 8) - be32(e->th + 8));
		if (dack < 0 || (dack == 0 && !sack && be16(t->th + 14) <= be16(e->th + 14)))
			return 0;
		if (sack && !sack_covered(e->th, t->th))
			return 0;
		/* The entry takes the later frame (its length may differ: SACK blocks). */
		pbuf_ref(p);
		pbuf_free(q->held[e->pbuf_first]);
		q->held[e->pbuf_first] = p;
		q->iov[e->iov_first].base = p->payload;
		q->iov[e->iov_first].len = p->len;
		e->len = p->tot_len;
		e->ip = t->ip;
		e->th = t->th;
		e->l4_offset = (uint16_t)(ETH_HLEN_ + t->ihl);
		e->l4_hlen = (uint16_t)t->thl;
		e->pure_ack = (uint8_t)kind;
		return 1;
	}
	return 0;
}

/* Whether segment t may follow the queue's last frame inside one super-frame: the same stream,
 * the next bytes, the same ACK and window and header length, data with at most PSH beside ACK,
 * and the previous segments all full-sized. */
static int can_join(const struct weir__txq *q, const struct weir__tx_entry *e, const struct tcp4 *t)
{
	if (!q->tso || !e->tcp || t->payload == 0 || (t->flags & ~(F_ACK | F_PSH)) != 0 ||
	    (e->th[TCP_FLAGS_OFF] & (F_FIN | F_SYN | F_RST | F_URG)) != 0)
		return 0;
	if (t->seq != e->next_seq || t->thl != e->l4_hlen || t->payload > e->gso_size ||
	    e->last_payload != e->gso_size || e->segs == 255)
		return 0;
	if (e->len - ETH_HLEN_ + t->payload > IP_TOTAL_MAX)
		return 0;
	/* Addresses, ports, ACK number and window. */
	return memcmp(e->ip + 12, t->ip + 12, 8) == 0 && memcmp(e->th, t->th, 4) == 0 &&
	       memcmp(e->th + 8, t->th + 8, 4) == 0 && memcmp(e->th + 14, t->th + 14, 2) == 0;
}

err_t weir__stack_tx_queue(struct netif *netif, struct pbuf *p)
{
	struct weir_stack *s = netif->state;
	struct weir__txq *q = &s->txq;
	struct weir__tx_entry *e;
	struct tcp4 t;
	int is_tcp, kind, n;

	if (p->tot_len > (u32_t)s->mtu + WEIR_ETH_HLEN) {
		s->st.drop_tx_oversize++;
		return ERR_IF;
	}
	if (pbuf_clen(p) > WEIR__TXQ_IOVS) {
		/* More pieces than a burst's gather list holds (many small writes gathered into
		 * one segment): the frame goes as one copy. Refusing it would leave lwIP resending
		 * a segment that never leaves, and the connection stuck for good. */
		struct pbuf *c = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
		err_t rc;

		if (c == NULL) {
			s->st.drop_tx_chain++;
			return ERR_MEM;
		}
		rc = weir__stack_tx_queue(netif, c);
		pbuf_free(c); /* the queue holds its own reference */
		return rc;
	}
	is_tcp = parse_tcp4(p, &t);
	kind = is_tcp ? ack_kind(&t) : 0;
	if (kind != 0 && q->batch > 0 && fold_ack(q, p, &t, kind)) {
		s->st.tx_acks_folded++;
		return ERR_OK;
	}
	if (is_tcp && q->n > 0 && can_join(q, &q->e[q->n - 1], &t) && q->nheld < WEIR__TXQ_PBUFS) {
		e = &q->e[q->n - 1];
		/* Only the payload: the device repeats the first segment's headers. */
		n = add_iovs(q, p, ETH_HLEN_ + t.ihl + t.thl);
		if (n >= 0) {
			pbuf_ref(p);
			q->held[q->nheld++] = p;
			e->iovcnt += (unsigned)n;
			e->npbufs++;
			e->len += t.payload;
			e->next_seq += t.payload;
			e->last_payload = (uint16_t)t.payload;
			e->segs++;
			if (t.flags & F_PSH)
				e->th[TCP_FLAGS_OFF] |=
					F_PSH; /* the device puts it on the last segment */
			return ERR_OK;
		}
	}
	if (q->n == WEIR__TXQ_FRAMES || q->nheld == WEIR__TXQ_PBUFS ||
	    q->niov + pbuf_clen(p) > WEIR__TXQ_IOVS)
		weir__stack_tx_flush(s);
	if (q->n == WEIR__TXQ_FRAMES || q->nheld == WEIR__TXQ_PBUFS ||
	    q->niov + pbuf_clen(p) > WEIR__TXQ_IOVS) {
		/* The device takes nothing: TCP keeps the segment and tries again later. */
		s->st.drop_tx_full++;
		return ERR_MEM;
	}
	e = &q->e[q->n];
	memset(e, 0, sizeof(*e));
	e->iov_first = q->niov;
	e->pbuf_first = q->nheld;
	n = add_iovs(q, p, 0);
	e->iovcnt = (unsigned)n;
	pbuf_ref(p);
	q->held[q->nheld++] = p;
	e->npbufs = 1;
	e->len = p->tot_len;
	e->segs = 1;
	if (is_tcp) {
		e->ip = t.ip;
		e->th = t.th;
		e->l4_offset = (uint16_t)(ETH_HLEN_ + t.ihl);
		e->l4_hlen = (uint16_t)t.thl;
		e->tcp = t.payload > 0;
		e->pure_ack = (uint8_t)kind;
		e->gso_size = e->last_payload = (uint16_t)t.payload;
		e->next_seq = t.seq + t.payload;
	}
	q->n++;
	/* Outside a burst (a ping, a datagram, the gratuitous ARP at open) a frame leaves now. */
	if (q->batch == 0)
		weir__stack_tx_flush(s);
	return ERR_OK;
}

/* The pseudo-header sum of a TCP segment of tcp_len bytes (RFC 793 §3.1), folded, not inverted,
 * in the byte order of the data: what a device finishing the checksum expects in the field. */
static uint16_t pseudo_sum(const uint8_t *ip, unsigned tcp_len)
{
	uint8_t ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	put_be16(ph + 10, (uint16_t)tcp_len);
	return weir_csum(ph, sizeof(ph));
}

/* Makes e's headers say what goes to the device: a super-frame's IPv4 total length and header
 * checksum, and, where the device finishes TCP checksums, the pseudo-header sum in the field. */
static void finish(struct weir_stack *s, struct weir__tx_entry *e, struct weir_tx_frame *tf)
{
	struct weir__txq *q = &s->txq;
	unsigned ihl;

	tf->iov = &q->iov[e->iov_first];
	tf->iovcnt = e->iovcnt;
	tf->len = e->len;
	tf->flags = 0;
	tf->l4_offset = tf->l4_hlen = tf->gso_size = 0;
	if (e->th == NULL || !q->csum_l4)
		return; /* not TCP, or lwIP summed it */
	ihl = (unsigned)(e->ip[0] & 0x0f) * 4;
	if (e->segs > 1) {
		uint16_t sum;

		put_be16(e->ip + 2, (uint16_t)(e->len - ETH_HLEN_));
		e->ip[10] = e->ip[11] = 0;
		sum = (uint16_t)~weir_csum(e->ip, ihl);
		memcpy(e->ip + 10, &sum, 2);
		tf->flags |= WEIR_TX_TSO4;
		tf->gso_size = e->gso_size;
		tf->l4_hlen = e->l4_hlen;
		s->st.tx_super++;
	}
	{
		uint16_t ps = pseudo_sum(e->ip, e->len - ETH_HLEN_ - ihl);

		memcpy(e->th + 16, &ps, 2);
	}
	tf->flags |= WEIR_TX_L4_CSUM;
	tf->l4_offset = e->l4_offset;
	tf->l4_hlen = e->l4_hlen;
}

static void release(struct weir__txq *q, unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++)
		pbuf_free(q->held[i]);
}

int weir__stack_tx_flush(struct weir_stack *s)
{
	struct weir__txq *q = &s->txq;
	unsigned taken, keep_iov, keep_held;
	int n;

	if (q->n == 0)
		return 0;
	for (unsigned i = 0; i < q->n; i++)
		finish(s, &q->e[i], &q->tf[i]);
	n = weir_netdev_tx_burst(s->dev, q->tf, (int)q->n);
	if (n < 0) {
		/* A device error (the link's peer is gone) loses the frames like a cut cable: TCP's
		 * retransmission, keepalive and user timeout then see what they would on a wire. */
		s->st.drop_tx_error += q->n;
		weir__stack_tx_discard(s);
		return 0;
	}
	taken = (unsigned)n;
	if (taken == 0) {
		/* A device that takes nothing for long is not just full: a driver may refuse a
		 * frame for good while saying nothing (DPDK's convention has no error return).
		 * After TXQ_STUCK_NS the queue is dropped like frames on a cut cable, so the loop
		 * does not spin on it forever; TCP sends again. */
		uint64_t now = weir_clock_now_ns();

		if (q->stuck_since_ns == 0) {
			q->stuck_since_ns = now;
		} else if (now - q->stuck_since_ns > TXQ_STUCK_NS) {
			s->st.drop_tx_error += q->n;
			weir__stack_tx_discard(s);
			return 0;
		}
	} else {
		q->stuck_since_ns = 0;
	}
	for (unsigned i = 0; i < taken; i++) {
		s->st.tx_frames++;
		s->st.tx_bytes += q->e[i].len;
		s->st.tx_segments += q->e[i].segs;
	}
	if (taken < q->n)
		s->st.drop_tx_full++; /* counted once per flush that left frames waiting */
	release(q, 0, taken == q->n ? q->nheld : q->e[taken].pbuf_first);
	if (taken == q->n) {
		q->n = q->niov = q->nheld = 0;
		return n;
	}
	/* What the device did not take waits for the next flush: move it to the front. A frame's
	 * headers are its pbuf's memory, so its pointers stay valid. */
	keep_iov = q->e[taken].iov_first;
	keep_held = q->e[taken].pbuf_first;
	memmove(q->iov, q->iov + keep_iov, (q->niov - keep_iov) * sizeof(q->iov[0]));
	memmove(q->held, q->held + keep_held, (q->nheld - keep_held) * sizeof(q->held[0]));
	memmove(q->e, q->e + taken, (q->n - taken) * sizeof(q->e[0]));
	q->n -= taken;
	q->niov -= keep_iov;
	q->nheld -= keep_held;
	for (unsigned i = 0; i < q->n; i++) {
		q->e[i].iov_first -= keep_iov;
		q->e[i].pbuf_first -= keep_held;
	}
	return n;
}

void weir__stack_tx_batch_begin(struct weir_stack *s)
{
	s->txq.batch++;
}

void weir__stack_tx_batch_end(struct weir_stack *s)
{
	WEIR_BUG_ON(s->txq.batch == 0);
	if (--s->txq.batch == 0)
		weir__stack_tx_flush(s);
}

int weir__stack_tx_pending(const struct weir_stack *s)
{
	return s->txq.n > 0;
}

void weir__stack_tx_discard(struct weir_stack *s)
{
	release(&s->txq, 0, s->txq.nheld);
	s->txq.n = s->txq.niov = s->txq.nheld = 0;
	s->txq.stuck_since_ns = 0;
}
