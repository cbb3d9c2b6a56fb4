/* lan9118_model.h - a small register model of the SMSC LAN9118 for the driver's unit tests: the
 * system registers, the MAC CSRs behind MAC_CSR_CMD/DATA, the PHY behind MII, the EEPROM-loaded
 * address, and the RX/TX FIFOs, written from the data sheet (and QEMU's behaviour where a board
 * relies on it: the FCS counted in the RX length, instant resets). */
#ifndef WEIR_TEST_LAN9118_MODEL_H
#define WEIR_TEST_LAN9118_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include <weir/lan9118.h>

#define MODEL_RXS_MAX  64
#define MODEL_RXD_MAX  8192 /* words */
#define MODEL_SENT_MAX 64

struct lan9118_model {
	/* Registers. */
	uint32_t byte_test, id_rev, irq_cfg, int_sts, int_en, fifo_int, rx_cfg, tx_cfg, hw_cfg;
	uint32_t e2p_cmd, csr_cmd, csr_data;
	uint32_t mac_cr, addrh, addrl, mii_acc, mii_data;
	uint16_t phy_bsr;
	uint32_t rx_drop; /* handed out (and cleared) by reads of RX_DROP */
	uint32_t tdfree;  /* TX_FIFO_INF's TDFREE: less by every word written, until drained */
	int reset_stuck;  /* SRST never clears */
	uint8_t eeprom_mac[6];
	int eeprom_valid; /* the EEPROM holds an address (loaded at every reset) */
	unsigned resets;
	/* RX FIFOs. */
	uint32_t rxs[MODEL_RXS_MAX];
	unsigned rxs_head, rxs_n;
	uint32_t rxd[MODEL_RXD_MAX];
	unsigned rxd_head, rxd_n;
	unsigned rx_underflows;	      /* data words read from an empty FIFO */
	unsigned rx_dropped_disabled; /* frames arriving with RXEN clear */
	/* TX: the command/data parser and what went out. */
	int tx_state;	     /* 0: command A next, 1: command B, 2: data */
	uint32_t tx_a, tx_b; /* the current buffer's command words */
	uint32_t tx_left;    /* data words still to come */
	uint8_t tx_buf[2048];
	size_t tx_len;
	uint8_t sent[MODEL_SENT_MAX][2048];
	size_t sent_len[MODEL_SENT_MAX];
	uint32_t sent_tag[MODEL_SENT_MAX];
	unsigned nsent;
	uint32_t txs[MODEL_RXS_MAX];
	unsigned txs_n;
	uint32_t tx_status_error_next; /* the next TX status carries this error bit */
	unsigned tx_protocol_errors;   /* a command word the data sheet does not allow */
};

/* A chip after power-on: BYTE_TEST, a LAN9118 ID, link up, an EEPROM address 52:54:00:12:34:56. */
void lan9118_model_init(struct lan9118_model *m);
/* The bus for weir_lan9118_open (ctx = m). */
struct weir_lan9118_bus lan9118_model_bus(struct lan9118_model *m);
/* A frame arrives from the wire (len bytes, without FCS); status_bits are ORed into its status
 * word (e.g. an error). The model appends a 4-byte FCS and honours RX_CFG's offset. */
void lan9118_model_rx(struct lan9118_model *m, const void *frame, size_t len, uint32_t status_bits);
/* The wire takes everything in the TX data FIFO: TDFREE is whole again. */
void lan9118_model_tx_drain(struct lan9118_model *m);

#endif
