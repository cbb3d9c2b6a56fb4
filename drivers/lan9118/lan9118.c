/* lan9118.c - the SMSC LAN9118/LAN9220 netdev: reset, address, PIO receive and transmit, link. */
#include <string.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "lan9118"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/lan9118.h>
#include <weir/log.h>

#include "lan9118_regs.h"
#include "netdev_priv.h"

#ifndef CONFIG_WEIR_LAN9118_RX_FRAMES
#define CONFIG_WEIR_LAN9118_RX_FRAMES 8
#endif
#define RX_FRAMES CONFIG_WEIR_LAN9118_RX_FRAMES

/* Bytes the chip writes before each received frame (RX_CFG RXDOFF): two put the IP header, 14
 * bytes into the frame, on a word boundary. */
#define RX_OFFSET 2
/* One receive buffer: the offset, the longest frame the chip takes (1500-byte MTU, Ethernet
 * header, a VLAN tag) and its 4-byte FCS, in whole words; 1536 keeps buffers 64-byte aligned. */
#define RX_BUF_SIZE 1536
#define FCS_LEN	    4
#define MTU_MAX	    1500
/* The longest frame without FCS for an MTU: header and one VLAN tag. */
#define FRAME_MAX(mtu) ((uint32_t)(mtu) + WEIR_ETH_HLEN + 4)
/* The PHY's link bit is read this often (poll), and a reset may take this long. */
#define LINK_CHECK_NS	 WEIR_NS_PER_S
#define RESET_TIMEOUT_NS (100 * WEIR_NS_PER_MS)

_Static_assert(RX_OFFSET + FRAME_MAX(MTU_MAX) + FCS_LEN + 3 <= RX_BUF_SIZE,
	       "a receive buffer holds the longest frame the FIFO hands over");
_Static_assert(RX_FRAMES >= 2 && RX_FRAMES <= 255, "CONFIG_WEIR_LAN9118_RX_FRAMES");

struct lan_dev {
	struct weir_netdev nd;
	struct weir_lan9118_bus bus;
	uint8_t mac[WEIR_ETH_ALEN];
	uint16_t mtu;
	uint16_t tx_tag;
	int open;
	int irq;
	uint64_t next_link_ns;
	struct weir_frame frames[RX_FRAMES];
	struct weir_frame *free_list[RX_FRAMES];
	unsigned nfree;
	struct weir_netdev_stats st;
	struct weir_lan9118_stats lst;
};

/* One chip per board: the device and its buffers are static (no heap), sized by the profile. */
static struct lan_dev the_dev;
static _Alignas(64) uint8_t rx_bufs[RX_FRAMES][RX_BUF_SIZE];

static const struct weir_netdev_ops lan_ops;

static uint32_t rd(const struct lan_dev *d, uint32_t off)
{
	return d->bus.read(d->bus.ctx, off);
}

static void wr(const struct lan_dev *d, uint32_t off, uint32_t v)
{
	d->bus.write(d->bus.ctx, off, v);
}

void weir_lan9118_mmio_bus(struct weir_lan9118_bus *bus, uintptr_t base)
{
	if (bus == NULL)
		return;
	bus->read = weir__mmio_read32;
	bus->write = weir__mmio_write32;
	bus->ctx = (void *)base;
}

/* The FIFOs carry little-endian words: byte 0 of the frame is bits 7..0. */
static uint32_t le32_load(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void le32_store(uint8_t *p, uint32_t w)
{
	p[0] = (uint8_t)w;
	p[1] = (uint8_t)(w >> 8);
	p[2] = (uint8_t)(w >> 16);
	p[3] = (uint8_t)(w >> 24);
}

/* --- MAC and PHY registers ------------------------------------------------------------------- */

/* MAC CSR accesses complete in a few cycles; the bound keeps a dead chip from hanging us. */
static int csr_wait(const struct lan_dev *d)
{
	for (unsigned i = 0; i < 100000; i++)
		if (!(rd(d, LAN9118_MAC_CSR_CMD) & LAN9118_CSR_BUSY))
			return 0;
	return WEIR_EIO;
}

static uint32_t csr_read(const struct lan_dev *d, uint32_t idx)
{
	wr(d, LAN9118_MAC_CSR_CMD, LAN9118_CSR_BUSY | LAN9118_CSR_READ | idx);
	csr_wait(d);
	return rd(d, LAN9118_MAC_CSR_DATA);
}

static void csr_write(const struct lan_dev *d, uint32_t idx, uint32_t v)
{
	wr(d, LAN9118_MAC_CSR_DATA, v);
	wr(d, LAN9118_MAC_CSR_CMD, LAN9118_CSR_BUSY | idx);
	csr_wait(d);
}

static uint32_t phy_read(const struct lan_dev *d, uint32_t reg)
{
	for (unsigned i = 0; i < 100000 && (csr_read(d, LAN9118_MII_ACC) & LAN9118_MII_BUSY); i++)
		;
	csr_write(d, LAN9118_MII_ACC,
		  LAN9118_MII_PHY(LAN9118_PHY_ADDR) | LAN9118_MII_REG(reg) | LAN9118_MII_BUSY);
	for (unsigned i = 0; i < 100000 && (csr_read(d, LAN9118_MII_ACC) & LAN9118_MII_BUSY); i++)
		;
	return csr_read(d, LAN9118_MII_DATA) & 0xffffu;
}

static void link_check(struct lan_dev *d)
{
	uint32_t up = (phy_read(d, LAN9118_PHY_BSR) & LAN9118_PHY_BSR_LINK) != 0;

	if (up != d->lst.link_up) {
		d->lst.link_changes++;
		d->lst.link_up = up;
		weir_log_info("link %s", up ? "up" : "down");
	}
}

/* --- receive ---------------------------------------------------------------------------------- */

/* Reads words away from the RX data FIFO (a frame we drop). The chip's fast-forward (RX_DP_CTRL)
 * would be quicker for long frames, but QEMU's model corrupts its FIFO with it. */
static void rx_discard(const struct lan_dev *d, uint32_t words)
{
	while (words-- > 0)
		(void)rd(d, LAN9118_RX_DATA_FIFO);
}

/* Whether a receive status says drop the frame (counted here). len includes the FCS. */
static int rx_status_bad(struct lan_dev *d, uint32_t s, uint32_t len)
{
	if (s & LAN9118_RXS_FILTER_FAIL) {
		d->lst.rx_filtered++;
		return 1;
	}
	if (s & LAN9118_RXS_ES) {
		if (s & LAN9118_RXS_CRC_ERR)
			d->lst.rx_crc_errors++;
		if (s & (LAN9118_RXS_LENGTH_ERR | LAN9118_RXS_RUNT | LAN9118_RXS_COLLISION))
			d->lst.rx_length_errors++;
		if (s & LAN9118_RXS_TOO_LONG)
			d->lst.rx_too_long++;
		d->st.rx_errors++;
		return 1;
	}
	if (len < FCS_LEN + WEIR_ETH_HLEN) {
		d->st.rx_runts++;
		return 1;
	}
	if (len - FCS_LEN > FRAME_MAX(d->mtu)) {
		d->st.rx_oversize++;
		return 1;
	}
	return 0;
}

static int lan_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct lan_dev *d = (struct lan_dev *)nd;
	int got = 0;

	while (got < n) {
		uint32_t s, len, words;
		struct weir_frame *f;
		uint8_t *buf;

		if (LAN9118_FIFO_INF_USED(rd(d, LAN9118_RX_FIFO_INF)) == 0)
			break;
		if (d->nfree == 0) {
			/* The frame waits in the chip's FIFO for a buffer. */
			d->st.rx_nobuf++;
			break;
		}
		s = rd(d, LAN9118_RX_STATUS_FIFO);
		len = LAN9118_RXS_LEN(s);
		words = (RX_OFFSET + len + 3) / 4;
		if (rx_status_bad(d, s, len)) {
			rx_discard(d, words);
			continue;
		}
		f = d->free_list[--d->nfree];
		buf = f->data - RX_OFFSET;
		for (uint32_t i = 0; i < words; i++)
			le32_store(buf + 4 * i, rd(d, LAN9118_RX_DATA_FIFO));
		f->flags = 0;
		f->len = weir__netdev_rx_len(f->data, len - FCS_LEN, &d->st);
		if (f->len == 0) {
			d->free_list[d->nfree++] = f;
			continue;
		}
		d->st.rx_frames++;
		d->st.rx_bytes += f->len;
		out[got++] = f;
	}
	return got;
}

static void lan_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct lan_dev *d = (struct lan_dev *)nd;

	WEIR_BUG_ON(f < d->frames || f >= d->frames + RX_FRAMES);
	WEIR_BUG_ON(d->nfree >= RX_FRAMES);
	d->free_list[d->nfree++] = f;
}

/* Low when a quarter or fewer of the buffers are free: the stack then copies frames out. */
static int lan_rx_buffers_low(struct weir_netdev *nd)
{
	return ((struct lan_dev *)nd)->nfree <= RX_FRAMES / 4;
}

/* --- transmit --------------------------------------------------------------------------------- */

/* Packs a frame's bytes (its gather list, then zero padding up to len) into FIFO words. */
struct tx_packer {
	const struct lan_dev *d;
	uint32_t acc;
	unsigned nacc;
};

static void tx_put_byte(struct tx_packer *tp, uint8_t b)
{
	tp->acc |= (uint32_t)b << (8 * tp->nacc);
	if (++tp->nacc == 4) {
		wr(tp->d, LAN9118_TX_DATA_FIFO, tp->acc);
		tp->acc = 0;
		tp->nacc = 0;
	}
}

static void tx_put_bytes(struct tx_packer *tp, const uint8_t *p, size_t n)
{
	while (n > 0 && tp->nacc != 0) {
		tx_put_byte(tp, *p++);
		n--;
	}
	for (; n >= 4; p += 4, n -= 4)
		wr(tp->d, LAN9118_TX_DATA_FIFO, le32_load(p));
	while (n-- > 0)
		tx_put_byte(tp, *p++);
}

static void tx_reap_status(struct lan_dev *d)
{
	while (LAN9118_FIFO_INF_USED(rd(d, LAN9118_TX_FIFO_INF)) > 0) {
		if (rd(d, LAN9118_TX_STATUS_FIFO) & LAN9118_TXS_ES) {
			d->lst.tx_status_errors++;
			d->st.tx_errors++;
		}
	}
}

/* Command A promises the chip len bytes: a gather list that does not add up to the frame's
 * length would leave the FIFO out of step (extra words taken for the next command). */
static int tx_frame_valid(const struct lan_dev *d, const struct weir_tx_frame *tf)
{
	size_t sum = 0;

	if (tf->len > FRAME_MAX(d->mtu) || (tf->iovcnt > 0 && tf->iov == NULL))
		return 0;
	for (unsigned k = 0; k < tf->iovcnt; k++) {
		if (tf->iov[k].base == NULL && tf->iov[k].len > 0)
			return 0;
		sum += tf->iov[k].len;
	}
	return sum == tf->len;
}

static int lan_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct lan_dev *d = (struct lan_dev *)nd;
	int i;

	tx_reap_status(d);
	for (i = 0; i < n; i++) {
		const struct weir_tx_frame *tf = &frames[i];
		/* Short frames are padded to the Ethernet minimum here: the chip sends what it is
		 * given (QEMU's model does not pad). */
		uint32_t len = (uint32_t)WEIR_MAX(tf->len, (size_t)WEIR_ETH_MIN_FRAME);
		uint32_t words = (len + 3) / 4;
		struct tx_packer tp = { .d = d };

		if (!tx_frame_valid(d, tf))
			return i > 0 ? i : WEIR_EINVAL;
		/* Room for both command words and the data. */
		if (LAN9118_FIFO_INF_DATA(rd(d, LAN9118_TX_FIFO_INF)) < 4 * words + 8) {
			d->st.tx_full++;
			break;
		}
		wr(d, LAN9118_TX_DATA_FIFO, LAN9118_TXA_FIRST | LAN9118_TXA_LAST | len);
		wr(d, LAN9118_TX_DATA_FIFO, LAN9118_TXB_TAG(d->tx_tag++) | len);
		for (unsigned k = 0; k < tf->iovcnt; k++)
			tx_put_bytes(&tp, tf->iov[k].base, tf->iov[k].len);
		for (uint32_t k = (uint32_t)tf->len; k < len; k++)
			tx_put_byte(&tp, 0);
		if (tp.nacc != 0)
			wr(d, LAN9118_TX_DATA_FIFO, tp.acc);
		d->st.tx_frames++;
		d->st.tx_bytes += len;
	}
	return i;
}

/* --- timed work, capabilities, stats, close ----------------------------------------------------
 */

static uint64_t lan_next_deadline_ns(struct weir_netdev *nd)
{
	return ((struct lan_dev *)nd)->next_link_ns;
}

static int lan_poll(struct weir_netdev *nd)
{
	struct lan_dev *d = (struct lan_dev *)nd;
	uint64_t now = weir_clock_now_ns();

	if (now < d->next_link_ns)
		return 0;
	d->next_link_ns = now + LINK_CHECK_NS;
	link_check(d);
	tx_reap_status(d);
	/* RX_DROP counts frames the chip lost to a full FIFO, and clears when read. */
	d->lst.rx_fifo_dropped += rd(d, LAN9118_RX_DROP);
	return 0;
}

static void lan_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	const struct lan_dev *d = (const struct lan_dev *)nd;

	memcpy(caps->mac, d->mac, WEIR_ETH_ALEN);
	caps->mtu = d->mtu;
	caps->offloads = 0;
	caps->rx_queues = 1;
	caps->tx_queues = 1;
	caps->fd = -1;
	caps->poll_mode = 1;
	caps->irq_wake = d->irq;
}

static void lan_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *stats)
{
	*stats = ((const struct lan_dev *)nd)->st;
}

static void lan_close(struct weir_netdev *nd)
{
	struct lan_dev *d = (struct lan_dev *)nd;

	if (d->nfree != RX_FRAMES)
		weir_log_warn("closed with %u frames still held by the stack",
			      (unsigned)(RX_FRAMES - d->nfree));
	/* Quiet: no interrupts (with IRQ_EN clear the line is driven inactive), no receiving. */
	wr(d, LAN9118_INT_EN, 0);
	wr(d, LAN9118_IRQ_CFG, LAN9118_IRQ_CFG_POL | LAN9118_IRQ_CFG_TYPE);
	wr(d, LAN9118_INT_STS, 0xffffffffu);
	csr_write(d, LAN9118_MAC_CR, 0);
	d->open = 0;
}

static const struct weir_netdev_ops lan_ops = {
	.rx_burst = lan_rx_burst,		  /* required */
	.release = lan_release,			  /* required */
	.tx_burst = lan_tx_burst,		  /* required */
	.get_caps = lan_get_caps,		  /* required */
	.get_stats = lan_get_stats,		  /* optional */
	.next_deadline_ns = lan_next_deadline_ns, /* optional */
	.poll = lan_poll,			  /* optional */
	.rx_buffers_low = lan_rx_buffers_low,	  /* optional */
	.close = lan_close,			  /* required */
};

/* --- open ------------------------------------------------------------------------------------- */

static int chip_id_known(uint32_t id_rev)
{
	uint32_t id = id_rev >> 16;

	/* LAN9115..LAN9118, their "A" revisions, and LAN9210/9211/9220/9221. */
	return (id >= 0x0115 && id <= 0x0118) || (id >= 0x115a && id <= 0x118a) || id == 0x9210 ||
	       id == 0x9211 || id == 0x9220 || id == 0x9221;
}

static int chip_reset(const struct lan_dev *d)
{
	uint64_t until;

	wr(d, LAN9118_HW_CFG, LAN9118_HW_CFG_SRST);
	until = weir_clock_now_ns() + RESET_TIMEOUT_NS;
	/* Bounded in iterations too, for a clock that does not move. */
	for (unsigned i = 0; i < 1000000; i++) {
		if (!(rd(d, LAN9118_HW_CFG) & LAN9118_HW_CFG_SRST) &&
		    (rd(d, LAN9118_PMT_CTRL) & LAN9118_PMT_CTRL_READY))
			return 0;
		if (weir_clock_now_ns() > until)
			break;
	}
	return WEIR_EIO;
}

static int mac_usable(const uint8_t m[WEIR_ETH_ALEN])
{
	static const uint8_t zero[WEIR_ETH_ALEN];

	return memcmp(m, zero, WEIR_ETH_ALEN) != 0 && !(m[0] & 1);
}

/* The config's address, else the EEPROM's, else one derived from the board id: a keyed hash so
 * that boards with close serial numbers get unrelated addresses, with the locally administered
 * bit set and the multicast bit clear (IEEE 802 U/L, I/G). */
static void choose_mac(struct lan_dev *d, const struct weir_lan9118_config *cfg)
{
	static const uint8_t key[16] = "weir lan9118 mac";
	uint32_t lo, hi;
	uint64_t h;

	if (mac_usable(cfg->mac)) {
		memcpy(d->mac, cfg->mac, WEIR_ETH_ALEN);
		return;
	}
	if (rd(d, LAN9118_E2P_CMD) & LAN9118_E2P_CMD_LOADED) {
		lo = csr_read(d, LAN9118_ADDRL);
		hi = csr_read(d, LAN9118_ADDRH);
		le32_store(d->mac, lo);
		d->mac[4] = (uint8_t)hi;
		d->mac[5] = (uint8_t)(hi >> 8);
		if (mac_usable(d->mac))
			return;
	}
	h = weir_siphash24(key, cfg->board_id, sizeof(cfg->board_id));
	for (int i = 0; i < WEIR_ETH_ALEN; i++)
		d->mac[i] = (uint8_t)(h >> (8 * i));
	d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02);
}

int weir_lan9118_open(const struct weir_lan9118_config *cfg, struct weir_netdev **out)
{
	struct lan_dev *d = &the_dev;
	uint32_t id;
	int rc;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->bus.read == NULL ||
		       cfg->bus.write == NULL);
	if (cfg->mtu != 0 && (cfg->mtu < 576 || cfg->mtu > MTU_MAX)) {
		weir__netdev_set_error("lan9118: mtu %u outside 576..%u", cfg->mtu, MTU_MAX);
		return WEIR_EINVAL;
	}
	if (d->open) {
		weir__netdev_set_error("lan9118: already open (one device per board)");
		return WEIR_EBUSY;
	}
	memset(d, 0, sizeof(*d));
	d->bus = cfg->bus;
	if (rd(d, LAN9118_BYTE_TEST) != LAN9118_BYTE_TEST_VALUE) {
		weir__netdev_set_error("lan9118: BYTE_TEST reads %08x, not %08x: no chip here",
				       (unsigned)rd(d, LAN9118_BYTE_TEST),
				       (unsigned)LAN9118_BYTE_TEST_VALUE);
		return WEIR_ENODEV;
	}
	id = rd(d, LAN9118_ID_REV);
	if (!chip_id_known(id)) {
		weir__netdev_set_error("lan9118: ID_REV %08x is not a LAN911x/LAN921x",
				       (unsigned)id);
		return WEIR_ENODEV;
	}
	rc = chip_reset(d);
	if (rc < 0) {
		weir__netdev_set_error("lan9118: the soft reset did not finish");
		return rc;
	}
	d->mtu = cfg->mtu ? cfg->mtu : MTU_MAX;
	d->irq = cfg->irq ? 1 : 0;
	d->lst.id_rev = id;
	d->lst.frames_total = RX_FRAMES;

	/* Interrupts: none pending, none enabled yet. The line is push-pull, active high (what an
	 * NVIC input expects; QEMU's model drives it inverted otherwise). */
	wr(d, LAN9118_INT_EN, 0);
	wr(d, LAN9118_IRQ_CFG,
	   LAN9118_IRQ_CFG_POL | LAN9118_IRQ_CFG_TYPE | (d->irq ? LAN9118_IRQ_CFG_EN : 0));
	wr(d, LAN9118_INT_STS, 0xffffffffu);

	choose_mac(d, cfg);
	csr_write(d, LAN9118_ADDRL, le32_load(d->mac));
	csr_write(d, LAN9118_ADDRH, (uint32_t)d->mac[4] | (uint32_t)d->mac[5] << 8);

	/* RX status level 0 (RSFL as soon as one frame is in), no TX status interrupt. */
	wr(d, LAN9118_FIFO_INT, 0xff000000u | 0x00ff0000u);
	wr(d, LAN9118_RX_CFG, LAN9118_RX_CFG_RXDOFF(RX_OFFSET));
	wr(d, LAN9118_TX_CFG, LAN9118_TX_CFG_TX_ON | LAN9118_TX_CFG_TXSAO);
	/* Our address and broadcast only (no promiscuous mode, no multicast: IPv4 needs none). */
	csr_write(d, LAN9118_MAC_CR,
		  LAN9118_MAC_CR_RXEN | LAN9118_MAC_CR_TXEN | LAN9118_MAC_CR_FDPX);

	for (unsigned i = 0; i < RX_FRAMES; i++) {
		struct weir_frame *f = &d->frames[i];

		f->data = rx_bufs[i] + RX_OFFSET;
		f->cap = RX_BUF_SIZE - RX_OFFSET;
		f->dev = &d->nd;
		d->free_list[i] = f;
	}
	d->nfree = RX_FRAMES;
	/* The link as found: not a change. */
	d->lst.link_up = (phy_read(d, LAN9118_PHY_BSR) & LAN9118_PHY_BSR_LINK) != 0;
	d->next_link_ns = weir_clock_now_ns() + LINK_CHECK_NS;
	(void)rd(d, LAN9118_RX_DROP); /* start counting from here */
	if (d->irq)
		wr(d, LAN9118_INT_EN, LAN9118_INT_RSFL);
	d->nd.ops = &lan_ops;
	d->nd.name = "lan9118";
	d->open = 1;
	weir_log_info(
		"id %08x mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u, %u receive buffers, link %s",
		(unsigned)id, d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5],
		d->mtu, RX_FRAMES, d->lst.link_up ? "up" : "down");
	*out = &d->nd;
	return 0;
}

uint32_t weir_lan9118_irq(struct weir_netdev *nd)
{
	struct lan_dev *d = (struct lan_dev *)nd;
	uint32_t s;

	if (d == NULL || d != &the_dev || !d->open)
		return 0;
	s = rd(d, LAN9118_INT_STS) & rd(d, LAN9118_INT_EN);
	wr(d, LAN9118_INT_STS, s);
	return s;
}

int weir_lan9118_get_stats(const struct weir_netdev *nd, struct weir_lan9118_stats *out)
{
	const struct lan_dev *d = (const struct lan_dev *)nd;

	WEIR_EINVAL_IF(nd == NULL || out == NULL || nd->ops != &lan_ops);
	*out = d->lst;
	out->frames_held = RX_FRAMES - d->nfree;
	return 0;
}
