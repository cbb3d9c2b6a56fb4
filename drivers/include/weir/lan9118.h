/* lan9118.h - the SMSC LAN9118 / LAN9220 Ethernet controller (the MPS2 boards' NIC) as a netdev.
 *
 * Programmed I/O through the chip's FIFOs, as QEMU's model and the MPS2 FPGA images provide it:
 * received frames are read word by word from the RX data FIFO straight into the driver's frame
 * buffers (the one copy a PIO device needs; none after it), with a two-byte offset so that the IP
 * header is word-aligned; transmitted frames are packed into words from the stack's gather list
 * and written to the TX data FIFO. The loop polls the device; with cfg.irq the chip also raises
 * its interrupt line when frames arrive, so a board can sleep (WFI) until then. Runts, frames
 * longer than the buffers and frames the chip flags bad (CRC, length, too long, filter) are
 * dropped, their FIFO words read away, and counted.
 *
 * The driver reaches the chip only through a bus (read and write one 32-bit register at a byte
 * offset), so a board hands it its memory-mapped registers and the unit tests a register model.
 * One device at a time (a board has one): its state and buffers are static, sized by
 * CONFIG_WEIR_LAN9118_RX_FRAMES. Never blocks; call everything from the loop's thread, except
 * weir_lan9118_irq(), which is for the interrupt handler.
 */
#ifndef WEIR_LAN9118_H
#define WEIR_LAN9118_H

#include <stdint.h>

#include <weir/netdev.h>

/* How the driver reaches the chip's registers (offsets as in the data sheet: 0x50 is ID_REV). */
struct weir_lan9118_bus {
	uint32_t (*read)(void *ctx, uint32_t off);
	void (*write)(void *ctx, uint32_t off, uint32_t val);
	void *ctx;
};

/* Fills *bus for registers memory-mapped at base (e.g. 0x40200000 on mps2-an385/an386). */
void weir_lan9118_mmio_bus(struct weir_lan9118_bus *bus, uintptr_t base);

struct weir_lan9118_config {
	struct weir_lan9118_bus bus; /* required */
	/* Our address. All zero: the one the chip loaded from its EEPROM at reset (QEMU: the
	 * -nic mac=), else a locally administered one derived from board_id. */
	uint8_t mac[WEIR_ETH_ALEN];
	uint8_t board_id[8]; /* what makes this board's derived MAC its own (a serial number) */
	uint16_t mtu;	     /* 0: 1500 (the most the chip's frames carry) */
	int irq;	     /* 1: raise the interrupt line on received frames */
};

/* Resets the chip and brings it up. Returns 0 and sets *out, or WEIR_EINVAL (NULL, no bus, mtu
 * outside 576..1500), WEIR_EBUSY (already open), WEIR_ENODEV (no LAN9118 answers on the bus:
 * wrong BYTE_TEST or chip id), WEIR_EIO (the reset did not finish); the reason is in
 * weir_netdev_last_error(). */
int weir_lan9118_open(const struct weir_lan9118_config *cfg, struct weir_netdev **out);

/* For the board's interrupt handler: acknowledges the chip's pending interrupt status and returns
 * it (bits of INT_STS); the loop's next poll reads the frames. Safe on a closed device (0). */
uint32_t weir_lan9118_irq(struct weir_netdev *dev);

/* What only this driver counts (the generic counters are weir_netdev_get_stats'). */
struct weir_lan9118_stats {
	uint64_t rx_crc_errors;	   /* status: CRC error */
	uint64_t rx_length_errors; /* status: length field or runt (collision) */
	uint64_t rx_too_long;	   /* status: frame too long for the chip */
	uint64_t rx_filtered;	   /* status: failed the address filter */
	uint64_t rx_fifo_dropped;  /* the chip's own RX_DROP count: frames lost to a full FIFO */
	uint64_t tx_status_errors; /* TX status words with the error bit */
	uint64_t link_changes;	   /* link up/down transitions seen */
	uint32_t link_up;	   /* 1: the PHY reports link */
	uint32_t id_rev;	   /* the chip's ID_REV register */
	uint32_t frames_held;	   /* receive buffers the stack holds now */
	uint32_t frames_total;	   /* receive buffers in all */
};
/* Fills *out for the device from weir_lan9118_open. Returns 0 or WEIR_EINVAL (NULL, another
 * driver's device). */
int weir_lan9118_get_stats(const struct weir_netdev *dev, struct weir_lan9118_stats *out);

#endif /* WEIR_LAN9118_H */
