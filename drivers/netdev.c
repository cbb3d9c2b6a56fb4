/* netdev.c - checked wrappers around a driver's ops, and opening a device from a spec string. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "netdev"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/csum.h>
#include <weir/netdev.h>

#include "netdev_priv.h"

/* Per thread where there are threads; a bare-metal image has one (and no TLS runtime). */
#ifdef CONFIG_WEIR_HOSTED
static _Thread_local char last_error[256];
#else
static char last_error[256];
#endif

void weir__netdev_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	weir_log_debug("open failed: %s", last_error);
}

const char *weir_netdev_last_error(void)
{
	return last_error;
}

uint32_t weir__netdev_rx_len(uint8_t *data, uint32_t len, struct weir_netdev_stats *st)
{
	if (len < WEIR_ETH_HLEN) {
		st->rx_runts++;
		return 0;
	}
	if (len < WEIR_ETH_MIN_FRAME) {
		/* Pad like the wire: Linux TAP and lwIP send 42-byte ARP frames unpadded, and lwIP
		 * 2.1.3 must never see fewer than 60 bytes (netdev.h). */
		memset(data + len, 0, WEIR_ETH_MIN_FRAME - len);
		st->rx_padded++;
		return WEIR_ETH_MIN_FRAME;
	}
	return len;
}

uint32_t weir__mmio_read32(void *ctx, uint32_t off)
{
	uint32_t v = *(volatile const uint32_t *)((uintptr_t)ctx + off);

#if defined(__aarch64__)
	/* Later loads of memory the device writes (a used ring after its interrupt status) are
	 * not to pass this read (what Linux's readl() does). */
	__asm__ volatile("dmb oshld" ::: "memory");
#endif
	return v;
}

void weir__mmio_write32(void *ctx, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)((uintptr_t)ctx + off) = v;
}

/* Whether the checksum a virtio header left partial (csum_start/csum_offset) is the TCP or UDP
 * checksum of an unfragmented IPv4 packet, which the stack can skip checking for this frame. */
static int l4_csum_skippable(const uint8_t *data, size_t len, size_t start, size_t off)
{
	size_t ihl;

	if (len < WEIR_ETH_HLEN + 20 || data[12] != 0x08 || data[13] != 0x00 ||
	    (data[14] >> 4) != 4)
		return 0;
	ihl = (size_t)(data[14] & 0x0f) * 4;
	if (ihl < 20 || start != WEIR_ETH_HLEN + ihl || (data[20] & 0x3f) != 0 || data[21] != 0)
		return 0; /* not where this packet's L4 header is, or a fragment (MF or offset) */
	return (data[23] == 6 && off == 16) || (data[23] == 17 && off == 6);
}

int weir__netdev_rx_csum_partial(struct weir_frame *f, size_t len, size_t start, size_t off)
{
	size_t at = start + off;
	uint16_t sum;

	if (start < WEIR_ETH_HLEN || at + 2 > len)
		return -1;
	if (l4_csum_skippable(f->data, len, start, off)) {
		f->flags |= WEIR_FRAME_L4_CSUM_OK;
		return 0;
	}
	/* The field holds the pseudo-header sum: summing from csum_start includes it. An IPv4
	 * packet ends where its total length says: what follows is Ethernet padding. */
	if (len >= WEIR_ETH_HLEN + 20 && f->data[12] == 0x08 && f->data[13] == 0x00 &&
	    (f->data[14] >> 4) == 4) {
		size_t end = WEIR_ETH_HLEN + (((size_t)f->data[16] << 8) | f->data[17]);

		if (end < len && end >= at + 2)
			len = end;
	}
	sum = (uint16_t)~weir_csum(f->data + start, len - start);
	if (sum == 0)
		sum = 0xffff; /* the same in one's complement; 0 is "none" to UDP */
	memcpy(f->data + at, &sum, sizeof(sum));
	return 0;
}

int weir__netdev_l4_csum_checked(const uint8_t *data, size_t len)
{
	size_t ihl;

	if (len < WEIR_ETH_HLEN + 20 || data[12] != 0x08 || data[13] != 0x00 ||
	    (data[14] >> 4) != 4)
		return 0;
	ihl = (size_t)(data[14] & 0x0f) * 4;
	if (ihl < 20 || len < WEIR_ETH_HLEN + ihl || (data[20] & 0x3f) != 0 || data[21] != 0)
		return 0;
	return data[23] == 6 || data[23] == 17;
}

int weir_netdev_rx_burst(struct weir_netdev *dev, struct weir_frame **frames, int n)
{
	WEIR_EINVAL_IF(dev == NULL || frames == NULL || n < 0);
	return n == 0 ? 0 : dev->ops->rx_burst(dev, frames, n);
}

int weir_netdev_tx_burst(struct weir_netdev *dev, const struct weir_tx_frame *frames, int n)
{
	WEIR_EINVAL_IF(dev == NULL || frames == NULL || n < 0);
	return n == 0 ? 0 : dev->ops->tx_burst(dev, frames, n);
}

void weir_netdev_release(struct weir_frame *frame)
{
	if (frame != NULL && frame->dev != NULL)
		frame->dev->ops->release(frame->dev, frame);
}

int weir_netdev_get_caps(const struct weir_netdev *dev, struct weir_netdev_caps *caps)
{
	WEIR_EINVAL_IF(dev == NULL || caps == NULL);
	memset(caps, 0, sizeof(*caps));
	caps->fd = -1;
	dev->ops->get_caps(dev, caps);
	return 0;
}

int weir_netdev_get_stats(const struct weir_netdev *dev, struct weir_netdev_stats *stats)
{
	WEIR_EINVAL_IF(dev == NULL || stats == NULL);
	memset(stats, 0, sizeof(*stats));
	if (dev->ops->get_stats != NULL)
		dev->ops->get_stats(dev, stats);
	return 0;
}

uint64_t weir_netdev_next_deadline_ns(struct weir_netdev *dev)
{
	if (dev == NULL || dev->ops->next_deadline_ns == NULL)
		return WEIR_DEADLINE_NEVER;
	return dev->ops->next_deadline_ns(dev);
}

int weir_netdev_poll(struct weir_netdev *dev)
{
	WEIR_EINVAL_IF(dev == NULL);
	return dev->ops->poll != NULL ? dev->ops->poll(dev) : 0;
}

int weir_netdev_rx_buffers_low(struct weir_netdev *dev)
{
	if (dev == NULL || dev->ops->rx_buffers_low == NULL)
		return 0;
	return dev->ops->rx_buffers_low(dev);
}

void weir_netdev_close(struct weir_netdev *dev)
{
	if (dev != NULL)
		dev->ops->close(dev);
}

uint32_t weir__toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len)
{
	uint32_t hash = 0, window;

	if (keylen < 4)
		return 0;
	window = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	/* Each input bit, from the most significant, XORs in the 32 key bits starting at its
	 * position; the window slides one key bit per input bit. */
	for (size_t i = 0; i < len && i + 4 < keylen; i++) {
		for (int b = 7; b >= 0; b--) {
			if (in[i] & (1u << b))
				hash ^= window;
			window = window << 1 | ((uint32_t)(key[i + 4] >> b) & 1u);
		}
	}
	return hash;
}

int weir_netdev_rx_queue_of(const struct weir_netdev *dev, const struct weir_flow_key *k)
{
	if (dev == NULL || k == NULL || dev->ops->rx_queue_of == NULL)
		return -1;
	return dev->ops->rx_queue_of(dev, k);
}

int weir_netdev_open_queues(const char *spec, const struct weir_netdev_params *params, unsigned n,
			    struct weir_netdev **out)
{
	static const struct weir_netdev_params defaults;
	const struct weir__netdev_driver *const *d;
	const char *colon;
	char known[256];
	size_t used = 0;

	last_error[0] = '\0';
	WEIR_EINVAL_IF(spec == NULL || out == NULL || n == 0 || n > WEIR_NETDEV_QUEUES_MAX);
	if (params == NULL)
		params = &defaults;
	colon = strchr(spec, ':');
	for (d = weir__netdev_drivers; colon != NULL && *d != NULL; d++) {
		size_t len = strlen((*d)->prefix);

		if ((size_t)(colon - spec) != len || memcmp(spec, (*d)->prefix, len) != 0)
			continue;
		if ((*d)->open == NULL) {
			weir__netdev_set_error("%s", (*d)->missing);
			return WEIR_ENOTSUP;
		}
		if (n == 1)
			return (*d)->open(colon + 1, params, out);
		if ((*d)->open_queues == NULL) {
			weir__netdev_set_error("%s: this driver opens one queue (no shards)", spec);
			return WEIR_ENOTSUP;
		}
		return (*d)->open_queues(colon + 1, params, n, out);
	}
	known[0] = '\0';
	for (d = weir__netdev_drivers; *d != NULL && used < sizeof(known); d++)
		if ((*d)->open != NULL)
			used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
						 used == 0 ? "" : ", ", (*d)->usage);
	weir__netdev_set_error("'%s' names no driver built in (%s)", spec,
			       known[0] != '\0' ? known : "none");
	return WEIR_EINVAL;
}

int weir_netdev_open(const char *spec, const struct weir_netdev_params *params,
		     struct weir_netdev **out)
{
	return weir_netdev_open_queues(spec, params, 1, out);
}
