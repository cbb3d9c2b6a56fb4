/* virtio_model.c - an in-memory virtio-mmio device (see virtio_model.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "virtio_model.h"

/* The driver's rings and buffers are little-endian (virtio 1.x, 2.4) and the model reads them in
 * place, so it only runs on a little-endian host (x86-64, AArch64: every host weir builds on). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model reads rings in place");

#define VIRTIO_MODEL_MAGIC 0x74726976u /* "virt" */

/* The split virtqueue's layout (2.6). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};
struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];
};
_Static_assert(sizeof(struct vq_desc) == 16, "a descriptor is 16 bytes");
_Static_assert(sizeof(struct vq_used_elem) == 8, "a used element is 8 bytes");

/* The features this model implements for a network device: a driver that accepts any other
 * offered feature expects behaviour (event index, indirect or merged buffers, guest TSO) the
 * model does not have. */
#define NET_FEATURES_IMPLEMENTED                                                                   \
	(WEIR_VIRTIO_F_VERSION_1 | WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_GUEST_CSUM |         \
	 WEIR_VIRTIO_NET_F_MTU | WEIR_VIRTIO_NET_F_MAC | WEIR_VIRTIO_NET_F_HOST_TSO4 |             \
	 WEIR_VIRTIO_NET_F_STATUS)

static void proto_error(struct virtio_model *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void proto_error(struct virtio_model *m, const char *fmt, ...)
{
	va_list ap;

	if (m->protocol_errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(m->last_error, sizeof(m->last_error), fmt, ap);
		va_end(ap);
	}
}

static void *host_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

static struct vq_desc *q_desc(const struct virtio_model_queue *q)
{
	return host_ptr(q->desc);
}

static struct vq_avail *q_avail(const struct virtio_model_queue *q)
{
	return host_ptr(q->driver);
}

static struct vq_used *q_used(const struct virtio_model_queue *q)
{
	return host_ptr(q->device);
}

/* A device reset (Status written 0, 4.2.3.1): every queue unready and forgotten, the
 * negotiation undone, no interrupt pending. What a test configured (offers, limits) stays. */
static void model_reset(struct virtio_model *m)
{
	m->status = 0;
	m->driver_features = 0;
	m->driver_features_written = 0;
	m->features_sel = m->driver_features_sel = 0;
	m->queue_sel = 0;
	m->int_status = 0;
	memset(m->tx_rec, 0, sizeof(m->tx_rec));
	for (unsigned i = 0; i < VIRTIO_MODEL_QUEUES; i++) {
		struct virtio_model_queue *q = &m->q[i];
		uint16_t max = q->num_max;
		uint64_t notifies = q->notifies;

		memset(q, 0, sizeof(*q));
		q->num_max = max;
		q->notifies = notifies;
	}
}

static void model_init_common(struct virtio_model *m)
{
	memset(m, 0, sizeof(*m));
	m->magic = VIRTIO_MODEL_MAGIC;
	m->version = 2;
	m->vendor_id = 0x554d4551u; /* "QEMU" */
}

void virtio_model_init(struct virtio_model *m)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	model_init_common(m);
	m->device_id = WEIR_VIRTIO_ID_NET;
	m->features = NET_FEATURES_IMPLEMENTED | WEIR_VIRTIO_NET_F_GUEST_TSO4 |
		      WEIR_VIRTIO_NET_F_MRG_RXBUF | VIRTIO_MODEL_F_EVENT_IDX |
		      VIRTIO_MODEL_F_INDIRECT_DESC | VIRTIO_MODEL_F_CTRL_VQ;
	memcpy(m->mac, mac, 6);
	m->net_status = VIRTIO_MODEL_NET_S_LINK_UP;
	m->max_virtqueue_pairs = 1;
	m->mtu = 1500;
	/* Receive and transmit queue; with CTRL_VQ offered a device has a control queue too,
	 * which the driver never touches since it does not take the feature. */
	m->nqueues = 3;
	m->q[0].num_max = 256;
	m->q[1].num_max = 256;
	m->q[2].num_max = 64;
	model_reset(m);
}

void virtio_model_init_rng(struct virtio_model *m)
{
	model_init_common(m);
	m->device_id = WEIR_VIRTIO_ID_RNG;
	m->features = WEIR_VIRTIO_F_VERSION_1;
	m->nqueues = 1;
	m->q[0].num_max = 64;
	model_reset(m);
}

void virtio_model_fini(struct virtio_model *m)
{
	for (unsigned i = 0; i < VIRTIO_MODEL_SENT_KEEP; i++) {
		free(m->sent[i].data);
		m->sent[i].data = NULL;
	}
}

/* Whether queue qi's buffers are ones the device writes (receive, entropy) rather than reads
 * (transmit). */
static int queue_device_writes(const struct virtio_model *m, unsigned qi)
{
	return m->device_id == WEIR_VIRTIO_ID_RNG || qi == 0;
}

/* Takes the chain headed by head from the driver (2.6.5): every descriptor in range, in the
 * direction the queue needs, none the device already owns, the chain no longer than the queue.
 * Returns 0 and marks the chain owned, or -1 after counting what was wrong. */
static int take_chain(struct virtio_model *m, unsigned qi, uint16_t head)
{
	struct virtio_model_queue *q = &m->q[qi];
	const struct vq_desc *d = q_desc(q);
	uint16_t write = queue_device_writes(m, qi) ? VIRTIO_MODEL_DESC_F_WRITE : 0;
	uint16_t i = head;
	unsigned n = 0;

	for (;;) {
		if (i >= q->num) {
			proto_error(m, "queue %u: descriptor %u out of range (size %u)", qi, i,
				    q->num);
			return -1;
		}
		if (q->owner[i] != 0) {
			proto_error(m, "queue %u: descriptor %u reused while the device owns it",
				    qi, i);
			return -1;
		}
		if ((d[i].flags & VIRTIO_MODEL_DESC_F_WRITE) != write) {
			proto_error(m, "queue %u: descriptor %u %s the WRITE flag", qi, i,
				    write ? "lacks" : "carries");
			return -1;
		}
		if (d[i].flags & VIRTIO_MODEL_DESC_F_INDIRECT) {
			proto_error(m, "queue %u: indirect descriptor %u, not negotiated", qi, i);
			return -1;
		}
		if (d[i].addr == 0 || d[i].len == 0) {
			proto_error(m, "queue %u: descriptor %u empty (addr %#llx len %u)", qi, i,
				    (unsigned long long)d[i].addr, d[i].len);
			return -1;
		}
		if (++n > q->num) {
			proto_error(m, "queue %u: chain from %u loops", qi, head);
			return -1;
		}
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
		i = d[i].next;
	}
	for (i = head;; i = d[i].next) {
		q->owner[i] = (uint16_t)(head + 1);
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
	q->snap_addr[head] = d[head].addr;
	q->snap_len[head] = d[head].len;
	return 0;
}

/* Reads what the driver made available since the last look (2.6.6): the index may not move by
 * more than the queue holds, since the device would then lose buffers it never saw. */
static void pull_avail(struct virtio_model *m, unsigned qi)
{
	struct virtio_model_queue *q = &m->q[qi];
	const struct vq_avail *a;
	uint16_t idx, n;

	if (!q->ready || q->broken)
		return;
	a = q_avail(q);
	idx = a->idx;
	n = (uint16_t)(idx - q->last_avail);
	if (n > q->num) {
		proto_error(m, "queue %u: avail idx moved by %u, more than the queue's %u", qi, n,
			    q->num);
		q->broken = 1;
		return;
	}
	while (q->last_avail != idx) {
		uint16_t head = a->ring[q->last_avail % q->num];

		q->last_avail++;
		if (take_chain(m, qi, head) == 0) {
			ck_assert_uint_lt(q->npool, VIRTIO_MODEL_QUEUE_MAX);
			q->pool[q->npool++] = head;
		}
	}
}

/* A transmit buffer is the device's to read until it is used: the bytes it holds when the
 * device gives it back must be those it held when the device took it (the driver must not write
 * into a buffer in flight). */
static void tx_check_unchanged(struct virtio_model *m, uint16_t head)
{
	const struct virtio_model_queue *q = &m->q[1];
	const struct vq_desc *d = q_desc(q);
	const struct virtio_model_tx *t;
	uint64_t rec = m->tx_rec[head];
	size_t at = 0;

	if (rec == 0 || m->nsent - (rec - 1) > VIRTIO_MODEL_SENT_KEEP)
		return;
	t = &m->sent[(rec - 1) % VIRTIO_MODEL_SENT_KEEP];
	for (uint16_t i = head;; i = d[i].next) {
		const uint8_t *p = host_ptr(d[i].addr);

		for (uint32_t k = 0; k < d[i].len; k++, at++) {
			uint8_t want = at < sizeof(t->hdr) ? ((const uint8_t *)&t->hdr)[at]
							   : t->data[at - sizeof(t->hdr)];

			if (p[k] != want) {
				proto_error(m, "tx buffer %u changed at byte %zu while in flight",
					    head, at);
				return;
			}
		}
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
}

/* Gives the chain headed by pool[pos] back in the used ring with len bytes written (2.6.8), and
 * interrupts unless the driver asked not to. */
static void push_used(struct virtio_model *m, unsigned qi, unsigned pos, uint32_t len)
{
	struct virtio_model_queue *q = &m->q[qi];
	struct vq_used *u = q_used(q);
	const struct vq_desc *d = q_desc(q);
	uint16_t head = q->pool[pos];

	if (d[head].addr != q->snap_addr[head] || d[head].len != q->snap_len[head])
		proto_error(m, "queue %u: descriptor %u changed while the device owned it", qi,
			    head);
	else if (qi == 1 && m->device_id == WEIR_VIRTIO_ID_NET)
		tx_check_unchanged(m, head);
	for (unsigned i = 0; i < q->num; i++)
		if (q->owner[i] == head + 1)
			q->owner[i] = 0;
	memmove(&q->pool[pos], &q->pool[pos + 1], (q->npool - pos - 1) * sizeof(q->pool[0]));
	q->npool--;
	u->ring[q->used_idx % q->num].id = head;
	u->ring[q->used_idx % q->num].len = len;
	/* The entry before the index that publishes it (2.6.8.2). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	u->idx = q->used_idx;
	q->used_total++;
	if (!(q_avail(q)->flags & VIRTIO_MODEL_AVAIL_F_NO_INTERRUPT)) {
		m->int_status |= 1;
		m->interrupts++;
	}
}

/* Copies n bytes into the chain headed by head, descriptor by descriptor; returns the chain's
 * capacity (bytes beyond it are not written). */
static uint32_t chain_write(const struct virtio_model_queue *q, uint16_t head, const uint8_t *src,
			    size_t n)
{
	const struct vq_desc *d = q_desc(q);
	uint32_t cap = 0;
	size_t done = 0;

	for (uint16_t i = head;; i = d[i].next) {
		size_t k = n - done < d[i].len ? n - done : d[i].len;

		memcpy(host_ptr(d[i].addr), src + done, k);
		done += k;
		cap += d[i].len;
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
	return cap;
}

static uint32_t chain_capacity(const struct virtio_model_queue *q, uint16_t head)
{
	const struct vq_desc *d = q_desc(q);
	uint32_t cap = 0;

	for (uint16_t i = head;; i = d[i].next) {
		cap += d[i].len;
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
	return cap;
}

static void rng_fill(struct virtio_model *m)
{
	struct virtio_model_queue *q = &m->q[0];

	pull_avail(m, 0);
	while (q->npool > 0 && m->rng_pos < m->rng_len) {
		size_t n = m->rng_len - m->rng_pos;
		uint32_t cap = chain_capacity(q, q->pool[0]);

		if (n > cap)
			n = cap;
		if (m->rng_chunk != 0 && n > m->rng_chunk)
			n = m->rng_chunk;
		chain_write(q, q->pool[0], m->rng_data + m->rng_pos, n);
		m->rng_pos += n;
		push_used(m, 0, 0, (uint32_t)n);
	}
}

/* Reads one transmit chain: the header, then the frame, gathered from every descriptor. */
static void tx_record(struct virtio_model *m, uint16_t head)
{
	struct virtio_model_queue *q = &m->q[1];
	const struct vq_desc *d = q_desc(q);
	struct virtio_model_tx *t = &m->sent[m->nsent % VIRTIO_MODEL_SENT_KEEP];
	uint8_t *all;
	size_t total = 0, at = 0;
	unsigned ndesc = 0;

	m->tx_rec[head] = 0;
	for (uint16_t i = head;; i = d[i].next) {
		total += d[i].len;
		ndesc++;
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
	all = malloc(total);
	ck_assert_ptr_nonnull(all);
	for (uint16_t i = head;; i = d[i].next) {
		memcpy(all + at, host_ptr(d[i].addr), d[i].len);
		at += d[i].len;
		if (!(d[i].flags & VIRTIO_MODEL_DESC_F_NEXT))
			break;
	}
	free(t->data);
	memset(t, 0, sizeof(*t));
	if (total < sizeof(t->hdr)) {
		proto_error(m, "tx chain from %u holds %zu bytes, less than the header", head,
			    total);
		free(all);
		m->nsent++;
		return;
	}
	memcpy(&t->hdr, all, sizeof(t->hdr));
	t->len = total - sizeof(t->hdr);
	t->data = malloc(t->len + 1);
	ck_assert_ptr_nonnull(t->data);
	memcpy(t->data, all + sizeof(t->hdr), t->len);
	free(all);
	t->head = head;
	m->tx_rec[head] = m->nsent + 1;
	t->ndesc = ndesc;
	t->buf_addr = d[head].addr;
	m->nsent++;
}

void virtio_model_tx_poll(struct virtio_model *m)
{
	struct virtio_model_queue *q = &m->q[1];
	unsigned before = q->npool;

	if (m->device_id != WEIR_VIRTIO_ID_NET)
		return;
	pull_avail(m, 1);
	for (unsigned i = before; i < q->npool; i++)
		tx_record(m, q->pool[i]);
	/* A transmit buffer is only read: its used length is 0 (2.6.8). */
	if (!m->tx_hold)
		while (q->npool > 0)
			push_used(m, 1, 0, 0);
}

unsigned virtio_model_tx_held(const struct virtio_model *m)
{
	return m->q[1].npool;
}

void virtio_model_tx_complete(struct virtio_model *m, unsigned pos)
{
	ck_assert_uint_lt(pos, m->q[1].npool);
	push_used(m, 1, pos, 0);
}

const struct virtio_model_tx *virtio_model_sent(const struct virtio_model *m, uint64_t i)
{
	ck_assert_uint_lt(i, m->nsent);
	ck_assert_uint_lt(m->nsent - i, VIRTIO_MODEL_SENT_KEEP + 1);
	return &m->sent[i % VIRTIO_MODEL_SENT_KEEP];
}

static void queue_notify(struct virtio_model *m, uint32_t qi)
{
	if (qi >= m->nqueues || !m->q[qi].ready) {
		proto_error(m, "notify for queue %u, which is not ready", qi);
		return;
	}
	m->q[qi].notifies++;
	if (m->device_id == WEIR_VIRTIO_ID_RNG)
		rng_fill(m);
	else if (qi == 1)
		virtio_model_tx_poll(m);
	else
		pull_avail(m, qi);
}

unsigned virtio_model_rx_available(struct virtio_model *m)
{
	pull_avail(m, 0);
	return m->q[0].npool;
}

uint32_t virtio_model_rx_capacity(struct virtio_model *m, unsigned pos)
{
	pull_avail(m, 0);
	ck_assert_uint_lt(pos, m->q[0].npool);
	return chain_capacity(&m->q[0], m->q[0].pool[pos]);
}

int virtio_model_rx_raw(struct virtio_model *m, unsigned pos, const void *bytes, size_t n,
			uint32_t used_len)
{
	struct virtio_model_queue *q = &m->q[0];
	uint16_t head;

	pull_avail(m, 0);
	if (pos >= q->npool) {
		m->rx_no_buffer++;
		return -1;
	}
	head = q->pool[pos];
	ck_assert_uint_le(n, chain_capacity(q, head));
	chain_write(q, head, bytes, n);
	m->rx_last_buf = host_ptr(q_desc(q)[head].addr);
	m->rx_delivered++;
	push_used(m, 0, pos, used_len);
	return head;
}

int virtio_model_rx_at(struct virtio_model *m, unsigned pos, const struct virtio_model_net_hdr *hdr,
		       const void *frame, size_t len)
{
	static uint8_t buf[65536 + sizeof(struct virtio_model_net_hdr)];
	struct virtio_model_net_hdr h = { .num_buffers = 1 };

	ck_assert_uint_le(len, sizeof(buf) - sizeof(h));
	if (hdr != NULL)
		h = *hdr;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), frame, len);
	return virtio_model_rx_raw(m, pos, buf, sizeof(h) + len, (uint32_t)(sizeof(h) + len));
}

int virtio_model_rx(struct virtio_model *m, const struct virtio_model_net_hdr *hdr,
		    const void *frame, size_t len)
{
	return virtio_model_rx_at(m, 0, hdr, frame, len);
}

uint16_t virtio_model_avail_idx(const struct virtio_model *m, unsigned qi)
{
	ck_assert_uint_ne(m->q[qi].driver, 0);
	return q_avail(&m->q[qi])->idx;
}

uint16_t virtio_model_avail_flags(const struct virtio_model *m, unsigned qi)
{
	ck_assert_uint_ne(m->q[qi].driver, 0);
	return q_avail(&m->q[qi])->flags;
}

uint16_t virtio_model_used_idx(const struct virtio_model *m, unsigned qi)
{
	ck_assert_uint_ne(m->q[qi].device, 0);
	return q_used(&m->q[qi])->idx;
}

void virtio_model_set_no_notify(struct virtio_model *m, unsigned qi, int on)
{
	struct vq_used *u;

	ck_assert_uint_ne(m->q[qi].device, 0);
	u = q_used(&m->q[qi]);
	if (on)
		u->flags |= VIRTIO_MODEL_USED_F_NO_NOTIFY;
	else
		u->flags &= (uint16_t)~VIRTIO_MODEL_USED_F_NO_NOTIFY;
}

void virtio_model_config_changed(struct virtio_model *m)
{
	m->config_generation++;
	m->int_status |= 2;
}

/* The device-specific configuration (5.1.4 for the network device), little-endian. */
static uint32_t config_word(const struct virtio_model *m, uint32_t off)
{
	uint8_t c[16] = { 0 };

	if (m->device_id != WEIR_VIRTIO_ID_NET || off >= sizeof(c))
		return 0;
	memcpy(c, m->mac, 6);
	c[6] = (uint8_t)m->net_status;
	c[7] = (uint8_t)(m->net_status >> 8);
	c[8] = (uint8_t)m->max_virtqueue_pairs;
	c[9] = (uint8_t)(m->max_virtqueue_pairs >> 8);
	c[10] = (uint8_t)m->mtu;
	c[11] = (uint8_t)(m->mtu >> 8);
	return (uint32_t)c[off] | (uint32_t)c[off + 1] << 8 | (uint32_t)c[off + 2] << 16 |
	       (uint32_t)c[off + 3] << 24;
}

static struct virtio_model_queue *sel_queue(struct virtio_model *m)
{
	return m->queue_sel < VIRTIO_MODEL_QUEUES ? &m->q[m->queue_sel] : NULL;
}

static uint32_t model_read(void *ctx, uint32_t off)
{
	struct virtio_model *m = ctx;
	struct virtio_model_queue *q = sel_queue(m);

	if (off & 3) {
		proto_error(m, "unaligned read at %#x", off);
		return 0;
	}
	if (off >= 0x100)
		return config_word(m, off - 0x100);
	switch (off) {
	case 0x000:
		return m->magic;
	case 0x004:
		return m->version;
	case 0x008:
		return m->device_id;
	case 0x00c:
		return m->vendor_id;
	case 0x010:
		if (m->features_sel < 2) {
			m->features_read |= 1u << m->features_sel;
			return (uint32_t)(m->features >> (32 * m->features_sel));
		}
		return 0;
	case 0x034:
		return q != NULL && m->queue_sel < m->nqueues ? q->num_max : 0;
	case 0x044:
		return q != NULL ? q->ready : 0;
	case 0x060:
		return m->int_status;
	case 0x070:
		return m->status;
	case 0x0fc:
		return m->config_generation;
	default:
		/* Write-only registers read back as 0, as QEMU's transport does. */
		return 0;
	}
}

/* Status writes (2.1, 3.1.1): 0 resets; otherwise bits are only added, in the order the
 * initialisation sequence gives them. */
static void status_write(struct virtio_model *m, uint32_t v)
{
	uint32_t old = m->status;

	if (m->nstatus < VIRTIO_MODEL_STATUS_LOG)
		m->status_log[m->nstatus] = v;
	m->nstatus++;
	if (v == 0) {
		m->resets++;
		model_reset(m);
		return;
	}
	if (old & ~v & ~(uint32_t)VIRTIO_MODEL_S_DEVICE_NEEDS_RESET)
		proto_error(m, "status %#x clears bits of %#x without a reset", v, old);
	if ((v & VIRTIO_MODEL_S_FEATURES_OK) && !(old & VIRTIO_MODEL_S_FEATURES_OK)) {
		if (!(v & VIRTIO_MODEL_S_DRIVER))
			proto_error(m, "FEATURES_OK before DRIVER");
		if (m->driver_features & ~m->features)
			proto_error(m, "driver accepted features %#llx not offered",
				    (unsigned long long)(m->driver_features & ~m->features));
		if (m->device_id == WEIR_VIRTIO_ID_NET &&
		    (m->driver_features & ~NET_FEATURES_IMPLEMENTED))
			proto_error(m,
				    "driver accepted features %#llx the model does not implement",
				    (unsigned long long)(m->driver_features &
							 ~NET_FEATURES_IMPLEMENTED));
		/* A feature that needs another may not be accepted without it (2.2.1, 5.1.3.1). */
		if ((m->driver_features & WEIR_VIRTIO_NET_F_HOST_TSO4) &&
		    !(m->driver_features & WEIR_VIRTIO_NET_F_CSUM))
			proto_error(m, "driver accepted HOST_TSO4 without CSUM");
		if ((m->driver_features & WEIR_VIRTIO_NET_F_GUEST_TSO4) &&
		    !(m->driver_features & WEIR_VIRTIO_NET_F_GUEST_CSUM))
			proto_error(m, "driver accepted GUEST_TSO4 without GUEST_CSUM");
		/* A modern driver must accept VERSION_1 when offered (6.1). */
		if ((m->features & WEIR_VIRTIO_F_VERSION_1) &&
		    !(m->driver_features & WEIR_VIRTIO_F_VERSION_1))
			proto_error(m, "driver did not accept VIRTIO_F_VERSION_1");
		if (m->refuse_features)
			v &= ~VIRTIO_MODEL_S_FEATURES_OK;
	}
	if ((v & VIRTIO_MODEL_S_DRIVER_OK) && !(old & VIRTIO_MODEL_S_DRIVER_OK) &&
	    !(v & VIRTIO_MODEL_S_FEATURES_OK))
		proto_error(m, "DRIVER_OK without FEATURES_OK");
	if ((v & VIRTIO_MODEL_S_DRIVER) && !(v & VIRTIO_MODEL_S_ACKNOWLEDGE))
		proto_error(m, "DRIVER without ACKNOWLEDGE");
	m->status = v | (old & VIRTIO_MODEL_S_DEVICE_NEEDS_RESET);
}

/* QueueReady written 1 (4.2.3.2): the queue's size and rings must be set, and aligned as 2.6
 * asks (descriptor table 16, avail ring 2, used ring 4), after the features were settled. */
static void queue_ready(struct virtio_model *m, struct virtio_model_queue *q, uint32_t v)
{
	unsigned qi = (unsigned)(q - m->q);

	if (v == 0) {
		q->ready = 0;
		return;
	}
	if (!(m->status & VIRTIO_MODEL_S_FEATURES_OK))
		proto_error(m, "queue %u made ready before FEATURES_OK", qi);
	if (q->num == 0 || q->desc == 0 || q->driver == 0 || q->device == 0)
		proto_error(m, "queue %u made ready without size or rings", qi);
	if ((q->desc & 15) || (q->driver & 1) || (q->device & 3))
		proto_error(m, "queue %u rings misaligned", qi);
	q->ready = 1;
	q->last_avail = 0;
	q->used_idx = 0;
	q->npool = 0;
	memset(q->owner, 0, sizeof(q->owner));
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

static void model_write(void *ctx, uint32_t off, uint32_t v)
{
	struct virtio_model *m = ctx;
	struct virtio_model_queue *q = sel_queue(m);

	if (off & 3) {
		proto_error(m, "unaligned write at %#x", off);
		return;
	}
	if (off >= 0x030 && off <= 0x0a4 && off != 0x050 && off != 0x060 && off != 0x064 &&
	    off != 0x070) {
		/* The queue registers act on QueueSel, which must name a queue that exists. */
		if (off != 0x030 && (q == NULL || m->queue_sel >= m->nqueues)) {
			proto_error(m, "queue register %#x written for missing queue %u", off,
				    m->queue_sel);
			return;
		}
		if (off != 0x030 && off != 0x044 && q->ready) {
			proto_error(m, "queue %u register %#x written while ready", m->queue_sel,
				    off);
			return;
		}
	}
	switch (off) {
	case 0x014:
		m->features_sel = v;
		break;
	case 0x020:
		if (m->status & VIRTIO_MODEL_S_FEATURES_OK)
			proto_error(m, "DriverFeatures written after FEATURES_OK");
		if (m->driver_features_sel < 2) {
			m->driver_features_written |= 1u << m->driver_features_sel;
			if (m->driver_features_sel == 0)
				set_lo(&m->driver_features, v);
			else
				set_hi(&m->driver_features, v);
		} else if (v != 0) {
			proto_error(m, "DriverFeatures window %u written %#x",
				    m->driver_features_sel, v);
		}
		break;
	case 0x024:
		m->driver_features_sel = v;
		break;
	case 0x030:
		m->queue_sel = v;
		break;
	case 0x038:
		if (v == 0 || v > q->num_max || (v & (v - 1)) != 0)
			proto_error(m, "queue %u size %u (max %u, a power of two)", m->queue_sel, v,
				    q->num_max);
		else
			q->num = (uint16_t)v;
		break;
	case 0x044:
		queue_ready(m, q, v);
		break;
	case 0x050:
		queue_notify(m, v);
		break;
	case 0x064:
		m->int_status &= ~v;
		break;
	case 0x070:
		status_write(m, v);
		break;
	case 0x080:
		set_lo(&q->desc, v);
		break;
	case 0x084:
		set_hi(&q->desc, v);
		break;
	case 0x090:
		set_lo(&q->driver, v);
		break;
	case 0x094:
		set_hi(&q->driver, v);
		break;
	case 0x0a0:
		set_lo(&q->device, v);
		break;
	case 0x0a4:
		set_hi(&q->device, v);
		break;
	default:
		proto_error(m, "write %#x to read-only or unknown register %#x", v, off);
		break;
	}
}

struct weir_virtio_bus virtio_model_bus(struct virtio_model *m)
{
	return (struct weir_virtio_bus){ .read = model_read, .write = model_write, .ctx = m };
}
