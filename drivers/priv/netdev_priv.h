/* netdev_priv.h - helpers shared by weir's drivers (not part of the public interface). */
#ifndef WEIR_NETDEV_PRIV_H
#define WEIR_NETDEV_PRIV_H

#include <weir/netdev.h>

/* Applies the receive rule of WEIR_ETH_MIN_FRAME to a frame of len bytes at data, whose buffer
 * holds at least WEIR_ETH_MIN_FRAME bytes: returns 0 for a runt (no full Ethernet header; counted
 * in st->rx_runts), else the length to hand to the stack, zero-padding short frames up to
 * WEIR_ETH_MIN_FRAME (counted in st->rx_padded). */
uint32_t weir__netdev_rx_len(uint8_t *data, uint32_t len, struct weir_netdev_stats *st);

/* Records the one-line reason weir_netdev_last_error() reports for a failed open (and logs it at
 * debug level); drivers call it on their open paths. */
void weir__netdev_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A driver that opens from a spec string "PREFIX:ARGS" (weir_netdev_open). Each one defines
 * `const struct weir__netdev_driver weir__netdev_driver_<name>`; cmake/WeirDrivers.cmake lists
 * the ones built in weir__netdev_drivers[] (NULL-terminated). */
struct weir__netdev_driver {
	const char *prefix; /* "tap" */
	const char *usage;  /* "tap:IFNAME[,offload=0|1][,mtu=N]", for messages */
	/* Opens a device from args (what follows "PREFIX:"); params is never NULL. Sets the reason
	 * of a failure with weir__netdev_set_error(). */
	int (*open)(const char *args, const struct weir_netdev_params *params,
		    struct weir_netdev **out);
	/* For a driver this build left out (open is NULL): why, e.g. "not built in (...)". */
	const char *missing;
};
extern const struct weir__netdev_driver *const weir__netdev_drivers[];

#endif /* WEIR_NETDEV_PRIV_H */
