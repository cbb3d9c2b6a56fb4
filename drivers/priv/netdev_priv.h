/* netdev_priv.h - helpers shared by weir's drivers (not part of the public interface). */
#ifndef WEIR_NETDEV_PRIV_H
#define WEIR_NETDEV_PRIV_H

#include <weir/compiler.h>
#include <weir/netdev.h>

/* Applies the receive rule of WEIR_ETH_MIN_FRAME to a frame of len bytes at data, whose buffer
 * holds at least WEIR_ETH_MIN_FRAME bytes: returns 0 for a runt (no full Ethernet header; counted
 * in st->rx_runts), else the length to hand to the stack, zero-padding short frames up to
 * WEIR_ETH_MIN_FRAME (counted in st->rx_padded). */
uint32_t weir__netdev_rx_len(uint8_t *data, uint32_t len, struct weir_netdev_stats *st);

/* A received frame of len bytes whose TCP or UDP checksum the sender left partial (a virtio
 * header's NEEDS_CSUM: the field at start + off holds only the pseudo-header sum). Where the stack
 * may skip the check (an unfragmented IPv4 TCP or UDP packet) the frame gets
 * WEIR_FRAME_L4_CSUM_OK; otherwise the checksum is finished in the frame. Returns 0, or -1 when
 * start and off do not fit in the frame. */
int weir__netdev_rx_csum_partial(struct weir_frame *f, size_t len, size_t start, size_t off);

/* Nonzero when the frame of len bytes is an unfragmented IPv4 TCP or UDP packet: the kind whose
 * checksum, once a device has checked it (virtio's DATA_VALID), WEIR_FRAME_L4_CSUM_OK may cover. */
int weir__netdev_l4_csum_checked(const uint8_t *data, size_t len);

/* 32-bit register accessors for a device memory-mapped at ctx (its base address): what a
 * driver's bus gets on a board, where the unit tests give it a model instead. */
uint32_t weir__mmio_read32(void *ctx, uint32_t off);
void weir__mmio_write32(void *ctx, uint32_t off, uint32_t val);

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
	/* Optional: opens n > 1 queues of the device as out[0..n-1] (weir_netdev_open_queues). */
	int (*open_queues)(const char *args, const struct weir_netdev_params *params, unsigned n,
			   struct weir_netdev **out);
	/* For a driver this build left out (open is NULL): why, e.g. "not built in (...)". */
	const char *missing;
};
extern const struct weir__netdev_driver *const weir__netdev_drivers[];

/* The Toeplitz hash (Microsoft's RSS) of len bytes of input under a key of keylen bytes (40 for
 * IPv4 with ports): what a port with RSS computes over a flow to pick its RETA entry. */
uint32_t weir__toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);

#endif /* WEIR_NETDEV_PRIV_H */
