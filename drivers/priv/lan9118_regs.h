/* lan9118_regs.h - the SMSC LAN9118/LAN9220 register map and bits the driver uses (from the data
 * sheet's register tables); shared by drivers/lan9118 and its register model in the unit tests. */
#ifndef WEIR_LAN9118_REGS_H
#define WEIR_LAN9118_REGS_H

/* System registers (byte offsets). */
#define LAN9118_RX_DATA_FIFO   0x00
#define LAN9118_TX_DATA_FIFO   0x20
#define LAN9118_RX_STATUS_FIFO 0x40
#define LAN9118_TX_STATUS_FIFO 0x48
#define LAN9118_ID_REV	       0x50
#define LAN9118_IRQ_CFG	       0x54
#define LAN9118_INT_STS	       0x58
#define LAN9118_INT_EN	       0x5c
#define LAN9118_BYTE_TEST      0x64
#define LAN9118_FIFO_INT       0x68
#define LAN9118_RX_CFG	       0x6c
#define LAN9118_TX_CFG	       0x70
#define LAN9118_HW_CFG	       0x74
#define LAN9118_RX_FIFO_INF    0x7c
#define LAN9118_TX_FIFO_INF    0x80
#define LAN9118_PMT_CTRL       0x84
#define LAN9118_RX_DROP	       0xa0
#define LAN9118_MAC_CSR_CMD    0xa4
#define LAN9118_MAC_CSR_DATA   0xa8
#define LAN9118_E2P_CMD	       0xb0

#define LAN9118_BYTE_TEST_VALUE 0x87654321u

#define LAN9118_IRQ_CFG_EN   (1u << 8)
#define LAN9118_IRQ_CFG_POL  (1u << 4) /* active high */
#define LAN9118_IRQ_CFG_TYPE (1u << 0) /* push-pull */

#define LAN9118_INT_RSFL (1u << 3)  /* RX status FIFO above its level */
#define LAN9118_INT_RXE	 (1u << 14) /* receiver error */
#define LAN9118_INT_TXE	 (1u << 13) /* transmitter error */

#define LAN9118_HW_CFG_SRST    (1u << 0)
#define LAN9118_PMT_CTRL_READY (1u << 0)
#define LAN9118_E2P_CMD_LOADED (1u << 8) /* the MAC address was loaded from the EEPROM */

#define LAN9118_RX_CFG_RXDOFF(n) ((uint32_t)(n) << 8) /* bytes before each frame in the FIFO */
#define LAN9118_TX_CFG_TX_ON	 (1u << 1)
#define LAN9118_TX_CFG_TXSAO	 (1u << 2) /* TX status FIFO may overrun */

#define LAN9118_FIFO_INF_USED(v) (((v) >> 16) & 0xffu) /* RXSUSED / TXSUSED: status words */
#define LAN9118_FIFO_INF_DATA(v) ((v)&0xffffu)	       /* RXDUSED / TDFREE: bytes */

/* Receive status word. */
#define LAN9118_RXS_FILTER_FAIL (1u << 30)
#define LAN9118_RXS_LEN(s)	(((s) >> 16) & 0x3fffu) /* frame length with its 4-byte FCS */
#define LAN9118_RXS_ES		(1u << 15)		/* error summary */
#define LAN9118_RXS_LENGTH_ERR	(1u << 12)
#define LAN9118_RXS_RUNT	(1u << 11)
#define LAN9118_RXS_TOO_LONG	(1u << 7)
#define LAN9118_RXS_COLLISION	(1u << 6)
#define LAN9118_RXS_CRC_ERR	(1u << 1)

/* Transmit command words and status. */
#define LAN9118_TXA_FIRST  (1u << 13)
#define LAN9118_TXA_LAST   (1u << 12)
#define LAN9118_TXB_TAG(t) ((uint32_t)(t) << 16)
#define LAN9118_TXS_TAG(s) ((s) >> 16)
#define LAN9118_TXS_ES	   (1u << 15)

/* MAC control and status registers, reached through MAC_CSR_CMD/MAC_CSR_DATA. */
#define LAN9118_CSR_BUSY (1u << 31)
#define LAN9118_CSR_READ (1u << 30)
#define LAN9118_MAC_CR	 1
#define LAN9118_ADDRH	 2
#define LAN9118_ADDRL	 3
#define LAN9118_MII_ACC	 6
#define LAN9118_MII_DATA 7

#define LAN9118_MAC_CR_RXEN  (1u << 2)
#define LAN9118_MAC_CR_TXEN  (1u << 3)
#define LAN9118_MAC_CR_BCAST (1u << 11) /* 1: broadcast frames are dropped */
#define LAN9118_MAC_CR_PRMS  (1u << 18)
#define LAN9118_MAC_CR_MCPAS (1u << 19)
#define LAN9118_MAC_CR_FDPX  (1u << 20)

#define LAN9118_MII_PHY(a)   ((uint32_t)(a) << 11)
#define LAN9118_MII_REG(r)   ((uint32_t)(r) << 6)
#define LAN9118_MII_WRITE    (1u << 1)
#define LAN9118_MII_BUSY     (1u << 0)
#define LAN9118_PHY_ADDR     1 /* the internal PHY */
#define LAN9118_PHY_BSR	     1
#define LAN9118_PHY_BSR_LINK (1u << 2)

/* The FIFO sizes after reset (HW_CFG TX_FIF_SZ = 5): TX data 4608 bytes. */
#define LAN9118_TX_DATA_FIFO_BYTES 4608u

#endif /* WEIR_LAN9118_REGS_H */
