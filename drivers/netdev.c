/* netdev.c - checked wrappers around a driver's ops, and opening a device from a spec string. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WEIR_LOG_COMPONENT "netdev"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/netdev.h>

#include "netdev_priv.h"

#if defined(WEIR_HAVE_TAP)
#include <weir/tap.h>
#endif
#if defined(WEIR_HAVE_DPDK)
#include <weir/dpdk.h>
#endif

static _Thread_local char last_error[256];

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

int weir_netdev_rx_burst(struct weir_netdev *dev, struct weir_frame **frames, int n)
{
	if (dev == NULL || frames == NULL || n < 0)
		return WEIR_EINVAL;
	return n == 0 ? 0 : dev->ops->rx_burst(dev, frames, n);
}

int weir_netdev_tx_burst(struct weir_netdev *dev, const struct weir_tx_frame *frames, int n)
{
	if (dev == NULL || frames == NULL || n < 0)
		return WEIR_EINVAL;
	return n == 0 ? 0 : dev->ops->tx_burst(dev, frames, n);
}

void weir_netdev_release(struct weir_frame *frame)
{
	if (frame != NULL && frame->dev != NULL)
		frame->dev->ops->release(frame->dev, frame);
}

int weir_netdev_get_caps(const struct weir_netdev *dev, struct weir_netdev_caps *caps)
{
	if (dev == NULL || caps == NULL)
		return WEIR_EINVAL;
	memset(caps, 0, sizeof(*caps));
	caps->fd = -1;
	dev->ops->get_caps(dev, caps);
	return 0;
}

int weir_netdev_get_stats(const struct weir_netdev *dev, struct weir_netdev_stats *stats)
{
	if (dev == NULL || stats == NULL)
		return WEIR_EINVAL;
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
	if (dev == NULL)
		return WEIR_EINVAL;
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

int weir_netdev_open(const char *spec, struct weir_netdev **out)
{
	last_error[0] = '\0';
	if (spec == NULL || out == NULL)
		return WEIR_EINVAL;
	if (strncmp(spec, "tap:", 4) == 0) {
#if defined(WEIR_HAVE_TAP)
		struct weir_tap_config cfg;
		char name[32];
		int rc = weir_tap_parse_spec(spec + 4, &cfg, name, sizeof(name));

		if (rc < 0)
			return rc;
		return weir_tap_open(&cfg, out);
#else
		return WEIR_ENOTSUP;
#endif
	}
	if (strncmp(spec, "dpdk:", 5) == 0) {
#if defined(WEIR_HAVE_DPDK)
		struct weir_dpdk_config cfg;
		char args[1024];
		int rc = weir_dpdk_parse_spec(spec + 5, &cfg, args, sizeof(args));

		return rc < 0 ? rc : weir_dpdk_open(&cfg, out);
#else
		weir__netdev_set_error("the DPDK driver is not built in (CONFIG_WEIR_DRIVER_DPDK, "
				       "libdpdk-dev)");
		return WEIR_ENOTSUP;
#endif
	}
	weir__netdev_set_error("'%s' is not tap:IFNAME or dpdk:EAL ARGS", spec);
	return WEIR_EINVAL;
}
