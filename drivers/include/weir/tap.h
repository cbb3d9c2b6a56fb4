/* tap.h - Linux TUN/TAP netdev (hosted only).
 *
 * Opens an existing TAP device or creates one, non-blocking, and reads frames in batches. Needs
 * CAP_NET_ADMIN to create a device; an existing persistent device owned by the caller works
 * without it.
 */
#ifndef WEIR_TAP_H
#define WEIR_TAP_H

#include <weir/netdev.h>

struct weir_tap_config {
	const char *ifname;  /* required, at most 15 characters */
	unsigned rx_frames;  /* receive buffers (0: CONFIG_WEIR_TAP_RX_FRAMES) */
	unsigned rx_burst;   /* frames read per rx_burst at most (0: 32) */
	uint16_t mtu;        /* 0: 1500 */
};

/* Returns 0 and sets *out, or WEIR_EINVAL (NULL/empty/too long name), WEIR_EPERM (no
 * CAP_NET_ADMIN), WEIR_ENODEV (no /dev/net/tun), WEIR_ENOMEM, WEIR_EIO. */
int weir_tap_open(const struct weir_tap_config *cfg, struct weir_netdev **out);

#endif /* WEIR_TAP_H */
