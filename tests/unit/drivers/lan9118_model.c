/* lan9118_model.c - see lan9118_model.h. */
#include <string.h>

#include <check.h>

#include "lan9118_model.h"
#include "lan9118_regs.h"

static void model_reset(struct lan9118_model *m)
{
	m->resets++;
	m->irq_cfg &= LAN9118_IRQ_CFG_POL | LAN9118_IRQ_CFG_TYPE;
	m->int_sts = 0;
	m->int_en = 0;
	m->fifo_int = 0x48000000u;
	m->rx_cfg = 0;
	m->tx_cfg = 0;
	m->hw_cfg = m->reset_stuck ? LAN9118_HW_CFG_SRST : 0x00050000u;
	m->mac_cr = LAN9118_MAC_CR_PRMS; /* the data sheet's reset value is promiscuous */
	m->rxs_n = m->rxd_n = m->rxs_head = m->rxd_head = 0;
	m->tx_state = 0;
	m->txs_n = 0;
	m->e2p_cmd = 0;
	m->addrl = m->addrh = 0xffffffffu;
	if (m->eeprom_valid) {
		/* The address is loaded from the EEPROM at every reset. */
		m->addrl = (uint32_t)m->eeprom_mac[0] | (uint32_t)m->eeprom_mac[1] << 8 |
			   (uint32_t)m->eeprom_mac[2] << 16 | (uint32_t)m->eeprom_mac[3] << 24;
		m->addrh = (uint32_t)m->eeprom_mac[4] | (uint32_t)m->eeprom_mac[5] << 8;
		m->e2p_cmd = LAN9118_E2P_CMD_LOADED;
	}
}

void lan9118_model_init(struct lan9118_model *m)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

	memset(m, 0, sizeof(*m));
	m->byte_test = LAN9118_BYTE_TEST_VALUE;
	m->id_rev = 0x01180001u;
	m->phy_bsr = 0x7809u | LAN9118_PHY_BSR_LINK;
	m->tdfree = LAN9118_TX_DATA_FIFO_BYTES;
	memcpy(m->eeprom_mac, mac, 6);
	m->eeprom_valid = 1;
	model_reset(m);
	m->resets = 0;
}

static uint32_t csr_get(struct lan9118_model *m, uint32_t idx)
{
	switch (idx) {
	case LAN9118_MAC_CR:
		return m->mac_cr;
	case LAN9118_ADDRH:
		return m->addrh;
	case LAN9118_ADDRL:
		return m->addrl;
	case LAN9118_MII_ACC:
		return m->mii_acc;
	case LAN9118_MII_DATA:
		return m->mii_data;
	default:
		return 0;
	}
}

static void csr_set(struct lan9118_model *m, uint32_t idx, uint32_t v)
{
	switch (idx) {
	case LAN9118_MAC_CR:
		m->mac_cr = v;
		break;
	case LAN9118_ADDRH:
		m->addrh = v & 0xffffu;
		break;
	case LAN9118_ADDRL:
		m->addrl = v;
		break;
	case LAN9118_MII_ACC:
		/* PHY access completes at once; only BSR (register 1) is modelled. */
		m->mii_acc = v & ~LAN9118_MII_BUSY;
		if (!(v & LAN9118_MII_WRITE))
			m->mii_data = ((v >> 6) & 0x1f) == LAN9118_PHY_BSR ? m->phy_bsr : 0;
		break;
	case LAN9118_MII_DATA:
		m->mii_data = v & 0xffffu;
		break;
	default:
		break;
	}
}

static void tx_word(struct lan9118_model *m, uint32_t w)
{
	/* Every word takes FIFO space until the wire has taken the frame (tx_drain). */
	if (m->tdfree < 4)
		m->tx_protocol_errors++; /* written into a full FIFO */
	else
		m->tdfree -= 4;
	switch (m->tx_state) {
	case 0:
		m->tx_a = w;
		m->tx_state = 1;
		break;
	case 1:
		m->tx_b = w;
		/* A single-buffer frame from offset 0, 4-byte end alignment: what the driver sends.
		 */
		if ((m->tx_a & (LAN9118_TXA_FIRST | LAN9118_TXA_LAST)) !=
			    (LAN9118_TXA_FIRST | LAN9118_TXA_LAST) ||
		    (m->tx_a & 0x031f0000u) != 0 || (m->tx_a & 0x7ffu) != (m->tx_b & 0x7ffu))
			m->tx_protocol_errors++;
		m->tx_len = 0;
		m->tx_left = ((m->tx_a & 0x7ffu) + 3) / 4;
		m->tx_state = m->tx_left > 0 ? 2 : 0;
		break;
	default:
		for (int i = 0; i < 4; i++)
			m->tx_buf[m->tx_len++] = (uint8_t)(w >> (8 * i));
		if (--m->tx_left == 0) {
			size_t len = m->tx_a & 0x7ffu;

			if (m->nsent < MODEL_SENT_MAX) {
				memcpy(m->sent[m->nsent], m->tx_buf, len);
				m->sent_len[m->nsent] = len;
				m->sent_tag[m->nsent] = m->tx_b >> 16;
				m->nsent++;
			}
			if (m->txs_n < MODEL_RXS_MAX)
				m->txs[m->txs_n++] =
					(m->tx_b & 0xffff0000u) | m->tx_status_error_next;
			m->tx_status_error_next = 0;
			m->tx_state = 0;
		}
		break;
	}
}

static uint32_t model_read(void *ctx, uint32_t off)
{
	struct lan9118_model *m = ctx;
	uint32_t v;

	if (off < 0x20) {
		if (m->rxd_n == 0) {
			m->rx_underflows++;
			return 0;
		}
		v = m->rxd[m->rxd_head];
		m->rxd_head = (m->rxd_head + 1) % MODEL_RXD_MAX;
		m->rxd_n--;
		return v;
	}
	switch (off) {
	case LAN9118_RX_STATUS_FIFO:
		if (m->rxs_n == 0)
			return 0;
		v = m->rxs[m->rxs_head];
		m->rxs_head = (m->rxs_head + 1) % MODEL_RXS_MAX;
		m->rxs_n--;
		return v;
	case LAN9118_TX_STATUS_FIFO:
		if (m->txs_n == 0)
			return 0;
		v = m->txs[0];
		memmove(m->txs, m->txs + 1, --m->txs_n * sizeof(m->txs[0]));
		return v;
	case LAN9118_ID_REV:
		return m->id_rev;
	case LAN9118_IRQ_CFG:
		return m->irq_cfg;
	case LAN9118_INT_STS:
		return m->int_sts;
	case LAN9118_INT_EN:
		return m->int_en;
	case LAN9118_BYTE_TEST:
		return m->byte_test;
	case LAN9118_FIFO_INT:
		return m->fifo_int;
	case LAN9118_RX_CFG:
		return m->rx_cfg;
	case LAN9118_TX_CFG:
		return m->tx_cfg;
	case LAN9118_HW_CFG:
		return m->hw_cfg;
	case LAN9118_RX_FIFO_INF:
		return (uint32_t)m->rxs_n << 16 | (m->rxd_n * 4);
	case LAN9118_TX_FIFO_INF:
		return (uint32_t)m->txs_n << 16 | m->tdfree;
	case LAN9118_PMT_CTRL:
		return m->reset_stuck ? 0 : LAN9118_PMT_CTRL_READY;
	case LAN9118_RX_DROP:
		v = m->rx_drop;
		m->rx_drop = 0;
		return v;
	case LAN9118_MAC_CSR_CMD:
		return m->csr_cmd;
	case LAN9118_MAC_CSR_DATA:
		return m->csr_data;
	case LAN9118_E2P_CMD:
		return m->e2p_cmd;
	default:
		return 0;
	}
}

static void model_write(void *ctx, uint32_t off, uint32_t v)
{
	struct lan9118_model *m = ctx;

	if (off >= 0x20 && off < 0x40) {
		tx_word(m, v);
		return;
	}
	switch (off) {
	case LAN9118_IRQ_CFG:
		m->irq_cfg = v & (LAN9118_IRQ_CFG_EN | LAN9118_IRQ_CFG_POL | LAN9118_IRQ_CFG_TYPE);
		break;
	case LAN9118_INT_STS:
		m->int_sts &= ~v;
		break;
	case LAN9118_INT_EN:
		m->int_en = v;
		break;
	case LAN9118_FIFO_INT:
		m->fifo_int = v;
		break;
	case LAN9118_RX_CFG:
		m->rx_cfg = v;
		break;
	case LAN9118_TX_CFG:
		m->tx_cfg = v;
		break;
	case LAN9118_HW_CFG:
		if (v & LAN9118_HW_CFG_SRST)
			model_reset(m);
		break;
	case LAN9118_MAC_CSR_CMD:
		/* CSR accesses complete at once: busy is never seen set. */
		m->csr_cmd = v & ~LAN9118_CSR_BUSY;
		if (v & LAN9118_CSR_BUSY) {
			if (v & LAN9118_CSR_READ)
				m->csr_data = csr_get(m, v & 0xffu);
			else
				csr_set(m, v & 0xffu, m->csr_data);
		}
		break;
	case LAN9118_MAC_CSR_DATA:
		m->csr_data = v;
		break;
	default:
		break;
	}
}

void lan9118_model_tx_drain(struct lan9118_model *m)
{
	m->tdfree = LAN9118_TX_DATA_FIFO_BYTES;
}

struct weir_lan9118_bus lan9118_model_bus(struct lan9118_model *m)
{
	return (struct weir_lan9118_bus){ .read = model_read, .write = model_write, .ctx = m };
}

void lan9118_model_rx(struct lan9118_model *m, const void *frame, size_t len, uint32_t status_bits)
{
	unsigned off = (m->rx_cfg >> 8) & 0x1f;
	size_t total = off + len + 4, words = (total + 3) / 4;
	uint8_t buf[2200] = { 0 };

	ck_assert_uint_le(total, sizeof(buf));
	if (!(m->mac_cr & LAN9118_MAC_CR_RXEN)) {
		m->rx_dropped_disabled++;
		return;
	}
	ck_assert_uint_lt(m->rxs_n, MODEL_RXS_MAX);
	ck_assert_uint_le(m->rxd_n + words, MODEL_RXD_MAX);
	memcpy(buf + off, frame, len);
	memset(buf + off + len, 0xfc, 4); /* an FCS the driver must not hand on */
	for (size_t i = 0; i < words; i++) {
		uint32_t w = (uint32_t)buf[4 * i] | (uint32_t)buf[4 * i + 1] << 8 |
			     (uint32_t)buf[4 * i + 2] << 16 | (uint32_t)buf[4 * i + 3] << 24;

		m->rxd[(m->rxd_head + m->rxd_n) % MODEL_RXD_MAX] = w;
		m->rxd_n++;
	}
	m->rxs[(m->rxs_head + m->rxs_n) % MODEL_RXS_MAX] = (uint32_t)(len + 4) << 16 | status_bits;
	m->rxs_n++;
	if (m->rxs_n > (m->fifo_int & 0xffu))
		m->int_sts |= LAN9118_INT_RSFL;
}
