/* tcp_io.c - the TCP flow datapath: receive queue and reads, writes (copying, never partial). */
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#define WEIR_LOG_COMPONENT "tcp"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>

#include "buf_priv.h"
#include "tcp_priv.h"
#include "weir_stack_lwip.h"

/* How long a writer waits for send space before trying again even without an ACK: lwIP's
 * segment pool is global, so space can come back through another flow's ACK. */
#define WRITE_RETRY_NS (20 * WEIR_NS_PER_MS)
/* Bytes a flow queues beyond what it has sent: enough to keep a fast path busy between two
 * ACKs, not so many that many flows' queues fall out of the CPU's caches (what is queued unsent
 * is memory the ACK path touches again later). Linux's tcp_notsent_lowat is the same idea.
 * Measured over memif (docs/performance.md): 8 flows moved 15-21 Gbit/s at 64 KiB against 9-16
 * at 256 KiB; one flow lost little. */
#define WRITE_UNSENT_MAX (64u * 1024)
/* tcp_write() takes a u16_t length. */
#define TCP_WRITE_MAX 0xffffu

void weir__flow_recved(struct weir_flow *f, size_t n)
{
	/* A window update this may send leaves with the stack's next burst. */
	weir__stack_tx_hold();
	/* tcp_recved() takes a u16_t too. */
	while (f->pcb != NULL && n > 0) {
		u16_t chunk = (u16_t)WEIR_MIN(n, (size_t)0xffff);

		tcp_recved(f->pcb, chunk);
		n -= chunk;
	}
	weir__stack_tx_release_lazy();
}

void weir__flow_rxq_drop(struct weir_flow *f)
{
	size_t n = f->rxq_bytes;

	while (f->rxq_head != NULL) {
		struct pbuf *p = f->rxq_head;

		f->rxq_head = p->next;
		p->next = NULL;
		pbuf_free(p);
	}
	f->rxq_tail = NULL;
	f->rxq_bytes = 0;
	weir__flow_recved(f, n);
}

err_t weir__flow_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct weir_flow *f = arg;

	WEIR_UNUSED(err); /* always ERR_OK in lwIP 2.1 */
	if (f == NULL) {
		/* Not ours any more: behave like lwIP's tcp_recv_null. */
		if (p != NULL) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	if (p == NULL) {
		f->rx_eof = 1;
		weir_event_broadcast(&f->rx_ev);
		weir_event_broadcast(&f->st_ev);
		return ERR_OK;
	}
	if (f->shut_rd) {
		/* Read side shut down: discard, but keep the window open so the peer is never reset
		 * (lwIP's own shut_rx would RST on more data). */
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	f->st.bytes_in += p->tot_len;
	/* Split the chain into single pbufs linked through ->next: lwIP builds received chains with
	 * pbuf_cat (no extra reference per link), so each piece keeps its own reference. */
	while (p != NULL) {
		struct pbuf *next = p->next;

		p->next = NULL;
		p->tot_len = p->len;
		if (p->len == 0) {
			pbuf_free(p);
		} else {
			if (f->rxq_tail != NULL)
				f->rxq_tail->next = p;
			else
				f->rxq_head = p;
			f->rxq_tail = p;
			f->rxq_bytes += p->len;
		}
		p = next;
	}
	weir_event_signal(&f->rx_ev);
	if (f->closing)
		weir_event_broadcast(&f->st_ev); /* close watches the receive window */
	return ERR_OK;
}

err_t weir__flow_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct weir_flow *f = arg;

	WEIR_UNUSED(len);
	if (f != NULL) {
		weir__flow_note_timing(&f->st,
				       pcb); /* an ACK of new data: a fresh sample, RTO reset */
		weir_event_broadcast(&f->tx_ev);
	}
	return ERR_OK;
}

/* Waits until there is something to read, the end, an error or the deadline. Returns 0 when
 * data is queued. */
static int wait_readable(struct weir_flow *f, uint64_t deadline)
{
	for (;;) {
		int rc;

		if (f->shut_rd || f->closed)
			return WEIR_ECLOSED;
		if (f->rxq_head != NULL)
			return 0;
		if (f->rx_eof)
			return WEIR_EOF;
		if (f->err != 0)
			return f->err;
		if (f->pcb == NULL)
			return WEIR_ECLOSED;
		f->readers++;
		rc = weir_event_wait(&f->rx_ev, deadline);
		f->readers--;
		if (rc < 0)
			return rc;
	}
}

/* Small pieces queued one after another (a peer's short writes) are joined into one buffer, so
 * a read returns them all, as a socket's would: an echo then answers "AAAA" and "BBBB" that
 * arrived together with one write, not two (the second of which Nagle would hold for a round
 * trip). Full-size segments are handed out as they are, without a copy. */
#define READ_JOIN_MAX 2048u

/* Replaces the queue's first pieces, while they fit in READ_JOIN_MAX, by one buffer holding their
 * bytes. Returns the new head (the old one if there is no memory: nothing is lost). */
static struct pbuf *join_small_pieces(struct weir_flow *f)
{
	struct pbuf *q, *j;
	size_t n = 0;

	for (q = f->rxq_head; q != NULL && n + q->len <= READ_JOIN_MAX; q = q->next)
		n += q->len;
	j = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
	if (j == NULL)
		return f->rxq_head;
	n = 0;
	while (f->rxq_head != q) {
		struct pbuf *p = f->rxq_head;

		memcpy((uint8_t *)j->payload + n, p->payload, p->len);
		n += p->len;
		f->rxq_head = p->next;
		p->next = NULL;
		pbuf_free(p);
	}
	j->next = q;
	if (q == NULL)
		f->rxq_tail = j;
	f->rxq_head = j;
	return j;
}

ssize_t weir_flow_read(struct weir_flow *f, struct weir_buf *buf)
{
	struct pbuf *p;
	int rc;

	WEIR_EINVAL_IF(f == NULL || buf == NULL);
	buf->data = NULL;
	buf->len = 0;
	buf->priv = NULL;
	rc = weir__flow_check_fiber();
	if (rc < 0)
		return rc;
	rc = wait_readable(f, WEIR_DEADLINE_NEVER);
	if (rc < 0)
		return rc;
	p = f->rxq_head;
	if (p->next != NULL && (size_t)p->len + p->next->len <= READ_JOIN_MAX)
		p = join_small_pieces(f);
	f->rxq_head = p->next;
	if (f->rxq_head == NULL)
		f->rxq_tail = NULL;
	p->next = NULL;
	f->rxq_bytes -= p->len;
	weir__flow_recved(f, p->len);
	weir__buf_hand_out(buf, p);
	return (ssize_t)p->len;
}

ssize_t weir_flow_read_into(struct weir_flow *f, void *dst, size_t cap)
{
	return weir_flow_read_into_until(f, dst, cap, WEIR_DEADLINE_NEVER);
}

ssize_t weir_flow_read_into_until(struct weir_flow *f, void *dst, size_t cap, uint64_t deadline)
{
	uint8_t *out = dst;
	size_t got = 0;
	int rc;

	WEIR_EINVAL_IF(f == NULL || dst == NULL || cap == 0);
	rc = weir__flow_check_fiber();
	if (rc < 0)
		return rc;
	rc = wait_readable(f, deadline);
	if (rc < 0)
		return rc;
	while (got < cap && f->rxq_head != NULL) {
		struct pbuf *p = f->rxq_head;
		size_t n = WEIR_MIN((size_t)p->len, cap - got);

		memcpy(out + got, p->payload, n);
		got += n;
		if (n == p->len) {
			f->rxq_head = p->next;
			if (f->rxq_head == NULL)
				f->rxq_tail = NULL;
			p->next = NULL;
			pbuf_free(p);
		} else {
			/* Keep the rest of this piece for the next read. */
			pbuf_remove_header(p, n);
		}
	}
	f->rxq_bytes -= got;
	weir__flow_recved(f, got);
	return (ssize_t)got;
}

/* Why writing is impossible now, or 0. */
static int write_blocked_reason(const struct weir_flow *f)
{
	if (f->wr_err != 0)
		return f->wr_err;
	if (f->shut_wr || f->closing || f->closed)
		return WEIR_ECLOSED;
	if (f->pcb == NULL)
		return f->err ? f->err : WEIR_ECLOSED;
	if (f->state != FLOW_OPEN)
		return WEIR_ECLOSED;
	return 0;
}

static int fail_write(struct weir_flow *f, int rc)
{
	/* After the first write error every later write fails the same way (MirageOS). */
	if (f->wr_err == 0)
		f->wr_err = rc;
	return rc;
}

/* Sends what lwIP may send now, as one burst (super-frames where the device cuts them). */
static void flow_output(struct tcp_pcb *pcb)
{
	weir__stack_tx_hold();
	tcp_output(pcb);
	weir__stack_tx_release();
}

/* Queues len bytes into lwIP, waiting for send space as needed. copy: lwIP copies the bytes
 * (TCP_WRITE_FLAG_COPY); without it its segments point into data. */
static int write_bytes(struct weir_flow *f, const uint8_t *data, size_t len, int more, int copy)
{
	size_t off = 0;

	while (off < len) {
		struct tcp_pcb *pcb;
		size_t chunk;
		err_t e;
		int unsent_full;
		int rc = write_blocked_reason(f);

		if (rc < 0)
			return fail_write(f, rc);
		pcb = f->pcb;
		/* tcp_sndbuf() is capped at 0xffff even when snd_buf (the real space) is larger. */
		chunk = WEIR_MIN(len - off, (size_t)pcb->snd_buf);
		chunk = WEIR_MIN(chunk, (size_t)TCP_WRITE_MAX);
		e = ERR_MEM;
		unsent_full = (u32_t)(pcb->snd_lbb - pcb->snd_nxt) >= WRITE_UNSENT_MAX;
		if (chunk > 0 && pcb->snd_queuelen < TCP_SND_QUEUELEN - 2 && !unsent_full)
			e = tcp_write(
				pcb, data + off, (u16_t)chunk,
				(copy ? TCP_WRITE_FLAG_COPY : 0) |
					(more || off + chunk < len ? TCP_WRITE_FLAG_MORE : 0));
		if (e == ERR_OK) {
			off += chunk;
			f->st.bytes_out += chunk;
			continue;
		}
		if (e != ERR_MEM)
			return fail_write(f, weir__err_from_lwip(e));
		/* No space: push out what is queued. When only the unsent limit stopped us and the
		 * windows took the unsent bytes, go on at once; else wait for ACKs (an ERR_MEM from
		 * tcp_write itself, lwIP's pools, also waits: going on could spin). */
		flow_output(pcb);
		if (unsent_full && f->pcb == pcb && pcb->snd_buf > 0 &&
		    pcb->snd_queuelen < TCP_SND_QUEUELEN - 2 &&
		    (u32_t)(pcb->snd_lbb - pcb->snd_nxt) < WRITE_UNSENT_MAX)
			continue;
		rc = weir_event_wait(&f->tx_ev, weir_clock_now_ns() + WRITE_RETRY_NS);
		if (rc == WEIR_ECANCELED)
			return fail_write(f, rc);
	}
	return 0;
}

/* Before a write queues anything: in a fiber, and the flow still writable (else the sticky
 * error). Returns 0 or the weir error to return. */
static int write_may_start(struct weir_flow *f)
{
	int rc = weir__flow_check_fiber();

	if (rc < 0)
		return rc;
	rc = write_blocked_reason(f);
	if (rc < 0)
		return f->wr_err ? f->wr_err : rc;
	return 0;
}

static int flow_writev(struct weir_flow *f, const struct weir_iov *iov, unsigned iovcnt,
		       int nodelay)
{
	size_t total = 0;
	u32_t target;
	int rc;

	WEIR_EINVAL_IF(f == NULL || (iov == NULL && iovcnt != 0) || iovcnt > WEIR_FLOW_IOV_MAX);
	/* No buffer is larger than SSIZE_MAX: a bigger length is a caller bug, refused before
	 * anything is sent. */
	for (unsigned i = 0; i < iovcnt; i++) {
		if ((iov[i].base == NULL && iov[i].len != 0) || iov[i].len > (size_t)SSIZE_MAX ||
		    total + iov[i].len > (size_t)SSIZE_MAX)
			return WEIR_EINVAL;
		total += iov[i].len;
	}
	rc = write_may_start(f);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < iovcnt; i++) {
		rc = write_bytes(f, iov[i].base, iov[i].len, i + 1 < iovcnt, 1);
		if (rc < 0)
			return rc;
	}
	if (f->pcb == NULL)
		return fail_write(f, f->err ? f->err : WEIR_ECLOSED);
	if (!nodelay) {
		flow_output(f->pcb);
		return 0;
	}
	/* Nagle off for these bytes, then wait until the peer acknowledged all of them. */
	if (!f->opts.nodelay) {
		tcp_nagle_disable(f->pcb);
		flow_output(f->pcb);
		tcp_nagle_enable(f->pcb);
	} else {
		flow_output(f->pcb);
	}
	target = f->pcb->snd_lbb;
	while (f->pcb != NULL && TCP_SEQ_LT(f->pcb->lastack, target)) {
		rc = weir_event_wait(&f->tx_ev, WEIR_DEADLINE_NEVER);
		if (rc < 0)
			return fail_write(f, rc);
	}
	if (f->pcb == NULL)
		return fail_write(f, f->err ? f->err : WEIR_ECLOSED);
	return 0;
}

/* The single-buffer forms are one-element writevs (flow_writev checks base/len). */
int weir_flow_write(struct weir_flow *f, const void *data, size_t len)
{
	struct weir_iov iov = { .base = data, .len = len };

	return flow_writev(f, &iov, 1, 0);
}

int weir_flow_writev(struct weir_flow *f, const struct weir_iov *iov, unsigned iovcnt)
{
	return flow_writev(f, iov, iovcnt, 0);
}

int weir_flow_write_nodelay(struct weir_flow *f, const void *data, size_t len)
{
	struct weir_iov iov = { .base = data, .len = len };

	return flow_writev(f, &iov, 1, 1);
}

int weir_flow_writev_nodelay(struct weir_flow *f, const struct weir_iov *iov, unsigned iovcnt)
{
	return flow_writev(f, iov, iovcnt, 1);
}

/* Whether lwIP still holds a segment with bytes before sequence number end. Each queue is in
 * sequence order and lwIP never trims a segment that is partly acked, so the heads tell; both
 * heads, since a fast retransmission moves unacked's head to unsent's front. */
static int holds_bytes_before(const struct tcp_pcb *pcb, u32_t end)
{
	return (pcb->unacked != NULL && TCP_SEQ_LT(lwip_ntohl(pcb->unacked->tcphdr->seqno), end)) ||
	       (pcb->unsent != NULL && TCP_SEQ_LT(lwip_ntohl(pcb->unsent->tcphdr->seqno), end));
}

int weir_flow_write_nocopy(struct weir_flow *f, const void *data, size_t len)
{
	u32_t end;
	int rc;

	WEIR_EINVAL_IF(f == NULL || (data == NULL && len != 0) || len > (size_t)SSIZE_MAX);
	rc = write_may_start(f);
	if (rc < 0)
		return rc;
	f->nocopy_writers++;
	rc = write_bytes(f, data, len, 0, 0);
	if (rc == 0 && f->pcb != NULL) {
		flow_output(f->pcb);
		/* lwIP's segments point into data until the peer acknowledged them. */
		end = f->pcb->snd_lbb;
		while (f->pcb != NULL && holds_bytes_before(f->pcb, end)) {
			rc = weir_event_wait(&f->tx_ev, WEIR_DEADLINE_NEVER);
			if (rc < 0)
				break;
		}
	}
	if (rc < 0 && f->pcb != NULL) {
		/* Cancelled (or failed) with segments still pointing into data: the only way to
		 * give the buffer back is to end the flow (RST), which frees them. */
		weir__flow_reset(f, rc);
	}
	f->nocopy_writers--;
	/* A frame of a segment lwIP freed may still wait for the device in the stack's transmit
	 * queue (the device was full): it leaves (the device copies it) before data is the
	 * caller's again, or, when this fiber cannot wait (cancelled), it is dropped. */
	while (weir__stack_tx_busy()) {
		if (weir_fiber_sleep_ns(WEIR_NS_PER_MS) < 0) {
			weir__stack_tx_drop();
			break;
		}
	}
	if (rc < 0)
		return fail_write(f, rc);
	if (f->pcb == NULL)
		return fail_write(f, f->err ? f->err : WEIR_ECLOSED);
	return 0;
}
