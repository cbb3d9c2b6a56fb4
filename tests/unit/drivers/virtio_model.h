/* virtio_model.h - an in-memory virtio-mmio device for the virtio-net driver's unit tests: the
 * registers of a modern (version 2) transport, split virtqueues the device walks in the driver's
 * memory, a network device's configuration and an entropy device's queue, written from the virtio
 * 1.x specification (2.6 split virtqueues, 4.2.2 MMIO registers, 5.1 network device, 5.4 entropy
 * device). It checks what the specification asks of a driver and counts every breach in
 * protocol_errors, which every test expects to stay zero. */
#ifndef WEIR_TEST_VIRTIO_MODEL_H
#define WEIR_TEST_VIRTIO_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <weir/virtio_net.h>

/* Status bits (virtio 1.x, 2.1). */
#define VIRTIO_MODEL_S_ACKNOWLEDGE	  1u
#define VIRTIO_MODEL_S_DRIVER		  2u
#define VIRTIO_MODEL_S_DRIVER_OK	  4u
#define VIRTIO_MODEL_S_FEATURES_OK	  8u
#define VIRTIO_MODEL_S_DEVICE_NEEDS_RESET 64u
#define VIRTIO_MODEL_S_FAILED		  128u

/* Feature bits the network device offers that the header does not name (virtio 1.x, 6). */
#define VIRTIO_MODEL_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_MODEL_F_EVENT_IDX     (1ull << 29)
#define VIRTIO_MODEL_F_CTRL_VQ	     (1ull << 17)
#define VIRTIO_MODEL_F_GUEST_TSO6    (1ull << 8)
#define VIRTIO_MODEL_F_HOST_TSO6     (1ull << 12)

/* virtio_net_hdr flags and gso_type values (5.1.6). */
#define VIRTIO_MODEL_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_MODEL_HDR_F_DATA_VALID 2u
#define VIRTIO_MODEL_HDR_GSO_NONE     0u
#define VIRTIO_MODEL_HDR_GSO_TCPV4    1u

/* Ring flags (2.6.6, 2.6.8) and descriptor flags (2.6.5). */
#define VIRTIO_MODEL_AVAIL_F_NO_INTERRUPT 1u
#define VIRTIO_MODEL_USED_F_NO_NOTIFY	  1u
#define VIRTIO_MODEL_DESC_F_NEXT	  1u
#define VIRTIO_MODEL_DESC_F_WRITE	  2u
#define VIRTIO_MODEL_DESC_F_INDIRECT	  4u

/* The network device's link status bit (5.1.4). */
#define VIRTIO_MODEL_NET_S_LINK_UP 1u

#define VIRTIO_MODEL_QUEUES	4
#define VIRTIO_MODEL_QUEUE_MAX	1024 /* the largest QueueNumMax a test may set */
#define VIRTIO_MODEL_SENT_KEEP	256  /* transmitted frames the model remembers (the latest) */
#define VIRTIO_MODEL_STATUS_LOG 32

/* The 12-byte header before every frame with VIRTIO_F_VERSION_1 (5.1.6), little-endian. */
struct virtio_model_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_model_net_hdr) == 12, "virtio_net_hdr is 12 bytes");

/* One virtqueue as the device sees it: its registers and the device's place in its rings. */
struct virtio_model_queue {
	uint16_t num_max; /* QueueNumMax: 0 means the queue does not exist */
	uint16_t num;	  /* QueueNum as the driver wrote it */
	uint32_t ready;
	uint64_t desc, driver, device; /* the descriptor table, avail ring and used ring */
	uint16_t last_avail;	       /* the next avail ring entry the device reads */
	uint16_t used_idx;	       /* the used ring's idx as the device last wrote it */
	uint64_t used_total;	       /* used entries written since the queue became ready */
	uint64_t notifies;	       /* QueueNotify writes naming this queue */
	/* Buffers the device took from the avail ring and has not returned, oldest first: a
	 * receive buffer waiting for a frame, a transmit buffer held back (tx_hold). */
	uint16_t pool[VIRTIO_MODEL_QUEUE_MAX];
	unsigned npool;
	/* owner[i]: 1 + the head of the chain descriptor i belongs to while the device owns it. */
	uint16_t owner[VIRTIO_MODEL_QUEUE_MAX];
	/* The head descriptor's address and length when the device took it: the driver must not
	 * change a descriptor the device owns. */
	uint64_t snap_addr[VIRTIO_MODEL_QUEUE_MAX];
	uint32_t snap_len[VIRTIO_MODEL_QUEUE_MAX];
	int broken; /* a ring the device gave up on after a protocol error */
};

/* One frame the device took from the transmit queue. */
struct virtio_model_tx {
	struct virtio_model_net_hdr hdr;
	uint8_t *data; /* the frame after the header (malloc'd, the model frees it) */
	size_t len;
	uint16_t head;	   /* the chain's head descriptor */
	unsigned ndesc;	   /* descriptors in the chain */
	uint64_t buf_addr; /* the head descriptor's address */
};

struct virtio_model {
	/* Registers. */
	uint32_t magic, version, device_id, vendor_id;
	uint64_t features; /* offered */
	uint32_t features_sel, driver_features_sel;
	uint64_t driver_features;
	unsigned driver_features_written; /* bit n: the driver wrote window n */
	unsigned features_read;		  /* bit n: the driver read window n */
	uint32_t queue_sel;
	uint32_t int_status;
	uint32_t status;
	uint32_t config_generation;
	int refuse_features; /* FEATURES_OK never sticks: the device refuses what was accepted */
	struct virtio_model_queue q[VIRTIO_MODEL_QUEUES];
	unsigned nqueues;
	/* Network device configuration (5.1.4). */
	uint8_t mac[6];
	uint16_t net_status, max_virtqueue_pairs, mtu;
	/* Entropy device (device ID 4): the bytes its queue hands out, at most rng_chunk (0: no
	 * limit) per buffer. */
	const uint8_t *rng_data;
	size_t rng_len, rng_pos, rng_chunk;
	/* Transmit: when tx_hold is set, buffers stay with the device until a test completes
	 * them (virtio_model_tx_complete); otherwise each is used as soon as it is read. */
	int tx_hold;
	struct virtio_model_tx sent[VIRTIO_MODEL_SENT_KEEP];
	uint64_t nsent;
	uint64_t tx_rec[VIRTIO_MODEL_QUEUE_MAX]; /* per head: 1 + its frame's index in sent */
	/* What the model counted. */
	unsigned resets;     /* Status written 0 */
	unsigned interrupts; /* InterruptStatus bit 0 raised for used buffers */
	uint64_t rx_delivered;
	unsigned rx_no_buffer; /* frames that found no receive buffer available */
	uint8_t *rx_last_buf;  /* the receive buffer (head descriptor's address) last written */
	uint32_t status_log[VIRTIO_MODEL_STATUS_LOG];
	unsigned nstatus; /* Status writes (the first VIRTIO_MODEL_STATUS_LOG are in the log) */
	unsigned protocol_errors;
	char last_error[160]; /* the first protocol error, for the test's message */
};

/* A QEMU-like virtio-net-device behind a modern transport after power-on: version 2, device ID
 * 1, every feature the driver may take offered and some it must not take (GUEST_TSO4,
 * MRG_RXBUF, EVENT_IDX, INDIRECT_DESC, CTRL_VQ), MAC 52:54:00:12:34:56, link up, MTU 1500, two
 * queues of at most 256 entries. */
void virtio_model_init(struct virtio_model *m);
/* The same transport with an entropy device (ID 4, one queue, VERSION_1 only) behind it. */
void virtio_model_init_rng(struct virtio_model *m);
/* Frees what the model allocated (the transmitted frames it remembers). */
void virtio_model_fini(struct virtio_model *m);
/* The bus for weir_virtio_net_open and friends (ctx = m). */
struct weir_virtio_bus virtio_model_bus(struct virtio_model *m);

/* A frame arrives: the device writes hdr (NULL: all zero but num_buffers 1) and the frame into
 * the pos-th receive buffer it holds (0: the oldest available, as a device in order would) and
 * marks it used with length 12 + len. Returns the buffer's head descriptor, or -1 when no
 * buffer is available (counted in rx_no_buffer). */
int virtio_model_rx_at(struct virtio_model *m, unsigned pos, const struct virtio_model_net_hdr *hdr,
		       const void *frame, size_t len);
int virtio_model_rx(struct virtio_model *m, const struct virtio_model_net_hdr *hdr,
		    const void *frame, size_t len);
/* A misbehaving device: writes n raw bytes (header included) into the pos-th receive buffer and
 * reports used_len, whatever that is. Returns the head, or -1 when no buffer is available. */
int virtio_model_rx_raw(struct virtio_model *m, unsigned pos, const void *bytes, size_t n,
			uint32_t used_len);
/* Receive buffers the device holds now (after reading the avail ring). */
unsigned virtio_model_rx_available(struct virtio_model *m);
/* The capacity of the chain headed by the pos-th available receive buffer. */
uint32_t virtio_model_rx_capacity(struct virtio_model *m, unsigned pos);

/* Reads the transmit queue's avail ring (as a notify would). */
void virtio_model_tx_poll(struct virtio_model *m);
/* Held transmit buffers (tx_hold): how many, and completing the pos-th oldest. */
unsigned virtio_model_tx_held(const struct virtio_model *m);
void virtio_model_tx_complete(struct virtio_model *m, unsigned pos);
/* The i-th frame transmitted since init (one of the latest VIRTIO_MODEL_SENT_KEEP). */
const struct virtio_model_tx *virtio_model_sent(const struct virtio_model *m, uint64_t i);

/* The driver's avail ring idx and flags, and the used ring idx, of queue qi (in the driver's
 * memory; the queue must be set up). */
uint16_t virtio_model_avail_idx(const struct virtio_model *m, unsigned qi);
uint16_t virtio_model_avail_flags(const struct virtio_model *m, unsigned qi);
uint16_t virtio_model_used_idx(const struct virtio_model *m, unsigned qi);
/* Sets or clears VIRTQ_USED_F_NO_NOTIFY in queue qi's used ring. */
void virtio_model_set_no_notify(struct virtio_model *m, unsigned qi, int on);
/* The configuration changed: the generation moves on and InterruptStatus bit 1 is raised. */
void virtio_model_config_changed(struct virtio_model *m);

#endif
