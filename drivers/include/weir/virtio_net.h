/* virtio_net.h - a virtio 1.x network device on the virtio-mmio transport (QEMU's
 * virtio-net-device, e.g. on the aarch64 `virt` machine) as a netdev.
 *
 * The modern transport only (MMIO version 2, VIRTIO_F_VERSION_1): QEMU offers it when run with
 * `-global virtio-mmio.force-legacy=false`; a legacy device (version 1) is refused with a message
 * that says so. Split virtqueues, one receive and one transmit queue, no event index.
 *
 * Receive: every receive buffer is posted to the device at open and handed to the stack where
 * the device wrote it (no copy); weir_netdev_release() posts it again. Buffers hold one frame of
 * the MTU (no receive segmentation offload, no merged buffers). Transmit: each frame is copied
 * from the stack's gather list into a transmit buffer behind the 12-byte virtio-net header, as
 * the netdev contract asks (the stack owns its memory again when tx_burst returns); buffers come
 * back when the device marks them used, in whatever order it does.
 *
 * Offloads negotiated when the device offers them and the config does not turn them off:
 * VIRTIO_NET_F_CSUM (the device finishes TCP checksums we leave partial), VIRTIO_NET_F_HOST_TSO4
 * (it cuts our TCPv4 super-frames; with CSUM), VIRTIO_NET_F_GUEST_CSUM (frames may arrive with
 * NEEDS_CSUM, a checksum left partial, or DATA_VALID, one the device checked). Also taken when
 * offered: VIRTIO_NET_F_MAC (our address), VIRTIO_NET_F_MTU (an upper bound on ours),
 * VIRTIO_NET_F_STATUS (link state).
 *
 * Memory the device reads and writes (rings, buffers) comes from malloc at open and is given to
 * the device at the addresses the CPU uses: the board must map RAM one to one (QEMU's virt
 * machine with an identity-mapped MMU; the unit tests' device model is in the same process).
 * The driver reaches the transport's registers only through a bus, so a board hands it its
 * memory-mapped window and the unit tests a model. Never blocks; call everything from the loop's
 * thread, except weir_virtio_net_irq(), which is for an interrupt handler.
 */
#ifndef WEIR_VIRTIO_NET_H
#define WEIR_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include <weir/netdev.h>

/* How the driver reaches a virtio-mmio transport's registers (byte offsets as in the virtio 1.x
 * specification, 4.2.2: 0x000 MagicValue ... 0x100 device configuration). 32-bit accesses only;
 * the device configuration is read in aligned words, which QEMU's transport accepts. */
struct weir_virtio_bus {
	uint32_t (*read)(void *ctx, uint32_t off);
	void (*write)(void *ctx, uint32_t off, uint32_t val);
	void *ctx;
};

/* Fills *bus for a transport memory-mapped at base (QEMU virt: 0x0a000000 + 0x200 * slot). */
void weir_virtio_mmio_bus(struct weir_virtio_bus *bus, uintptr_t base);

/* virtio device IDs (virtio 1.x, 5). */
#define WEIR_VIRTIO_ID_NET 1u
#define WEIR_VIRTIO_ID_RNG 4u

/* What answers at a transport: its device ID (WEIR_VIRTIO_ID_*), 0 for an empty slot or no
 * virtio-mmio transport at all (wrong magic). *version (may be NULL) gets the transport version:
 * 1 legacy, 2 modern. */
uint32_t weir_virtio_mmio_probe(const struct weir_virtio_bus *bus, uint32_t *version);

/* weir_virtio_net_config.no_offloads: features to leave untaken even when offered. */
enum weir_virtio_net_no {
	WEIR_VIRTIO_NET_NO_CSUM = 1 << 0,	/* VIRTIO_NET_F_CSUM (and so HOST_TSO4) */
	WEIR_VIRTIO_NET_NO_GUEST_CSUM = 1 << 1, /* VIRTIO_NET_F_GUEST_CSUM */
	WEIR_VIRTIO_NET_NO_TSO = 1 << 2,	/* VIRTIO_NET_F_HOST_TSO4 */
};

struct weir_virtio_net_config {
	struct weir_virtio_bus bus; /* required */
	/* Our address. All zero: the device's (VIRTIO_NET_F_MAC; QEMU: -device ...,mac=), else a
	 * locally administered one derived from board_id. */
	uint8_t mac[WEIR_ETH_ALEN];
	uint8_t board_id[8];
	uint16_t mtu;	      /* 0: 1500, or the device's VIRTIO_NET_F_MTU if that is less */
	uint16_t rx_frames;   /* receive buffers; 0: CONFIG_WEIR_VIRTIO_NET_RX_FRAMES */
	uint16_t tx_frames;   /* transmit buffers; 0: CONFIG_WEIR_VIRTIO_NET_TX_FRAMES */
	uint32_t no_offloads; /* enum weir_virtio_net_no bits */
	int irq;	      /* 1: the device interrupts when it fills receive buffers */
};

/* Resets the device, negotiates features, sets up both queues and posts every receive buffer.
 * Returns 0 and sets *out, or WEIR_EINVAL (NULL, no bus, mtu outside 576..1500, frame counts
 * outside 2..1024), WEIR_ENODEV (no virtio-mmio transport, or no network device behind it, or a
 * queue missing), WEIR_ENOTSUP (a legacy transport, or a device without VIRTIO_F_VERSION_1),
 * WEIR_EIO (the device refused the features or reports an error), WEIR_ENOMEM; the reason is in
 * weir_netdev_last_error(). The device is left reset on failure. */
int weir_virtio_net_open(const struct weir_virtio_net_config *cfg, struct weir_netdev **out);

/* For the board's interrupt handler: acknowledges the device's interrupt status and returns it
 * (bit 0: used buffers, bit 1: configuration change); the loop's next poll reads the frames.
 * 0 for NULL or another driver's device. */
uint32_t weir_virtio_net_irq(struct weir_netdev *dev);

/* Feature bits (virtio 1.x, 5.1.3 and 6), for reading the stats below. */
#define WEIR_VIRTIO_NET_F_CSUM	     (1ull << 0)
#define WEIR_VIRTIO_NET_F_GUEST_CSUM (1ull << 1)
#define WEIR_VIRTIO_NET_F_MTU	     (1ull << 3)
#define WEIR_VIRTIO_NET_F_MAC	     (1ull << 5)
#define WEIR_VIRTIO_NET_F_GUEST_TSO4 (1ull << 7)
#define WEIR_VIRTIO_NET_F_HOST_TSO4  (1ull << 11)
#define WEIR_VIRTIO_NET_F_MRG_RXBUF  (1ull << 15)
#define WEIR_VIRTIO_NET_F_STATUS     (1ull << 16)
#define WEIR_VIRTIO_F_VERSION_1	     (1ull << 32)

/* What only this driver counts (the generic counters are weir_netdev_get_stats'). */
struct weir_virtio_net_stats {
	uint64_t features_offered; /* what the device offered */
	uint64_t features_taken;   /* what we accepted (a subset) */
	uint64_t rx_csum_partial;  /* frames that came with NEEDS_CSUM */
	uint64_t rx_csum_valid;	   /* frames that came with DATA_VALID */
	uint64_t rx_bad_header;	   /* dropped: a header we did not ask for (GSO, bad offsets) */
	uint64_t tx_csum_offload;  /* frames sent with their TCP checksum left to the device */
	uint64_t tx_super;	   /* TCPv4 super-frames sent for the device to cut */
	uint64_t notifies;	   /* queue notifications written */
	uint64_t irqs;		   /* weir_virtio_net_irq calls that found status set */
	uint64_t device_errors;	   /* polls that found DEVICE_NEEDS_RESET */
	uint32_t frames_held;	   /* receive buffers the stack holds now */
	uint32_t frames_total;	   /* receive buffers in all */
	uint32_t tx_in_flight;	   /* transmit buffers the device has not given back */
	uint16_t rx_queue_size, tx_queue_size;
	uint32_t link_up; /* 1 unless VIRTIO_NET_F_STATUS says the link is down */
};
/* Fills *out for the device from weir_virtio_net_open. Returns 0 or WEIR_EINVAL (NULL, another
 * driver's device). */
int weir_virtio_net_get_stats(const struct weir_netdev *dev, struct weir_virtio_net_stats *out);

/* Writes the names of the features in bits ("csum guest_csum mac ..."; unknown ones as "bitN")
 * into buf, always NUL-terminated when len > 0; returns what snprintf would. */
int weir_virtio_net_features_str(uint64_t bits, char *buf, size_t len);

/* Reads up to len bytes (4096 at most) of entropy from a virtio entropy device (WEIR_VIRTIO_ID_RNG)
 * on bus, polling for at most timeout_ns; the device is reset when done. Returns the bytes read (>
 * 0), or WEIR_EINVAL, WEIR_ENODEV (no entropy device there), WEIR_ENOTSUP (legacy), WEIR_ETIMEDOUT,
 * WEIR_ENOMEM. For a board's boot, before any netdev is open. */
int weir_virtio_rng_read(const struct weir_virtio_bus *bus, void *buf, size_t len,
			 uint64_t timeout_ns);

#endif /* WEIR_VIRTIO_NET_H */
