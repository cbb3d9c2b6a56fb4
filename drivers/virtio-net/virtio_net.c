/* virtio_net.c - the virtio-net netdev on the virtio-mmio transport (virtio 1.x, split rings):
 * feature negotiation, receive buffers posted ahead and handed over in place, transmit behind the
 * virtio-net header with checksum and segmentation offload; and a one-shot virtio-rng read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "virtio-net"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/csum.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/virtio_net.h>

#include "netdev_priv.h"

#ifndef CONFIG_WEIR_VIRTIO_NET_RX_FRAMES
#define CONFIG_WEIR_VIRTIO_NET_RX_FRAMES 64
#endif
#ifndef CONFIG_WEIR_VIRTIO_NET_TX_FRAMES
#define CONFIG_WEIR_VIRTIO_NET_TX_FRAMES 32
#endif

/* virtio-mmio registers (virtio 1.x, 4.2.2). */
#define VMMIO_MAGIC	       0x000
#define VMMIO_VERSION	       0x004
#define VMMIO_DEVICE_ID	       0x008
#define VMMIO_DEV_FEATURES     0x010
#define VMMIO_DEV_FEATURES_SEL 0x014
#define VMMIO_DRV_FEATURES     0x020
#define VMMIO_DRV_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL	       0x030
#define VMMIO_QUEUE_NUM_MAX    0x034
#define VMMIO_QUEUE_NUM	       0x038
#define VMMIO_QUEUE_READY      0x044
#define VMMIO_QUEUE_NOTIFY     0x050
#define VMMIO_INT_STATUS       0x060
#define VMMIO_INT_ACK	       0x064
#define VMMIO_STATUS	       0x070
#define VMMIO_QUEUE_DESC_LO    0x080
#define VMMIO_QUEUE_DESC_HI    0x084
#define VMMIO_QUEUE_DRIVER_LO  0x090
#define VMMIO_QUEUE_DRIVER_HI  0x094
#define VMMIO_QUEUE_DEVICE_LO  0x0a0
#define VMMIO_QUEUE_DEVICE_HI  0x0a4
#define VMMIO_CONFIG	       0x100
#define VMMIO_MAGIC_VALUE      0x74726976u /* "virt" */

/* Device status bits (2.1). */
#define ST_ACKNOWLEDGE 0x01u
#define ST_DRIVER      0x02u
#define ST_DRIVER_OK   0x04u
#define ST_FEATURES_OK 0x08u
#define ST_NEEDS_RESET 0x40u
#define ST_FAILED      0x80u

/* Split virtqueue (2.6). */
#define VRING_DESC_F_NEXT	   1u
#define VRING_DESC_F_WRITE	   2u
#define VRING_AVAIL_F_NO_INTERRUPT 1u
#define VRING_USED_F_NO_NOTIFY	   1u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

/* The net header with VIRTIO_F_VERSION_1 (5.1.6): num_buffers is always there. */
struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
#define VNET_HDR_LEN	  12u
#define VNET_F_NEEDS_CSUM 1u
#define VNET_F_DATA_VALID 2u
#define VNET_GSO_NONE	  0u
#define VNET_GSO_TCPV4	  1u
_Static_assert(sizeof(struct vnet_hdr) == VNET_HDR_LEN, "virtio-net header");

/* The config's link status bit (5.1.4). */
#define VNET_S_LINK_UP 1u

/* Features we can use, and the transport's (6). */
#define F_WANTED                                                                                   \
	(WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_GUEST_CSUM | WEIR_VIRTIO_NET_F_MTU |           \
	 WEIR_VIRTIO_NET_F_MAC | WEIR_VIRTIO_NET_F_HOST_TSO4 | WEIR_VIRTIO_NET_F_STATUS |          \
	 WEIR_VIRTIO_F_VERSION_1)

#define RXQ	   0u
#define TXQ	   1u
#define MTU_MIN	   576u
#define MTU_MAX	   1500u
#define FRAMES_MAX 1024u
/* Receive buffers: two bytes of slack first so that, behind the 12-byte header and the 14-byte
 * Ethernet header, the IP header is word-aligned; room for a 1500-byte MTU, the Ethernet header
 * and a VLAN tag; 1536 in all keeps buffers 64-byte aligned. */
#define RX_SLACK    2u
#define RX_BUF_SIZE 1536u
#define RX_DEV_LEN  (RX_BUF_SIZE - RX_SLACK) /* what the device may write: header and frame */
/* Transmit buffers: the header and one frame, or with TSO a super-frame (an IPv4 packet of up to
 * 64 KiB behind its Ethernet header). */
#define TX_BUF_PLAIN (VNET_HDR_LEN + MTU_MAX + WEIR_ETH_HLEN + 4)
#define TX_BUF_TSO   (VNET_HDR_LEN + 65535u + WEIR_ETH_HLEN)
_Static_assert(VNET_HDR_LEN + MTU_MAX + WEIR_ETH_HLEN + 4 <= RX_DEV_LEN, "a receive buffer");

struct vq {
	uint16_t size;	    /* entries: a power of two */
	uint16_t avail_idx; /* ours, free-running */
	uint16_t used_seen; /* the device's used idx we have consumed up to */
	struct vring_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size] */
	volatile uint16_t *used;  /* flags, idx, then struct vring_used_elem[size] */
	void *mem;		  /* what the three came from */
};

struct vnet_dev {
	struct weir_netdev nd;
	struct weir_virtio_bus bus;
	uint8_t mac[WEIR_ETH_ALEN];
	uint16_t mtu;
	int irq;
	uint64_t features;
	struct vq rx, tx;
	unsigned nrx, ntx;
	uint8_t *rx_mem; /* nrx buffers of RX_BUF_SIZE */
	struct weir_frame *frames;
	uint8_t *tx_mem; /* ntx buffers of tx_buf_size */
	size_t tx_buf_size;
	uint16_t *tx_free; /* free transmit buffer (= descriptor) numbers */
	/* Which buffers the device holds now (1 byte each: receive ones, then transmit ones): a
	 * used element naming one it does not hold is a broken device, counted and ignored rather
	 * than handing the same frame to the stack twice or freeing a buffer twice. */
	uint8_t *dev_owns;
	unsigned ntx_free;
	unsigned rx_held;
	uint64_t next_status_ns;
	struct weir_netdev_stats st;
	struct weir_virtio_net_stats vst;
};

static const struct weir_netdev_ops vnet_ops;

static uint32_t rd(const struct weir_virtio_bus *b, uint32_t off)
{
	return b->read(b->ctx, off);
}

static void wr(const struct weir_virtio_bus *b, uint32_t off, uint32_t v)
{
	b->write(b->ctx, off, v);
}

void weir_virtio_mmio_bus(struct weir_virtio_bus *bus, uintptr_t base)
{
	if (bus == NULL)
		return;
	bus->read = weir__mmio_read32;
	bus->write = weir__mmio_write32;
	bus->ctx = (void *)base;
}

/* Ordering between our ring writes and the device (2.6.13): the device must see a descriptor
 * before the avail index that publishes it, and we must read a used element only after the used
 * index that covers it. The device is another observer of memory (DMA), hence the outer-shareable
 * barriers on Arm; elsewhere a full fence. */
static inline void wmb_dev(void)
{
#if defined(__aarch64__)
	__asm__ volatile("dmb oshst" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline void rmb_dev(void)
{
#if defined(__aarch64__)
	__asm__ volatile("dmb oshld" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static inline void mb_dev(void)
{
#if defined(__aarch64__)
	__asm__ volatile("dmb osh" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static uint64_t dma(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

uint32_t weir_virtio_mmio_probe(const struct weir_virtio_bus *bus, uint32_t *version)
{
	uint32_t v;

	if (version != NULL)
		*version = 0;
	if (bus == NULL || bus->read == NULL || rd(bus, VMMIO_MAGIC) != VMMIO_MAGIC_VALUE)
		return 0;
	v = rd(bus, VMMIO_VERSION);
	if (version != NULL)
		*version = v;
	return rd(bus, VMMIO_DEVICE_ID);
}

/* --- virtqueues ------------------------------------------------------------------------------ */

static uint16_t pow2_at_least(unsigned n)
{
	unsigned p = 1;

	while (p < n)
		p <<= 1;
	return (uint16_t)p;
}

/* Frees a queue's rings (the device must be reset or the queue never made ready). */
static void vq_free(struct vq *q)
{
	free(q->mem);
	memset(q, 0, sizeof(*q));
}

/* Sets up queue idx with room for at least want entries (fewer if the device has fewer): the
 * rings in one zeroed block, each part at the alignment 2.6 asks (16, 2, 4). Returns the queue's
 * size, or a negative error. */
static int vq_setup(const struct weir_virtio_bus *b, unsigned idx, unsigned want, struct vq *q,
		    int no_interrupt)
{
	uint32_t max;
	size_t desc_sz, avail_sz, used_sz, used_off;
	uint8_t *mem;

	wr(b, VMMIO_QUEUE_SEL, idx);
	if (rd(b, VMMIO_QUEUE_READY) != 0) {
		weir__netdev_set_error("virtio queue %u is already in use after a reset", idx);
		return WEIR_EIO;
	}
	max = rd(b, VMMIO_QUEUE_NUM_MAX);
	if (max == 0) {
		weir__netdev_set_error("virtio device has no queue %u", idx);
		return WEIR_ENODEV;
	}
	q->size = pow2_at_least(want);
	while (q->size > max)
		q->size >>= 1; /* the largest power of two the device takes */
	desc_sz = 16u * q->size;
	avail_sz = 6u + 2u * q->size;
	used_off = (desc_sz + avail_sz + 3u) & ~(size_t)3u;
	used_sz = 6u + 8u * q->size;
	mem = calloc(1, used_off + used_sz + 16u);
	if (mem == NULL) {
		weir__netdev_set_error("no memory for virtio queue %u (%u entries)", idx,
				       (unsigned)q->size);
		return WEIR_ENOMEM;
	}
	q->mem = mem;
	mem = (uint8_t *)(((uintptr_t)mem + 15u) & ~(uintptr_t)15u);
	q->desc = (struct vring_desc *)(void *)mem;
	q->avail = (volatile uint16_t *)(void *)(mem + desc_sz);
	q->used = (volatile uint16_t *)(void *)(mem + used_off);
	q->avail_idx = 0;
	q->used_seen = 0;
	if (no_interrupt)
		q->avail[0] = VRING_AVAIL_F_NO_INTERRUPT;
	wr(b, VMMIO_QUEUE_NUM, q->size);
	wr(b, VMMIO_QUEUE_DESC_LO, (uint32_t)dma(q->desc));
	wr(b, VMMIO_QUEUE_DESC_HI, (uint32_t)(dma(q->desc) >> 32));
	wr(b, VMMIO_QUEUE_DRIVER_LO, (uint32_t)dma(q->avail));
	wr(b, VMMIO_QUEUE_DRIVER_HI, (uint32_t)(dma(q->avail) >> 32));
	wr(b, VMMIO_QUEUE_DEVICE_LO, (uint32_t)dma(q->used));
	wr(b, VMMIO_QUEUE_DEVICE_HI, (uint32_t)(dma(q->used) >> 32));
	wmb_dev();
	wr(b, VMMIO_QUEUE_READY, 1);
	return q->size;
}

/* Offers descriptor head to the device (not yet published: vq_publish). */
static void vq_push(struct vq *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	q->avail_idx++;
}

/* Publishes what vq_push offered and tells the device, unless it asked not to be told. */
static void vq_publish(struct vnet_dev *d, struct vq *q, unsigned idx)
{
	/* A full barrier, not a store barrier: a receive buffer goes back to the device here, and
	 * the stack's loads from it must be done before the device may write it again. */
	mb_dev();
	q->avail[1] = q->avail_idx;
	mb_dev(); /* the index before we read the device's NO_NOTIFY (2.6.13.6) */
	if (!(q->used[0] & VRING_USED_F_NO_NOTIFY)) {
		wr(&d->bus, VMMIO_QUEUE_NOTIFY, idx);
		d->vst.notifies++;
	}
}

/* The next used element, or NULL when the device has given back nothing new. */
static const volatile struct vring_used_elem *vq_next_used(struct vq *q)
{
	const volatile struct vring_used_elem *ring =
		(const volatile struct vring_used_elem *)(const volatile void *)(q->used + 2);
	uint16_t idx = q->used[1];

	if (idx == q->used_seen)
		return NULL;
	rmb_dev();
	return &ring[q->used_seen++ & (q->size - 1)];
}

/* --- receive --------------------------------------------------------------------------------- */

static uint8_t *rx_buf(const struct vnet_dev *d, unsigned i)
{
	return d->rx_mem + (size_t)i * RX_BUF_SIZE + RX_SLACK;
}

/* Descriptor i is receive buffer i for the life of the device: writable by the device. */
static void rx_post(struct vnet_dev *d, unsigned i)
{
	struct vring_desc *ds = &d->rx.desc[i];

	ds->addr = dma(rx_buf(d, i));
	ds->len = RX_DEV_LEN;
	ds->flags = VRING_DESC_F_WRITE;
	ds->next = 0;
	d->dev_owns[i] = 1;
	vq_push(&d->rx, (uint16_t)i);
}

/* What the header says about a received frame of len bytes; -1 for one we must drop. */
static int rx_offload(struct vnet_dev *d, const struct vnet_hdr *h, struct weir_frame *f,
		      size_t len)
{
	if (h->gso_type != VNET_GSO_NONE)
		return -1; /* we never take GUEST_TSO4: a super-frame here is a device bug */
	if (h->flags & VNET_F_NEEDS_CSUM) {
		if (!(d->features & WEIR_VIRTIO_NET_F_GUEST_CSUM) ||
		    weir__netdev_rx_csum_partial(f, len, h->csum_start, h->csum_offset) != 0)
			return -1;
		d->vst.rx_csum_partial++;
	} else if (h->flags & VNET_F_DATA_VALID) {
		if (!(d->features & WEIR_VIRTIO_NET_F_GUEST_CSUM))
			return -1;
		if (weir__netdev_l4_csum_checked(f->data, len))
			f->flags |= WEIR_FRAME_L4_CSUM_OK;
		d->vst.rx_csum_valid++;
	}
	return 0;
}

static int vnet_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;
	const volatile struct vring_used_elem *u;
	int got = 0, reposted = 0;

	while (got < n && (u = vq_next_used(&d->rx)) != NULL) {
		uint32_t id = u->id, len = u->len;
		struct weir_frame *f;
		struct vnet_hdr h;

		if (id >= d->nrx || !d->dev_owns[id]) {
			/* Not a buffer the device holds: a broken device. Nothing to give back. */
			d->st.rx_errors++;
			d->vst.device_errors++;
			continue;
		}
		d->dev_owns[id] = 0;
		f = &d->frames[id];
		if (len < VNET_HDR_LEN) {
			d->st.rx_errors++;
			goto repost;
		}
		if (len > RX_DEV_LEN) {
			d->st.rx_oversize++;
			goto repost;
		}
		memcpy(&h, rx_buf(d, id), sizeof(h));
		len -= VNET_HDR_LEN;
		f->flags = 0;
		if (len >= WEIR_ETH_HLEN && rx_offload(d, &h, f, len) != 0) {
			d->vst.rx_bad_header++;
			goto repost;
		}
		f->len = weir__netdev_rx_len(f->data, len, &d->st);
		if (f->len == 0)
			goto repost;
		d->rx_held++;
		d->st.rx_frames++;
		d->st.rx_bytes += f->len;
		out[got++] = f;
		continue;
	repost:
		rx_post(d, id);
		reposted++;
	}
	if (got < n && d->rx_held == d->nrx)
		d->st.rx_nobuf++;
	if (reposted)
		vq_publish(d, &d->rx, RXQ);
	return got;
}

static void vnet_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;
	unsigned i = (unsigned)(f - d->frames);

	WEIR_BUG_ON(f < d->frames || i >= d->nrx);
	WEIR_BUG_ON(d->rx_held == 0);
	d->rx_held--;
	rx_post(d, i);
	vq_publish(d, &d->rx, RXQ);
}

static int vnet_rx_buffers_low(struct weir_netdev *nd)
{
	const struct vnet_dev *d = (const struct vnet_dev *)nd;

	return d->rx_held * 4 >= d->nrx * 3;
}

/* --- transmit -------------------------------------------------------------------------------- */

/* Takes back every transmit buffer the device is done with, whatever its order. */
static void tx_reclaim(struct vnet_dev *d)
{
	const volatile struct vring_used_elem *u;

	while ((u = vq_next_used(&d->tx)) != NULL) {
		uint32_t id = u->id;

		if (id >= d->ntx || !d->dev_owns[d->nrx + id]) {
			d->vst.device_errors++;
			continue;
		}
		d->dev_owns[d->nrx + id] = 0;
		d->tx_free[d->ntx_free++] = (uint16_t)id;
	}
}

/* Whether a frame is one we may send: offloads we negotiated, a gather list whose pieces exist
 * and add up to len, and a length from an Ethernet header to the MTU's frame (a VLAN tag allowed),
 * or to a 64 KiB IPv4 packet for a TSO super-frame. */
static int tx_frame_ok(const struct vnet_dev *d, const struct weir_tx_frame *tf)
{
	size_t max = (tf->flags & WEIR_TX_TSO4) ? TX_BUF_TSO - VNET_HDR_LEN
						: (size_t)d->mtu + WEIR_ETH_HLEN + 4;
	size_t sum = 0;

	if ((tf->flags & WEIR_TX_L4_CSUM) && !(d->features & WEIR_VIRTIO_NET_F_CSUM))
		return 0;
	if ((tf->flags & WEIR_TX_TSO4) && !(d->features & WEIR_VIRTIO_NET_F_HOST_TSO4))
		return 0;
	if (tf->len < WEIR_ETH_HLEN || tf->len > max || (tf->iov == NULL && tf->iovcnt != 0))
		return 0;
	for (unsigned k = 0; k < tf->iovcnt; k++) {
		if (tf->iov[k].base == NULL && tf->iov[k].len != 0)
			return 0;
		sum += tf->iov[k].len;
		if (sum > tf->len)
			return 0;
	}
	return sum == tf->len;
}

static int vnet_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;
	int i, bad = 0;

	tx_reclaim(d);
	for (i = 0; i < n; i++) {
		const struct weir_tx_frame *tf = &frames[i];
		struct vnet_hdr h = { 0 };
		struct vring_desc *ds;
		uint8_t *buf, *p;
		uint16_t id;

		if (!tx_frame_ok(d, tf)) {
			/* Malformed, or an offload we did not negotiate: the caller's bug. */
			bad = 1;
			break;
		}
		if (d->ntx_free == 0) {
			d->st.tx_full++;
			break;
		}
		if (tf->flags & WEIR_TX_L4_CSUM) {
			h.flags = VNET_F_NEEDS_CSUM;
			h.csum_start = tf->l4_offset;
			h.csum_offset = 16; /* the TCP checksum field */
			d->vst.tx_csum_offload++;
		}
		if (tf->flags & WEIR_TX_TSO4) {
			h.gso_type = VNET_GSO_TCPV4;
			h.gso_size = tf->gso_size;
			h.hdr_len = (uint16_t)(tf->l4_offset + tf->l4_hlen);
			d->vst.tx_super++;
		}
		id = d->tx_free[--d->ntx_free];
		buf = d->tx_mem + (size_t)id * d->tx_buf_size;
		memcpy(buf, &h, sizeof(h));
		p = buf + VNET_HDR_LEN;
		for (unsigned k = 0; k < tf->iovcnt; k++) {
			memcpy(p, tf->iov[k].base, tf->iov[k].len);
			p += tf->iov[k].len;
		}
		ds = &d->tx.desc[id];
		ds->addr = dma(buf);
		ds->len = (uint32_t)(VNET_HDR_LEN + tf->len);
		ds->flags = 0;
		ds->next = 0;
		d->dev_owns[d->nrx + id] = 1;
		vq_push(&d->tx, id);
		d->st.tx_frames++;
		d->st.tx_bytes += tf->len;
	}
	if (i > 0)
		vq_publish(d, &d->tx, TXQ);
	return i == 0 && bad ? WEIR_EINVAL : i;
}

/* --- the rest of the ops --------------------------------------------------------------------- */

static void read_link(struct vnet_dev *d)
{
	if (d->features & WEIR_VIRTIO_NET_F_STATUS) {
		uint32_t w = rd(&d->bus, VMMIO_CONFIG + 4); /* mac[4], mac[5], status */
		uint32_t up = ((w >> 16) & VNET_S_LINK_UP) ? 1u : 0u;

		if (up != d->vst.link_up)
			weir_log_info("link %s", up ? "up" : "down");
		d->vst.link_up = up;
	}
}

static int vnet_poll(struct weir_netdev *nd)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;
	uint64_t now = weir_clock_now_ns();

	tx_reclaim(d);
	if (now >= d->next_status_ns) {
		d->next_status_ns = now + WEIR_NS_PER_S;
		if (rd(&d->bus, VMMIO_STATUS) & ST_NEEDS_RESET) {
			d->vst.device_errors++;
			weir_log_error("the device needs a reset (DEVICE_NEEDS_RESET)");
		}
		read_link(d);
	}
	return 0;
}

static uint64_t vnet_next_deadline(struct weir_netdev *nd)
{
	const struct vnet_dev *d = (const struct vnet_dev *)nd;

	return d->next_status_ns;
}

static void vnet_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	const struct vnet_dev *d = (const struct vnet_dev *)nd;

	memcpy(caps->mac, d->mac, WEIR_ETH_ALEN);
	caps->mtu = d->mtu;
	caps->offloads = 0;
	if (d->features & WEIR_VIRTIO_NET_F_CSUM)
		caps->offloads |= WEIR_OFFLOAD_TX_CSUM_L4;
	if (d->features & WEIR_VIRTIO_NET_F_HOST_TSO4)
		caps->offloads |= WEIR_OFFLOAD_TX_TSO4;
	caps->rx_queues = 1;
	caps->tx_queues = 1;
	caps->fd = -1;
	caps->poll_mode = 1;
	caps->irq_wake = d->irq;
}

static void vnet_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *st)
{
	*st = ((const struct vnet_dev *)nd)->st;
}

static void vnet_free(struct vnet_dev *d)
{
	vq_free(&d->rx);
	vq_free(&d->tx);
	free(d->rx_mem);
	free(d->tx_mem);
	free(d->frames);
	free(d->tx_free);
	free(d->dev_owns);
	free(d);
}

static void vnet_close(struct weir_netdev *nd)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;

	WEIR_BUG_ON(d->rx_held != 0);
	wr(&d->bus, VMMIO_STATUS, 0); /* reset: the device lets go of every ring and buffer */
	mb_dev();
	vnet_free(d);
}

static const struct weir_netdev_ops vnet_ops = {
	.rx_burst = vnet_rx_burst,
	.release = vnet_release,
	.tx_burst = vnet_tx_burst,
	.get_caps = vnet_get_caps,
	.get_stats = vnet_get_stats,
	.next_deadline_ns = vnet_next_deadline,
	.poll = vnet_poll,
	.rx_buffers_low = vnet_rx_buffers_low,
	.close = vnet_close,
};

/* --- open ------------------------------------------------------------------------------------ */

static int mac_usable(const uint8_t *m)
{
	static const uint8_t zero[WEIR_ETH_ALEN];

	return memcmp(m, zero, WEIR_ETH_ALEN) != 0 && !(m[0] & 1);
}

/* The config's address, else the device's, else one derived from the board id (as the LAN9118
 * driver does: a keyed hash, locally administered, unicast). */
static void choose_mac(struct vnet_dev *d, const struct weir_virtio_net_config *cfg)
{
	static const uint8_t key[16] = "weir virtio mac.";
	uint64_t h;

	if (mac_usable(cfg->mac)) {
		memcpy(d->mac, cfg->mac, WEIR_ETH_ALEN);
		return;
	}
	if (d->features & WEIR_VIRTIO_NET_F_MAC) {
		uint32_t lo = rd(&d->bus, VMMIO_CONFIG), hi = rd(&d->bus, VMMIO_CONFIG + 4);

		for (int i = 0; i < 4; i++)
			d->mac[i] = (uint8_t)(lo >> (8 * i));
		d->mac[4] = (uint8_t)hi;
		d->mac[5] = (uint8_t)(hi >> 8);
		if (mac_usable(d->mac))
			return;
	}
	h = weir_siphash24(key, cfg->board_id, sizeof(cfg->board_id));
	for (int i = 0; i < WEIR_ETH_ALEN; i++)
		d->mac[i] = (uint8_t)(h >> (8 * i));
	d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02);
}

/* Steps 1-6 of 3.1.1 for any device: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK. Sets
 * *taken. */
static int negotiate(const struct weir_virtio_bus *b, uint32_t want_id, uint64_t wanted,
		     uint64_t *offered, uint64_t *taken)
{
	uint32_t version, id = weir_virtio_mmio_probe(b, &version);
	uint64_t off;

	if (id == 0 || id != want_id) {
		weir__netdev_set_error("no virtio %s device on this transport (%s %u)",
				       want_id == WEIR_VIRTIO_ID_NET ? "network" : "entropy",
				       version == 0 ? "no virtio-mmio magic, id" : "device id",
				       (unsigned)id);
		return WEIR_ENODEV;
	}
	if (version != 2) {
		weir__netdev_set_error(
			"virtio-mmio version %u: this driver speaks the modern transport (2) only; "
			"QEMU needs -global virtio-mmio.force-legacy=false",
			(unsigned)version);
		return WEIR_ENOTSUP;
	}
	wr(b, VMMIO_STATUS, 0);
	mb_dev();
	wr(b, VMMIO_STATUS, ST_ACKNOWLEDGE);
	wr(b, VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER);
	wr(b, VMMIO_DEV_FEATURES_SEL, 0);
	off = rd(b, VMMIO_DEV_FEATURES);
	wr(b, VMMIO_DEV_FEATURES_SEL, 1);
	off |= (uint64_t)rd(b, VMMIO_DEV_FEATURES) << 32;
	*offered = off;
	if (!(off & WEIR_VIRTIO_F_VERSION_1)) {
		wr(b, VMMIO_STATUS, 0);
		weir__netdev_set_error("the virtio device does not offer VIRTIO_F_VERSION_1");
		return WEIR_ENOTSUP;
	}
	*taken = off & wanted;
	/* HOST_TSO4 requires CSUM (5.1.3.1): a device may offer it alone (QEMU does with
	 * csum=off), and then we must not take it. (No effect on an entropy device: we want no
	 * bits of it but VERSION_1.) */
	if (!(*taken & WEIR_VIRTIO_NET_F_CSUM))
		*taken &= ~WEIR_VIRTIO_NET_F_HOST_TSO4;
	wr(b, VMMIO_DRV_FEATURES_SEL, 0);
	wr(b, VMMIO_DRV_FEATURES, (uint32_t)*taken);
	wr(b, VMMIO_DRV_FEATURES_SEL, 1);
	wr(b, VMMIO_DRV_FEATURES, (uint32_t)(*taken >> 32));
	wr(b, VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK);
	if (!(rd(b, VMMIO_STATUS) & ST_FEATURES_OK)) {
		wr(b, VMMIO_STATUS, 0);
		weir__netdev_set_error("the virtio device refused features %#llx",
				       (unsigned long long)*taken);
		return WEIR_EIO;
	}
	return 0;
}

static int open_fail(struct vnet_dev *d, int rc)
{
	wr(&d->bus, VMMIO_STATUS, 0);
	mb_dev();
	vnet_free(d);
	return rc;
}

int weir_virtio_net_open(const struct weir_virtio_net_config *cfg, struct weir_netdev **out)
{
	uint64_t wanted = F_WANTED;
	unsigned want_rx, want_tx;
	struct vnet_dev *d;
	int rc;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->bus.read == NULL ||
		       cfg->bus.write == NULL);
	WEIR_EINVAL_IF(cfg->mtu != 0 && (cfg->mtu < MTU_MIN || cfg->mtu > MTU_MAX));
	want_rx = cfg->rx_frames ? cfg->rx_frames : CONFIG_WEIR_VIRTIO_NET_RX_FRAMES;
	want_tx = cfg->tx_frames ? cfg->tx_frames : CONFIG_WEIR_VIRTIO_NET_TX_FRAMES;
	WEIR_EINVAL_IF(want_rx < 2 || want_rx > FRAMES_MAX || want_tx < 2 || want_tx > FRAMES_MAX);
	if (cfg->no_offloads & WEIR_VIRTIO_NET_NO_CSUM)
		wanted &= ~(WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_HOST_TSO4);
	if (cfg->no_offloads & WEIR_VIRTIO_NET_NO_TSO)
		wanted &= ~WEIR_VIRTIO_NET_F_HOST_TSO4;
	if (cfg->no_offloads & WEIR_VIRTIO_NET_NO_GUEST_CSUM)
		wanted &= ~WEIR_VIRTIO_NET_F_GUEST_CSUM;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return WEIR_ENOMEM;
	d->nd.ops = &vnet_ops;
	d->nd.name = "virtio-net";
	d->bus = cfg->bus;
	d->irq = cfg->irq ? 1 : 0;
	rc = negotiate(&d->bus, WEIR_VIRTIO_ID_NET, wanted, &d->vst.features_offered, &d->features);
	if (rc < 0) {
		vnet_free(d);
		return rc;
	}
	d->vst.features_taken = d->features;
	d->mtu = cfg->mtu ? cfg->mtu : MTU_MAX;
	if (d->features & WEIR_VIRTIO_NET_F_MTU) {
		uint16_t dev_mtu = (uint16_t)(rd(&d->bus, VMMIO_CONFIG + 8) >> 16);

		if (dev_mtu >= MTU_MIN && dev_mtu < d->mtu)
			d->mtu = dev_mtu;
	}
	choose_mac(d, cfg);
	d->vst.link_up = 1;
	read_link(d);

	rc = vq_setup(&d->bus, RXQ, want_rx, &d->rx, !d->irq);
	if (rc < 0)
		return open_fail(d, rc);
	d->nrx = want_rx < d->rx.size ? want_rx : d->rx.size;
	rc = vq_setup(&d->bus, TXQ, want_tx, &d->tx, 1);
	if (rc < 0)
		return open_fail(d, rc);
	d->ntx = want_tx < d->tx.size ? want_tx : d->tx.size;
	d->tx_buf_size = (d->features & WEIR_VIRTIO_NET_F_HOST_TSO4) ? TX_BUF_TSO : TX_BUF_PLAIN;
	d->tx_buf_size = (d->tx_buf_size + 63u) & ~(size_t)63u;
	d->rx_mem = malloc((size_t)d->nrx * RX_BUF_SIZE);
	d->frames = calloc(d->nrx, sizeof(*d->frames));
	d->tx_mem = malloc(d->ntx * d->tx_buf_size);
	d->tx_free = calloc(d->ntx, sizeof(*d->tx_free));
	d->dev_owns = calloc(d->nrx + d->ntx, 1);
	if (d->rx_mem == NULL || d->frames == NULL || d->tx_mem == NULL || d->tx_free == NULL ||
	    d->dev_owns == NULL) {
		weir__netdev_set_error("no memory for %u receive and %u transmit buffers", d->nrx,
				       d->ntx);
		return open_fail(d, WEIR_ENOMEM);
	}
	for (unsigned i = 0; i < d->ntx; i++)
		d->tx_free[i] = (uint16_t)(d->ntx - 1 - i);
	d->ntx_free = d->ntx;
	for (unsigned i = 0; i < d->nrx; i++) {
		struct weir_frame *f = &d->frames[i];

		f->data = rx_buf(d, i) + VNET_HDR_LEN;
		f->cap = RX_DEV_LEN - VNET_HDR_LEN;
		f->dev = &d->nd;
		f->drv = NULL;
		rx_post(d, i);
	}
	wr(&d->bus, VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	if (rd(&d->bus, VMMIO_STATUS) & (ST_NEEDS_RESET | ST_FAILED)) {
		weir__netdev_set_error("the virtio device reports an error after DRIVER_OK");
		return open_fail(d, WEIR_EIO);
	}
	/* Receive buffers go to the device only once it is live (3.1.1 step 8 allows either). */
	vq_publish(d, &d->rx, RXQ);
	d->next_status_ns = weir_clock_now_ns() + WEIR_NS_PER_S;
	d->vst.rx_queue_size = d->rx.size;
	d->vst.tx_queue_size = d->tx.size;
	d->vst.frames_total = d->nrx;
	*out = &d->nd;
	return 0;
}

uint32_t weir_virtio_net_irq(struct weir_netdev *nd)
{
	struct vnet_dev *d = (struct vnet_dev *)nd;
	uint32_t s;

	if (nd == NULL || nd->ops != &vnet_ops)
		return 0;
	s = rd(&d->bus, VMMIO_INT_STATUS);
	if (s != 0) {
		wr(&d->bus, VMMIO_INT_ACK, s);
		d->vst.irqs++;
	}
	return s;
}

int weir_virtio_net_get_stats(const struct weir_netdev *nd, struct weir_virtio_net_stats *out)
{
	const struct vnet_dev *d = (const struct vnet_dev *)nd;

	WEIR_EINVAL_IF(nd == NULL || out == NULL || nd->ops != &vnet_ops);
	*out = d->vst;
	out->frames_held = d->rx_held;
	out->tx_in_flight = d->ntx - d->ntx_free;
	return 0;
}

int weir_virtio_net_features_str(uint64_t bits, char *buf, size_t len)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ WEIR_VIRTIO_NET_F_CSUM, "csum" },
		{ WEIR_VIRTIO_NET_F_GUEST_CSUM, "guest_csum" },
		{ WEIR_VIRTIO_NET_F_MTU, "mtu" },
		{ WEIR_VIRTIO_NET_F_MAC, "mac" },
		{ WEIR_VIRTIO_NET_F_GUEST_TSO4, "guest_tso4" },
		{ WEIR_VIRTIO_NET_F_HOST_TSO4, "host_tso4" },
		{ WEIR_VIRTIO_NET_F_MRG_RXBUF, "mrg_rxbuf" },
		{ WEIR_VIRTIO_NET_F_STATUS, "status" },
		{ WEIR_VIRTIO_F_VERSION_1, "version_1" },
		/* Offered by QEMU, not used here (virtio 1.x 5.1.3, 6). */
		{ 1ull << 2, "ctrl_guest_offloads" },
		{ 1ull << 8, "guest_tso6" },
		{ 1ull << 9, "guest_ecn" },
		{ 1ull << 10, "guest_ufo" },
		{ 1ull << 12, "host_tso6" },
		{ 1ull << 13, "host_ecn" },
		{ 1ull << 14, "host_ufo" },
		{ 1ull << 17, "ctrl_vq" },
		{ 1ull << 18, "ctrl_rx" },
		{ 1ull << 19, "ctrl_vlan" },
		{ 1ull << 21, "guest_announce" },
		{ 1ull << 22, "mq" },
		{ 1ull << 23, "ctrl_mac_addr" },
		{ 1ull << 28, "indirect_desc" },
		{ 1ull << 29, "event_idx" },
	};
	size_t at = 0;
	int total = 0;

	if (buf != NULL && len > 0)
		buf[0] = '\0';
	for (unsigned b = 0; b < 64; b++) {
		const char *name = NULL;
		char tmp[8];
		int n;

		if (!(bits & (1ull << b)))
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
			if (names[k].bit == 1ull << b)
				name = names[k].name;
		if (name == NULL) {
			snprintf(tmp, sizeof(tmp), "bit%u", b);
			name = tmp;
		}
		n = snprintf(buf != NULL && at < len ? buf + at : NULL,
			     buf != NULL && at < len ? len - at : 0, "%s%s", total ? " " : "",
			     name);
		if (n < 0)
			return n;
		total += n;
		at += (size_t)n;
	}
	return total;
}

/* --- virtio-rng ------------------------------------------------------------------------------ */

int weir_virtio_rng_read(const struct weir_virtio_bus *bus, void *buf, size_t len,
			 uint64_t timeout_ns)
{
	const volatile struct vring_used_elem *u;
	uint64_t offered, taken, deadline;
	struct vq q = { 0 };
	uint8_t *tmp;
	int rc;

	WEIR_EINVAL_IF(bus == NULL || bus->read == NULL || bus->write == NULL || buf == NULL ||
		       len == 0);
	if (len > 4096)
		len = 4096; /* "up to len": one buffer a page long at most */
	rc = negotiate(bus, WEIR_VIRTIO_ID_RNG, WEIR_VIRTIO_F_VERSION_1, &offered, &taken);
	if (rc < 0)
		return rc;
	tmp = malloc(len);
	if (tmp == NULL) {
		wr(bus, VMMIO_STATUS, 0);
		return WEIR_ENOMEM;
	}
	rc = vq_setup(bus, 0, 1, &q, 1);
	if (rc < 0)
		goto out;
	wr(bus, VMMIO_STATUS, ST_ACKNOWLEDGE | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	q.desc[0] = (struct vring_desc){ .addr = dma(tmp),
					 .len = (uint32_t)len,
					 .flags = VRING_DESC_F_WRITE };
	vq_push(&q, 0);
	wmb_dev();
	q.avail[1] = q.avail_idx;
	mb_dev();
	wr(bus, VMMIO_QUEUE_NOTIFY, 0);
	deadline = weir_clock_now_ns();
	deadline = timeout_ns > UINT64_MAX - deadline ? UINT64_MAX : deadline + timeout_ns;
	rc = WEIR_ETIMEDOUT;
	while ((u = vq_next_used(&q)) == NULL && weir_clock_now_ns() < deadline)
		;
	if (u != NULL || (u = vq_next_used(&q)) != NULL) {
		uint32_t n = u->len < len ? u->len : (uint32_t)len;

		memcpy(buf, tmp, n);
		rc = n > 0 ? (int)n : WEIR_EIO;
	}
out:
	wr(bus, VMMIO_STATUS, 0);
	mb_dev();
	vq_free(&q);
	free(tmp);
	return rc;
}
