/* memdev.c - an in-memory netdev for unit tests. */
#include <stdlib.h>
#include <string.h>

#include <weir/compiler.h>
#include <weir/error.h>

#include "memdev.h"

static int md_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct memdev *m = (struct memdev *)nd;
	int got = 0;

	if (m->rx_pool != 0) {
		unsigned held = memdev_held(m);

		n = held >= m->rx_pool ? 0 : WEIR_MIN(n, (int)(m->rx_pool - held));
	}
	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(m->frames) && got < n; i++) {
		if (!m->queued[i])
			continue;
		m->queued[i] = 0;
		m->held[i] = 1;
		out[got++] = &m->frames[i];
	}
	return got;
}

static void md_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct memdev *m = (struct memdev *)nd;
	long i = f - m->frames;

	WEIR_BUG_ON(i < 0 || i >= (long)WEIR_ARRAY_SIZE(m->frames));
	WEIR_BUG_ON(!m->held[i]);
	m->held[i] = 0;
	m->releases++;
	if (f->data != m->bufs[i]) {
		free(f->data); /* an exact-size heap frame */
		f->data = m->bufs[i];
	}
}

static int md_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *fr, int n)
{
	struct memdev *m = (struct memdev *)nd;
	int i;

	if (m->tx_fail == 1)
		return 0;
	if (m->tx_fail == 2)
		return WEIR_EIO;
	for (i = 0; i < n && m->ntx < MEMDEV_MAX_TX; i++) {
		struct memdev_tx *t = &m->tx[m->ntx++];

		t->len = 0;
		for (unsigned k = 0; k < fr[i].iovcnt; k++) {
			WEIR_BUG_ON(t->len + fr[i].iov[k].len > sizeof(t->data));
			memcpy(t->data + t->len, fr[i].iov[k].base, fr[i].iov[k].len);
			t->len += fr[i].iov[k].len;
		}
		WEIR_BUG_ON_NE(t->len, fr[i].len);
		t->flags = fr[i].flags;
		t->l4_offset = fr[i].l4_offset;
		t->l4_hlen = fr[i].l4_hlen;
		t->gso_size = fr[i].gso_size;
	}
	return i;
}

static void md_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	caps->offloads = ((const struct memdev *)nd)->offloads;
	caps->mtu = 1500;
	caps->fd = -1;
	caps->poll_mode = 0;
}

static void md_close(struct weir_netdev *nd)
{
	WEIR_UNUSED(nd);
}

static int md_rx_buffers_low(struct weir_netdev *nd)
{
	const struct memdev *m = (const struct memdev *)nd;
	unsigned held;

	if (m->rx_pool == 0)
		return 0; /* no pool: not a walk of every slot at every poll */
	held = memdev_held(m);
	return held >= m->rx_pool || m->rx_pool - held < m->rx_pool / 8;
}

static const struct weir_netdev_ops memdev_ops = {
	.rx_burst = md_rx_burst,
	.release = md_release,
	.tx_burst = md_tx_burst,
	.get_caps = md_get_caps,
	.rx_buffers_low = md_rx_buffers_low,
	.close = md_close,
};

void memdev_init(struct memdev *m)
{
	memset(m, 0, sizeof(*m));
	m->nd.ops = &memdev_ops;
	m->nd.name = "memdev";
	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(m->frames); i++) {
		m->frames[i].data = m->bufs[i];
		m->frames[i].cap = sizeof(m->bufs[i]);
		m->frames[i].dev = &m->nd;
	}
}

int memdev_inject(struct memdev *m, const void *data, size_t len)
{
	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(m->frames); i++) {
		if (m->queued[i] || m->held[i])
			continue;
		WEIR_BUG_ON(!m->exact_cap && len > sizeof(m->bufs[i]));
		m->frames[i].data = m->bufs[i];
		if (m->exact_cap) {
			m->frames[i].data = malloc(len);
			WEIR_BUG_ON(m->frames[i].data == NULL);
		}
		memcpy(m->frames[i].data, data, len);
		m->frames[i].len = (uint32_t)len;
		m->frames[i].flags = 0; /* a test may set them after injecting */
		m->frames[i].cap = m->exact_cap ? (uint32_t)len : sizeof(m->bufs[i]);
		m->queued[i] = 1;
		return (int)i;
	}
	return -1;
}

unsigned memdev_outstanding(const struct memdev *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(m->frames); i++)
		n += (unsigned)(m->queued[i] + m->held[i]);
	return n;
}

unsigned memdev_held(const struct memdev *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < WEIR_ARRAY_SIZE(m->frames); i++)
		n += (unsigned)m->held[i];
	return n;
}
