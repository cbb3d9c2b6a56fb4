/* link.c - the link driver: one end of a SOCK_SEQPACKET socketpair, with seeded impairments. */
#define _GNU_SOURCE /* recvmmsg() and sendmmsg() */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "link"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/link.h>

#include <weir/log.h>
#include <weir/netdev.h>

#include "netdev_priv.h"

#define LINK_DEFAULT_MTU 1500
/* RFC 791: every internet module must be able to forward a 68-octet datagram. */
#define LINK_MIN_MTU	       68
#define LINK_DEFAULT_RX_FRAMES 256
/* Socket buffers large enough that a burst rarely meets EAGAIN; the kernel caps them at
 * net.core.wmem_max, which is fine. */
#define LINK_SOCKBUF (4 * 1024 * 1024)
/* A frame is the Ethernet header, the IP packet and room for one 802.1Q tag. */
#define LINK_FRAME_OVERHEAD (WEIR_ETH_HLEN + 4)
#define LINK_BUF_ALIGN	    64
/* Frames planned and sent with one sendmmsg(). Each frame becomes at most four datagrams (two
 * copies of itself, two copies of a held frame released after it). */
#define LINK_TX_CHUNK  32
#define LINK_TX_DGRAMS (LINK_TX_CHUNK * 4)
/* Linux's UIO_MAXIOV is 1024 and a frame may need one more entry for its padding. */
#define LINK_TX_MAX_IOV 1023
/* Gather entries for one chunk: a frame uses at most iovcnt + 2 (padding, held frame), and an
 * empty chunk must always fit the largest frame. */
#define LINK_TX_IOVS (2 * (LINK_TX_MAX_IOV + 2))
/* Scratch copies for one chunk (one per frame) plus the frame held across chunks. */
#define LINK_TX_SLOTS (LINK_TX_CHUNK + 1)
/* Datagrams a partly sent frame can leave owed: its second copy and two copies of a held frame. */
#define LINK_BACKLOG 3
/* A frame held for reordering is released by poll() after this long even if no frame follows. */
#define LINK_HOLD_NS WEIR_NS_PER_MS

/* A frame held back for reordering, in a scratch slot. slot < 0: nothing is held. */
struct link_held {
	int slot;
	unsigned copies;
	uint64_t since_ns;
};

/* A frame delayed by the delay impairment; the queue is in deadline order because every frame
 * gets the same delay_ns and the clock never goes backwards. */
struct link_delayed {
	struct link_delayed *next;
	uint64_t due_ns;
	unsigned copies;
	size_t len;
	uint8_t data[];
};

/* A scratch copy of a frame (corrupted, or held for reordering). */
struct link_slot {
	uint8_t *buf;
	size_t len;
};

/* What tx_burst decided for one frame of a chunk, kept until the socket has said how much of the
 * chunk it took, so that frames it did not take can be rolled back. */
struct link_txplan {
	struct weir_prng rng;  /* generator before this frame's draws */
	struct link_held held; /* held frame before this frame */
	bool lost, corrupt, dup, reorder, delay;
	struct iovec *iov; /* the datagram this frame becomes (padded, maybe corrupted) */
	int iovcnt;
	size_t len;
	int slot;	      /* scratch slot holding the datagram, or -1 */
	int p_first, p_count; /* this frame's datagrams in the chunk */
	int h_first, h_count; /* the held frame's datagrams released by this frame */
};

struct link_dev {
	struct weir_netdev netdev; /* first: the stack sees only this */
	int fd;
	uint16_t queue, nqueues; /* weir_link_open_queues: this object's pair, and how many */
	char *name;
	uint8_t mac[WEIR_ETH_ALEN];
	uint16_t mtu;
	size_t frame_max; /* longest frame carried: mtu + LINK_FRAME_OVERHEAD */
	size_t buf_size;  /* frame_max rounded up to LINK_BUF_ALIGN */
	struct weir_link_impair imp;
	struct weir_prng rng;
	struct weir_link_stats imp_st; /* impairment decisions (weir_link_get_stats) */
	uint32_t rx_trust; /* WEIR_FRAME_L4_CSUM_OK when nothing on this link corrupts */
	int impaired;	   /* some rate is above 0: frames draw their decisions */

	/* Receive: rx_count buffers, each behind one struct weir_frame; a stack of free ones. */
	unsigned rx_count;
	uint8_t *rx_mem;
	struct weir_frame *rx_frames;
	uint8_t *rx_out; /* 1 while the stack holds the frame */
	unsigned *rx_free;
	unsigned rx_nfree;
	unsigned *rx_batch;
	struct mmsghdr *rx_msgs;
	struct iovec *rx_iov;
	bool rx_hangup_logged;
	unsigned errors_logged; /* device errors are logged once, then only counted */

	/* Impairment state; the slots and the backlog exist only if an impairment needs them. */
	uint8_t *slot_mem;
	struct link_slot slots[LINK_TX_SLOTS];
	struct link_held held;
	struct link_delayed *delay_head, *delay_tail;
	uint8_t *backlog_buf[LINK_BACKLOG];
	size_t backlog_len[LINK_BACKLOG];
	unsigned backlog_head, backlog_count;
	uint64_t backlog_ns;

	/* One chunk's plan and its datagrams. */
	struct link_txplan plan[LINK_TX_CHUNK];
	struct mmsghdr tx_msgs[LINK_TX_DGRAMS];
	size_t tx_len[LINK_TX_DGRAMS];
	struct iovec tx_iov[LINK_TX_IOVS];

	struct weir_netdev_stats stats;
};

_Static_assert(offsetof(struct link_dev, netdev) == 0, "the netdev must come first");

/* Padding for short frames; only ever read (sendmsg wants a non-const pointer). */
static uint8_t link_zero_pad[WEIR_ETH_MIN_FRAME];

static inline struct link_dev *link_of(struct weir_netdev *netdev)
{
	return (struct link_dev *)netdev;
}

static inline const struct link_dev *link_of_const(const struct weir_netdev *netdev)
{
	return (const struct link_dev *)netdev;
}

static bool link_errno_full(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS;
}

static size_t link_gather(uint8_t *dst, const struct iovec *iov, int iovcnt)
{
	size_t off = 0;

	for (int i = 0; i < iovcnt; i++) {
		/* memcpy() from NULL is undefined even for zero bytes. */
		if (iov[i].iov_len > 0)
			memcpy(dst + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	return off;
}

/* --- receive ---------------------------------------------------------------------------------- */

/* Reports whether a datagram waits in the socket, without taking it. */
static bool link_rx_pending(const struct link_dev *l)
{
	uint8_t byte;

	return recv(l->fd, &byte, sizeof(byte), MSG_PEEK | MSG_DONTWAIT) >= 0;
}

/* A SOCK_SEQPACKET socket whose peer has closed reads as an endless run of empty datagrams, which
 * look like zero-length frames; POLLHUP tells the two apart. */
static bool link_peer_gone(const struct link_dev *l)
{
	struct pollfd pfd = { .fd = l->fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

static int link_rx_burst(struct weir_netdev *netdev, struct weir_frame **frames, int n)
{
	struct link_dev *l = link_of(netdev);
	unsigned want, m, eof_from, got = 0;
	int r;

	WEIR_EINVAL_IF(netdev == NULL || frames == NULL || n < 0);
	if (n == 0)
		return 0;
	if (l->rx_nfree == 0) {
		/* Every buffer is with the stack: leave the frames queued in the socket until some
		 * come back. Peek so that the counter counts only when a frame really waits. */
		if (link_rx_pending(l))
			l->stats.rx_nobuf++;
		return 0;
	}

	want = WEIR_MIN((unsigned)n, l->rx_nfree);
	for (unsigned i = 0; i < want; i++) {
		unsigned idx = l->rx_free[l->rx_nfree - 1 - i];

		l->rx_batch[i] = idx;
		l->rx_iov[i].iov_base = l->rx_mem + (size_t)idx * l->buf_size;
		l->rx_iov[i].iov_len = l->buf_size;
		l->rx_msgs[i].msg_hdr.msg_flags = 0;
		l->rx_msgs[i].msg_len = 0;
	}

	do {
		r = recvmmsg(l->fd, l->rx_msgs, want, MSG_DONTWAIT, NULL);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (link_errno_full(errno))
			return 0;
		l->stats.rx_errors++;
		if (l->errors_logged++ == 0)
			weir_log_error("%s: recvmmsg: %s (further errors only counted)", l->name,
				       strerror(errno));
		return WEIR_EIO;
	}

	m = (unsigned)r;
	eof_from = m;
	if (m > 0 && l->rx_msgs[m - 1].msg_len == 0 && link_peer_gone(l)) {
		while (eof_from > 0 && l->rx_msgs[eof_from - 1].msg_len == 0)
			eof_from--;
	}

	/* The m buffers used are taken off the free stack; dropped ones go straight back. */
	l->rx_nfree -= m;
	for (unsigned i = 0; i < m; i++) {
		unsigned idx = l->rx_batch[i];
		uint32_t len = l->rx_msgs[i].msg_len;
		struct weir_frame *f = &l->rx_frames[idx];

		if (i >= eof_from) {
			l->rx_free[l->rx_nfree++] = idx;
		} else if ((l->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) || len > l->frame_max) {
			l->stats.rx_oversize++;
			l->rx_free[l->rx_nfree++] = idx;
		} else if ((len = weir__netdev_rx_len(l->rx_mem + (size_t)idx * l->buf_size, len,
						      &l->stats)) == 0) {
			l->rx_free[l->rx_nfree++] = idx;
		} else {
			f->data = l->rx_mem + (size_t)idx * l->buf_size;
			f->len = len;
			f->cap = (uint32_t)l->buf_size;
			f->flags = l->rx_trust;
			l->rx_out[idx] = 1;
			l->stats.rx_frames++;
			l->stats.rx_bytes += len;
			frames[got++] = f;
		}
	}

	if (eof_from < m) {
		if (!l->rx_hangup_logged) {
			weir_log_warn("%s: the peer closed the link", l->name);
			l->rx_hangup_logged = true;
		}
		if (got == 0) {
			l->stats.rx_errors++;
			return WEIR_EIO;
		}
	}
	return (int)got;
}

static void link_release(struct weir_netdev *netdev, struct weir_frame *frame)
{
	struct link_dev *l = link_of(netdev);
	uintptr_t base = (uintptr_t)l->rx_frames, p = (uintptr_t)frame;
	size_t idx;

	WEIR_BUG_ON(frame == NULL);
	WEIR_BUG_ON(p < base || (p - base) % sizeof(*frame) != 0);
	idx = (p - base) / sizeof(*frame);
	WEIR_BUG_ON(idx >= l->rx_count);
	/* A second release would put the buffer on the free stack twice. */
	WEIR_BUG_ON(!l->rx_out[idx]);
	l->rx_out[idx] = 0;
	l->rx_free[l->rx_nfree++] = (unsigned)idx;
}

/* --- transmit: owed datagrams ----------------------------------------------------------------- */

/* Queues a copy of a datagram that must go out before anything else this end sends, because a
 * frame it belongs to was already (partly) written when the socket filled up. Keeping the wire
 * order this way means backpressure never changes what the peer sees. */
static void link_owe(struct link_dev *l, const struct iovec *iov, int iovcnt, uint64_t now)
{
	unsigned pos;

	WEIR_BUG_ON(l->backlog_count >= LINK_BACKLOG);
	pos = (l->backlog_head + l->backlog_count) % LINK_BACKLOG;
	l->backlog_len[pos] = link_gather(l->backlog_buf[pos], iov, iovcnt);
	if (l->backlog_count++ == 0)
		l->backlog_ns = now;
}

/* Sends one driver-owned datagram. Returns 0, WEIR_EAGAIN (socket full) or WEIR_EIO. */
static int link_send_one(struct link_dev *l, const void *buf, size_t len)
{
	ssize_t r;

	do {
		r = send(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (link_errno_full(errno)) {
			l->stats.tx_full++;
			return WEIR_EAGAIN;
		}
		l->stats.tx_errors++;
		if (l->errors_logged++ == 0)
			weir_log_error("%s: send: %s (further errors only counted)", l->name,
				       strerror(errno));
		return WEIR_EIO;
	}
	l->stats.tx_frames++;
	l->stats.tx_bytes += len;
	return 0;
}

/* Sends the owed datagrams. Returns how many were written, or WEIR_EAGAIN if some are still owed.
 * A datagram the socket refuses for good is dropped (and counted in tx_errors). */
static int link_backlog_flush(struct link_dev *l)
{
	int sent = 0;

	while (l->backlog_count > 0) {
		unsigned pos = l->backlog_head;
		int r = link_send_one(l, l->backlog_buf[pos], l->backlog_len[pos]);

		if (r == WEIR_EAGAIN)
			return WEIR_EAGAIN;
		if (r == 0)
			sent++;
		l->backlog_head = (pos + 1) % LINK_BACKLOG;
		l->backlog_count--;
	}
	return sent;
}

/* Releases the held frame from poll(). Copies the socket does not take are owed. */
static int link_held_flush(struct link_dev *l, uint64_t now)
{
	struct link_slot *s = &l->slots[l->held.slot];
	struct iovec iov = { .iov_base = s->buf, .iov_len = s->len };
	int sent = 0;

	while (l->held.copies > 0) {
		int r = l->backlog_count > 0 ? WEIR_EAGAIN : link_send_one(l, s->buf, s->len);

		if (r == WEIR_EAGAIN)
			link_owe(l, &iov, 1, now);
		else if (r == 0)
			sent++;
		l->held.copies--;
	}
	l->held.slot = -1;
	return sent;
}

/* --- transmit: planning and committing one chunk ---------------------------------------------- */

/* Draws this frame's decisions. Every draw happens for every frame, in the order loss, corrupt,
 * duplicate, reorder, delay (one weir_prng_unit() each), then one weir_prng_next() that picks the
 * corrupted byte and its flip mask, whatever the rates are: the decisions then depend only on the
 * seed and the number of frames taken. A link whose rates are all 0 (fixed at open) draws
 * nothing: no decision of it is random. */
static void link_decide(struct link_dev *l, struct link_txplan *p, uint64_t *corrupt_word)
{
	const struct weir_link_impair *imp = &l->imp;
	double u;

	if (!l->impaired) {
		p->lost = p->corrupt = p->dup = p->reorder = p->delay = 0;
		*corrupt_word = 0;
		return;
	}

	u = weir_prng_unit(&l->rng);
	p->lost = u < imp->loss;
	u = weir_prng_unit(&l->rng);
	p->corrupt = u < imp->corrupt;
	u = weir_prng_unit(&l->rng);
	p->dup = u < imp->duplicate;
	u = weir_prng_unit(&l->rng);
	p->reorder = u < imp->reorder;
	u = weir_prng_unit(&l->rng);
	p->delay = u < imp->delay;
	*corrupt_word = weir_prng_next(&l->rng);
}

static int link_slot_alloc(struct link_dev *l, int *next)
{
	/* The frame held when the chunk started keeps its slot; every other slot is free. */
	while (*next == l->held.slot)
		(*next)++;
	WEIR_BUG_ON(*next >= LINK_TX_SLOTS || l->slot_mem == NULL);
	return (*next)++;
}

static void link_emit(struct link_dev *l, int *ndg, struct iovec *iov, int iovcnt, size_t len);

/* Queues the held frame's copies as p's "released held frame" datagrams (h_first/h_count). */
static void link_emit_held(struct link_dev *l, const struct link_held *held, struct link_txplan *p,
			   int *ndg, int *niov)
{
	struct link_slot *hs = &l->slots[held->slot];

	l->tx_iov[*niov].iov_base = hs->buf;
	l->tx_iov[*niov].iov_len = hs->len;
	p->h_first = *ndg;
	p->h_count = (int)held->copies;
	for (unsigned c = 0; c < held->copies; c++)
		link_emit(l, ndg, &l->tx_iov[*niov], 1, hs->len);
	(*niov)++;
}

static void link_emit(struct link_dev *l, int *ndg, struct iovec *iov, int iovcnt, size_t len)
{
	struct mmsghdr *m;

	WEIR_BUG_ON(*ndg >= LINK_TX_DGRAMS);
	m = &l->tx_msgs[*ndg];
	memset(m, 0, sizeof(*m));
	m->msg_hdr.msg_iov = iov;
	m->msg_hdr.msg_iovlen = (size_t)iovcnt;
	l->tx_len[*ndg] = len;
	(*ndg)++;
}

/* Queues a copy of a delayed frame. A failed allocation loses the frame (counted in tx_errors):
 * it was taken, and a lossy test link may lose it. */
static void link_delay_push(struct link_dev *l, const struct link_txplan *p, uint64_t now)
{
	struct link_delayed *d = malloc(sizeof(*d) + p->len);

	if (d == NULL) {
		l->stats.tx_errors++;
		weir_log_warn("%s: out of memory for a delayed frame; dropped", l->name);
		return;
	}
	d->next = NULL;
	/* Saturate: a delay too long to represent is a delay that never ends. */
	d->due_ns = l->imp.delay_ns < WEIR_DEADLINE_NEVER - now ? now + l->imp.delay_ns
								: WEIR_DEADLINE_NEVER - 1;
	d->copies = p->dup ? 2 : 1;
	d->len = link_gather(d->data, p->iov, p->iovcnt);
	if (l->delay_tail != NULL)
		l->delay_tail->next = d;
	else
		l->delay_head = d;
	l->delay_tail = d;
}

/* How the impairments combine, per frame, after link_decide():
 * - a lost frame is gone (imp_dropped) and nothing else happens to it;
 * - a corrupted frame is a copy with one byte flipped (never the caller's memory);
 * - a duplicated frame goes out twice in a row, wherever it goes;
 * - a reordered frame is held (one slot; a frame already held goes out first) and goes out right
 *   after the next frame written to the socket, by tx_burst or by poll(), or by poll() once it
 *   has waited LINK_HOLD_NS; a held frame is not also delayed;
 * - a delayed frame is copied to the delay queue and sent by poll() when due.
 * The imp_* counters count these decisions for frames taken. Frames the socket did not take are
 * rolled back (generator, held slot) so that the caller's retry sees the same decisions. */

/* One chunk of a burst as link_tx_chunk's phases pass it on. */
struct link_chunk {
	struct link_held held; /* the frame held for reordering, as the plan goes */
	int nplan;	       /* frames planned (l->plan[0..nplan)) */
	int ndg, niov;	       /* datagrams and gather entries laid out */
	int next_slot;	       /* scratch slots used */
};

/* Plans up to LINK_TX_CHUNK frames: decides each frame's impairments and lays out the datagrams
 * it turns into (l->tx_msgs, l->tx_iov), without sending anything. */
static void link_tx_plan(struct link_dev *l, const struct weir_tx_frame *frames, int n,
			 uint64_t now, struct link_chunk *c)
{
	for (; c->nplan < n && c->nplan < LINK_TX_CHUNK; c->nplan++) {
		const struct weir_tx_frame *f = &frames[c->nplan];
		struct link_txplan *p = &l->plan[c->nplan];
		size_t padded = WEIR_MAX(f->len, (size_t)WEIR_ETH_MIN_FRAME);
		unsigned copies;
		uint64_t word;

		if (c->niov + (int)f->iovcnt + 2 > LINK_TX_IOVS)
			break;
		p->rng = l->rng;
		p->held = c->held;
		p->p_count = p->h_count = 0;
		p->p_first = p->h_first = 0;
		p->slot = -1;
		link_decide(l, p, &word);
		if (p->lost)
			continue;

		p->iov = &l->tx_iov[c->niov];
		p->len = padded;
		if (p->corrupt && f->len > 0) {
			/* Never touch the caller's memory: corrupt a copy. */
			int s = link_slot_alloc(l, &c->next_slot);
			uint8_t *buf = l->slots[s].buf;
			size_t off = 0;

			for (unsigned k = 0; k < f->iovcnt; k++) {
				if (f->iov[k].len > 0)
					memcpy(buf + off, f->iov[k].base, f->iov[k].len);
				off += f->iov[k].len;
			}
			memset(buf + off, 0, padded - off);
			/* A non-zero mask, so the byte always changes. */
			buf[word % f->len] ^= (uint8_t)(1 + (word >> 32) % 255);
			l->slots[s].len = padded;
			p->slot = s;
			l->tx_iov[c->niov].iov_base = buf;
			l->tx_iov[c->niov].iov_len = padded;
			c->niov++;
			p->iovcnt = 1;
		} else {
			p->corrupt = false;
			/* The casts drop const for struct iovec only: sendmsg never writes. */
			for (unsigned k = 0; k < f->iovcnt; k++) {
				l->tx_iov[c->niov].iov_base = (void *)(uintptr_t)f->iov[k].base;
				l->tx_iov[c->niov].iov_len = f->iov[k].len;
				c->niov++;
			}
			if (padded > f->len) {
				/* Short frames are padded to the Ethernet minimum as a NIC
				 * would; the peer drops runts (lwIP's ARP frames are 42
				 * bytes). */
				l->tx_iov[c->niov].iov_base = link_zero_pad;
				l->tx_iov[c->niov].iov_len = padded - f->len;
				c->niov++;
			}
			p->iovcnt = (int)(&l->tx_iov[c->niov] - p->iov);
		}

		copies = p->dup ? 2 : 1;
		if (p->reorder) {
			int s;

			/* Only one frame is held: an earlier one goes out first. */
			if (c->held.slot >= 0) {
				link_emit_held(l, &c->held, p, &c->ndg, &c->niov);
			}
			if (p->slot >= 0) {
				s = p->slot;
			} else {
				s = link_slot_alloc(l, &c->next_slot);
				l->slots[s].len = link_gather(l->slots[s].buf, p->iov, p->iovcnt);
			}
			c->held.slot = s;
			c->held.copies = copies;
			c->held.since_ns = now;
		} else if (!p->delay) {
			p->p_first = c->ndg;
			p->p_count = (int)copies;
			for (unsigned k = 0; k < copies; k++)
				link_emit(l, &c->ndg, p->iov, p->iovcnt, p->len);
			if (c->held.slot >= 0) {
				link_emit_held(l, &c->held, p, &c->ndg, &c->niov);
				c->held.slot = -1;
			}
		}
		/* else: delayed; copied to the delay queue once the frame is known to be taken. */
	}
}

/* Sends the chunk's datagrams; returns how many the socket took and sets *err to 0, WEIR_EAGAIN
 * (the socket filled up) or WEIR_EIO. */
static int link_tx_send(struct link_dev *l, const struct link_chunk *c, int *err)
{
	int sent = 0;

	*err = 0;
	while (sent < c->ndg) {
		int r = sendmmsg(l->fd, l->tx_msgs + sent, (unsigned)(c->ndg - sent),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (link_errno_full(errno)) {
				l->stats.tx_full++;
				*err = WEIR_EAGAIN;
			} else {
				l->stats.tx_errors++;
				if (l->errors_logged++ == 0)
					weir_log_error(
						"%s: sendmmsg: %s (further errors only counted)",
						l->name, strerror(errno));
				*err = WEIR_EIO;
			}
			break;
		}
		sent += r;
	}
	for (int d = 0; d < sent; d++) {
		l->stats.tx_frames++;
		l->stats.tx_bytes += l->tx_len[d];
	}
	return sent;
}

/* Commits the frames the socket took, in order, and rolls back the rest. Returns how many frames
 * were taken. */
static int link_tx_commit(struct link_dev *l, const struct link_chunk *c, int sent, uint64_t now)
{
	struct link_held final;
	int taken;

	/* A frame whose first own datagram went out is taken, and whatever else it had to send is
	 * owed. */
	final = c->held;
	taken = c->nplan;
	for (int i = 0; i < c->nplan; i++) {
		struct link_txplan *p = &l->plan[i];

		if (p->lost) {
			l->imp_st.imp_dropped++;
			continue;
		}
		if (p->reorder && p->h_count > 0 && sent < p->h_first + p->h_count) {
			/* The earlier held frame did not go out whole: this one was not taken. */
			final = p->held;
			final.copies -= (unsigned)WEIR_MAX(sent - p->h_first, 0);
			taken = i;
			break;
		}
		if (p->p_count > 0 && sent <= p->p_first) {
			final = p->held;
			taken = i;
			break;
		}
		if (p->corrupt)
			l->imp_st.imp_corrupted++;
		if (p->dup)
			l->imp_st.imp_duplicated++;
		if (p->reorder)
			l->imp_st.imp_reordered++;
		else if (p->delay) {
			l->imp_st.imp_delayed++;
			link_delay_push(l, p, now);
		}
		if (p->p_count > 0 &&
		    sent < WEIR_MAX(p->p_first + p->p_count, p->h_first + p->h_count)) {
			/* Taken but not whole: the rest is owed, and the held frame it was to
			 * release goes out through the backlog. */
			for (int d = sent; d < p->p_first + p->p_count; d++)
				link_owe(l, p->iov, p->iovcnt, now);
			for (int d = WEIR_MAX(sent, p->h_first); d < p->h_first + p->h_count; d++)
				link_owe(l, l->tx_msgs[d].msg_hdr.msg_iov, 1, now);
			final.slot = -1;
			taken = i + 1;
			break;
		}
	}
	l->held = final;
	if (taken < c->nplan)
		l->rng = l->plan[taken].rng;
	return taken;
}

/* Plans, sends and commits up to LINK_TX_CHUNK frames. Returns how many frames were taken and
 * sets *err to 0 if the whole plan went out, WEIR_EAGAIN if the socket filled up, or WEIR_EIO. */
static int link_tx_chunk(struct link_dev *l, const struct weir_tx_frame *frames, int n,
			 uint64_t now, int *err)
{
	struct link_chunk c = { .held = l->held };
	int sent;

	link_tx_plan(l, frames, n, now, &c);
	sent = link_tx_send(l, &c, err);
	return link_tx_commit(l, &c, sent, now);
}

static int link_tx_burst(struct weir_netdev *netdev, const struct weir_tx_frame *frames, int n)
{
	struct link_dev *l = link_of(netdev);
	uint64_t now;
	int taken = 0;

	WEIR_EINVAL_IF(netdev == NULL || frames == NULL || n < 0);
	/* Check every frame before sending any, so a bad one cannot leave a burst half sent. */
	for (int i = 0; i < n; i++) {
		const struct weir_tx_frame *f = &frames[i];
		size_t sum = 0;

		if (f->iovcnt > LINK_TX_MAX_IOV || (f->iovcnt > 0 && f->iov == NULL))
			return WEIR_EINVAL;
		for (unsigned k = 0; k < f->iovcnt; k++) {
			if (f->iov[k].base == NULL && f->iov[k].len > 0)
				return WEIR_EINVAL;
			sum += f->iov[k].len;
		}
		if (sum != f->len || sum > l->frame_max)
			return WEIR_EINVAL;
	}
	if (n == 0)
		return 0;

	/* Datagrams owed from an earlier burst go first, or the wire order would change. */
	if (l->backlog_count > 0 && link_backlog_flush(l) == WEIR_EAGAIN)
		return 0;

	now = weir_clock_now_ns();
	while (taken < n) {
		int err, k = link_tx_chunk(l, frames + taken, n - taken, now, &err);

		taken += k;
		if (err == WEIR_EIO && taken == 0)
			return WEIR_EIO;
		if (err != 0)
			break;
	}
	return taken;
}

/* --- timed work ------------------------------------------------------------------------------- */

static uint64_t link_next_deadline_ns(struct weir_netdev *netdev)
{
	const struct link_dev *l = link_of(netdev);
	uint64_t due = WEIR_DEADLINE_NEVER;

	/* Owed datagrams are due at once: the socket may have room again. */
	if (l->backlog_count > 0)
		return l->backlog_ns;
	if (l->delay_head != NULL)
		due = l->delay_head->due_ns;
	if (l->held.slot >= 0)
		due = WEIR_MIN(due, l->held.since_ns + LINK_HOLD_NS);
	return due;
}

static int link_poll(struct weir_netdev *netdev)
{
	struct link_dev *l = link_of(netdev);
	uint64_t now = weir_clock_now_ns();
	int work = 0, r;

	if (l->backlog_count > 0) {
		r = link_backlog_flush(l);
		if (r < 0)
			return 0;
		work += r;
	}

	/* Due delayed frames go out in order; a held frame goes out right after the next frame
	 * sent, as it would after a frame from tx_burst. */
	while (l->delay_head != NULL && l->delay_head->due_ns <= now) {
		struct link_delayed *d = l->delay_head;

		while (d->copies > 0) {
			r = link_send_one(l, d->data, d->len);
			if (r == WEIR_EAGAIN)
				return work;
			d->copies--;
			if (r == 0)
				work++;
		}
		l->delay_head = d->next;
		if (l->delay_head == NULL)
			l->delay_tail = NULL;
		free(d);
		if (l->held.slot >= 0) {
			work += link_held_flush(l, now);
			if (l->backlog_count > 0)
				return work;
		}
	}

	/* A held frame must not wait forever for a frame to follow it. */
	if (l->held.slot >= 0 && now - l->held.since_ns >= LINK_HOLD_NS)
		work += link_held_flush(l, now);
	return work;
}

static const struct weir_netdev_ops link_ops;

/* --- capabilities, statistics, close ---------------------------------------------------------- */

static void link_get_caps(const struct weir_netdev *netdev, struct weir_netdev_caps *caps)
{
	const struct link_dev *l = link_of_const(netdev);

	memset(caps, 0, sizeof(*caps));
	memcpy(caps->mac, l->mac, WEIR_ETH_ALEN);
	caps->mtu = l->mtu;
	caps->offloads = 0;
	caps->rx_queues = l->nqueues;
	caps->tx_queues = l->nqueues;
	caps->rx_queue = l->queue;
	caps->fd = l->fd;
	caps->poll_mode = 0;
}

static void link_get_stats(const struct weir_netdev *netdev, struct weir_netdev_stats *stats)
{
	*stats = link_of_const(netdev)->stats;
}

int weir_link_get_stats(const struct weir_netdev *netdev, struct weir_link_stats *out)
{
	WEIR_EINVAL_IF(netdev == NULL || out == NULL || netdev->ops != &link_ops);
	*out = link_of_const(netdev)->imp_st;
	return 0;
}

static void link_free(struct link_dev *l)
{
	struct link_delayed *d = l->delay_head;

	while (d != NULL) {
		struct link_delayed *next = d->next;

		free(d);
		d = next;
	}
	free(l->slot_mem);
	free(l->rx_iov);
	free(l->rx_msgs);
	free(l->rx_batch);
	free(l->rx_free);
	free(l->rx_out);
	free(l->rx_frames);
	free(l->rx_mem);
	free(l->name);
	free(l);
}

static void link_close(struct weir_netdev *netdev)
{
	struct link_dev *l = link_of(netdev);

	if (l->rx_nfree != l->rx_count)
		weir_log_warn("%s: closed with %u frames still held by the stack", l->name,
			      l->rx_count - l->rx_nfree);
	if (l->delay_head != NULL || l->held.slot >= 0 || l->backlog_count > 0)
		weir_log_debug("%s: closed with delayed, held or owed frames; they are lost",
			       l->name);
	close(l->fd);
	link_free(l);
}

/* Low when fewer than an eighth of the receive buffers are free: out-of-order segments held by
 * TCP can otherwise take them all, and the retransmission that fills the hole finds no buffer
 * (seen as repeated RTOs in the fault soak). */
static int link_rx_buffers_low(struct weir_netdev *nd)
{
	const struct link_dev *l = (const struct link_dev *)nd;

	return l->rx_nfree < l->rx_count / 8;
}

static const struct weir_netdev_ops link_ops = {
	.rx_burst = link_rx_burst,		   /* required */
	.release = link_release,		   /* required */
	.tx_burst = link_tx_burst,		   /* required */
	.get_caps = link_get_caps,		   /* required */
	.get_stats = link_get_stats,		   /* optional */
	.next_deadline_ns = link_next_deadline_ns, /* optional */
	.poll = link_poll,			   /* optional */
	.rx_buffers_low = link_rx_buffers_low,	   /* optional */
	.close = link_close,			   /* required */
};

/* --- public API ------------------------------------------------------------------------------- */

int weir_link_socketpair(int fds[2])
{
	int size = LINK_SOCKBUF;

	WEIR_EINVAL_IF(fds == NULL);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) {
		weir_log_error("socketpair: %s", strerror(errno));
		return WEIR_EIO;
	}
	for (int i = 0; i < 2; i++) {
		/* Best effort: the kernel caps the sizes at net.core.[rw]mem_max. */
		(void)setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		(void)setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	}
	return 0;
}

static bool link_rate_ok(double rate)
{
	/* Written so that NaN fails too. */
	return rate >= 0.0 && rate <= 1.0;
}

static int link_alloc_buffers(struct link_dev *l)
{
	const struct weir_link_impair *imp = &l->imp;

	if (l->rx_count > SIZE_MAX / l->buf_size)
		return WEIR_ENOMEM;
	l->rx_mem = aligned_alloc(LINK_BUF_ALIGN, (size_t)l->rx_count * l->buf_size);
	l->rx_frames = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_frames));
	l->rx_out = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_out));
	l->rx_free = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_free));
	l->rx_batch = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_batch));
	l->rx_msgs = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_msgs));
	l->rx_iov = weir__zalloc_lines(l->rx_count, sizeof(*l->rx_iov));
	if (!l->rx_mem || !l->rx_frames || !l->rx_out || !l->rx_free || !l->rx_batch ||
	    !l->rx_msgs || !l->rx_iov)
		return WEIR_ENOMEM;

	for (unsigned i = 0; i < l->rx_count; i++) {
		struct weir_frame *f = &l->rx_frames[i];

		f->data = l->rx_mem + (size_t)i * l->buf_size;
		f->cap = (uint32_t)l->buf_size;
		f->dev = &l->netdev;
		f->drv = NULL;
		/* Lowest buffers on top of the stack: a quiet link keeps touching the same ones. */
		l->rx_free[i] = l->rx_count - 1 - i;
		l->rx_msgs[i].msg_hdr.msg_iov = &l->rx_iov[i];
		l->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	l->rx_nfree = l->rx_count;

	/* Corrupted and held copies and owed datagrams need scratch memory; a clean link (or one
	 * that only loses or delays frames) needs none. */
	if (imp->corrupt > 0 || imp->reorder > 0 || imp->duplicate > 0) {
		size_t nbuf = LINK_TX_SLOTS + LINK_BACKLOG;

		l->slot_mem = aligned_alloc(LINK_BUF_ALIGN, nbuf * l->buf_size);
		if (l->slot_mem == NULL)
			return WEIR_ENOMEM;
		for (unsigned i = 0; i < LINK_TX_SLOTS; i++)
			l->slots[i].buf = l->slot_mem + (size_t)i * l->buf_size;
		for (unsigned i = 0; i < LINK_BACKLOG; i++)
			l->backlog_buf[i] = l->slot_mem + (size_t)(LINK_TX_SLOTS + i) * l->buf_size;
	}
	return 0;
}

int weir_link_open(const struct weir_link_config *cfg, struct weir_netdev **out)
{
	const struct weir_link_impair *imp;
	const char *name;
	struct link_dev *l;
	unsigned mtu;
	int type = 0, r;
	socklen_t optlen = sizeof(type);
	size_t name_len;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->fd < 0);
	imp = &cfg->impair;
	if (!link_rate_ok(imp->loss) || !link_rate_ok(imp->reorder) ||
	    !link_rate_ok(imp->duplicate) || !link_rate_ok(imp->corrupt) ||
	    !link_rate_ok(imp->delay))
		return WEIR_EINVAL;
	mtu = cfg->mtu != 0 ? cfg->mtu : LINK_DEFAULT_MTU;
	WEIR_EINVAL_IF(mtu < LINK_MIN_MTU);
	/* One datagram must be one frame: anything but a SOCK_SEQPACKET socket is a caller bug. */
	if (getsockopt(cfg->fd, SOL_SOCKET, SO_TYPE, &type, &optlen) < 0 || type != SOCK_SEQPACKET)
		return WEIR_EINVAL;

	l = weir__zalloc_lines(1, sizeof(*l)); /* weir_link_open_queues: a shard's each */
	if (l == NULL)
		return WEIR_ENOMEM;
	l->fd = cfg->fd;
	l->nqueues = 1;
	l->imp = *imp;
	l->rx_trust = imp->corrupt == 0 && !cfg->check_rx_csum ? WEIR_FRAME_L4_CSUM_OK : 0;
	l->impaired = imp->loss > 0 || imp->reorder > 0 || imp->duplicate > 0 || imp->corrupt > 0 ||
		      imp->delay > 0;
	l->mtu = (uint16_t)mtu;
	memcpy(l->mac, cfg->mac, WEIR_ETH_ALEN);
	l->frame_max = mtu + LINK_FRAME_OVERHEAD;
	l->buf_size = (l->frame_max + LINK_BUF_ALIGN - 1) & ~(size_t)(LINK_BUF_ALIGN - 1);
	l->rx_count = cfg->rx_frames != 0 ? cfg->rx_frames : LINK_DEFAULT_RX_FRAMES;
	l->held.slot = -1;
	weir_prng_seed(&l->rng, imp->seed);

	name = cfg->name != NULL ? cfg->name : "link";
	name_len = strlen("link:") + strlen(name) + 1;
	l->name = malloc(name_len);
	if (l->name == NULL) {
		link_free(l);
		return WEIR_ENOMEM;
	}
	snprintf(l->name, name_len, "link:%s", name);

	r = link_alloc_buffers(l);
	if (r < 0) {
		link_free(l);
		return r;
	}

	l->netdev.ops = &link_ops;
	l->netdev.name = l->name;
	weir_log_debug("%s: fd %d, mtu %u, %u receive buffers, loss %.3f reorder %.3f "
		       "duplicate %.3f corrupt %.3f delay %.3f (%llu ns), seed %llu",
		       l->name, l->fd, mtu, l->rx_count, imp->loss, imp->reorder, imp->duplicate,
		       imp->corrupt, imp->delay, (unsigned long long)imp->delay_ns,
		       (unsigned long long)imp->seed);
	*out = &l->netdev;
	return 0;
}

int weir_link_open_queues(const struct weir_link_config *cfg, const int *fds, unsigned n,
			  struct weir_netdev **out)
{
	const char *base;
	unsigned i;
	int rc = 0;

	WEIR_EINVAL_IF(cfg == NULL || fds == NULL || out == NULL || n == 0 ||
		       n > WEIR_NETDEV_QUEUES_MAX);
	base = cfg->name != NULL ? cfg->name : "link";
	for (i = 0; i < n; i++) {
		struct weir_link_config c = *cfg;
		size_t len = strlen(base) + 4; /* "/NN" and the NUL: n is at most 64 */
		char *name = malloc(len);

		if (name == NULL) {
			rc = WEIR_ENOMEM;
			break;
		}
		snprintf(name, len, "%s/%u", base, i);
		c.fd = fds[i];
		c.name = n > 1 ? name : cfg->name;
		c.impair.seed = cfg->impair.seed + i; /* each pair its own draws */
		rc = weir_link_open(&c, &out[i]);     /* copies the name */
		free(name);
		if (rc < 0)
			break;
		link_of(out[i])->queue = (uint16_t)i;
		link_of(out[i])->nqueues = (uint16_t)n;
	}
	if (rc == 0)
		return 0;
	/* The fds stay the caller's, as with weir_link_open: free what was made, close nothing. */
	while (i-- > 0) {
		link_free(link_of(out[i]));
		out[i] = NULL;
	}
	return rc;
}
