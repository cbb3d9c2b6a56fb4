/* memdev.h - an in-memory netdev for unit tests: inject received frames, inspect sent ones. */
#ifndef WEIR_TEST_MEMDEV_H
#define WEIR_TEST_MEMDEV_H

#include <stddef.h>
#include <stdint.h>
#include <weir/netdev.h>

#define MEMDEV_MAX_TX 64

struct memdev_tx {
	uint8_t data[65536 + 64]; /* room for a TCP super-frame */
	size_t len;
	uint32_t flags;			       /* weir_tx_frame.flags */
	uint16_t l4_offset, l4_hlen, gso_size; /* weir_tx_frame's */
};

/* Receive slots: enough for TCP to hold more frames in one connection's out-of-order queue than
 * the hosted profile's TCP_OOSEQ_MAX_PBUFS (1024), as a driver's pool does. */
#define MEMDEV_SLOTS 1280

struct memdev {
	struct weir_netdev nd;
	struct weir_frame frames[MEMDEV_SLOTS];
	uint8_t bufs[MEMDEV_SLOTS][2048];
	int queued[MEMDEV_SLOTS]; /* injected, not yet received */
	int held[MEMDEV_SLOTS];	  /* handed out by rx_burst, not yet released */
	unsigned exact_cap;	  /* 1: each frame in its own heap buffer of exactly its length
				   * (bare-metal descriptors), so ASan sees any read past the frame; also
				   * the way to inject frames larger than 2048 bytes (TAP super-frames) */
	struct memdev_tx tx[MEMDEV_MAX_TX];
	unsigned ntx;
	int tx_fail;	   /* 0 ok, 1 queue full, 2 error */
	uint32_t offloads; /* what caps report (enum weir_netdev_offload); set before the stack
			      opens */
	unsigned releases;
	unsigned rx_pool; /* 0: no limit; else a driver's pool of that many receive buffers:
			   * rx_burst hands out no more than are free, and rx_buffers_low says
			   * so when fewer than an eighth are free (as the link and TAP drivers) */
};

void memdev_init(struct memdev *m);
/* Queues a frame for the next rx_burst, exactly as given (no padding: tests the stack's guard).
 * Returns the frame index or -1 when all MEMDEV_SLOTS slots are busy. */
int memdev_inject(struct memdev *m, const void *data, size_t len);
/* Frames queued or held by the stack. */
unsigned memdev_outstanding(const struct memdev *m);
/* Frames handed to the stack and not yet released. */
unsigned memdev_held(const struct memdev *m);

#endif
