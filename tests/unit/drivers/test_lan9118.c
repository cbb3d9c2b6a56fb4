/* test_lan9118.c - drivers/lan9118 against a register model (lan9118_model.c): the reset and
 * setup sequence, the address it picks, receive status parsing and what it drops, packing a
 * gather list into TX FIFO words, a full TX FIFO, link, interrupts, buffers returned. */
#include <string.h>
#include <time.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/lan9118.h>
#include <weir/netdev.h>

#include "lan9118_model.h"
#include "lan9118_regs.h"
#include "weir_tests.h"

static struct lan9118_model m;
static struct weir_netdev *dev;

static struct weir_lan9118_config cfg_of(struct lan9118_model *mm)
{
	struct weir_lan9118_config c = { .bus = lan9118_model_bus(mm) };

	return c;
}

static void setup(void)
{
	lan9118_model_init(&m);
	dev = NULL;
}

static void teardown(void)
{
	struct weir_lan9118_stats ls;

	if (dev != NULL) {
		ck_assert_int_eq(weir_lan9118_get_stats(dev, &ls), 0);
		ck_assert_uint_eq(ls.frames_held, 0); /* every test hands its frames back */
		weir_netdev_close(dev);
	}
	ck_assert_uint_eq(m.rx_underflows, 0); /* never read past a frame */
	ck_assert_uint_eq(m.tx_protocol_errors, 0);
}

static void open_default(int irq)
{
	struct weir_lan9118_config c = cfg_of(&m);

	c.irq = irq;
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
}

/* A frame of len bytes: to us, from the peer, type IPv4, then a counting pattern. */
static void make_frame(uint8_t *f, size_t len, uint8_t seed)
{
	static const uint8_t hdr[14] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x02,
					 0x00, 0x5e, 0x00, 0x53, 0x01, 0x08, 0x00 };

	for (size_t i = 0; i < len; i++)
		f[i] = i < 14 ? hdr[i] : (uint8_t)(i * 7 + seed);
}

START_TEST(test_open_resets_and_sets_up_the_chip)
{
	struct weir_netdev_caps caps;

	open_default(1);
	ck_assert_uint_eq(m.resets, 1);
	/* Push-pull, active high, enabled: what an NVIC input expects. */
	ck_assert_uint_eq(m.irq_cfg,
			  LAN9118_IRQ_CFG_EN | LAN9118_IRQ_CFG_POL | LAN9118_IRQ_CFG_TYPE);
	ck_assert_uint_eq(m.int_en, LAN9118_INT_RSFL);
	/* Receiving and sending, full duplex, our address and broadcast only (not promiscuous). */
	ck_assert_uint_eq(m.mac_cr,
			  LAN9118_MAC_CR_RXEN | LAN9118_MAC_CR_TXEN | LAN9118_MAC_CR_FDPX);
	ck_assert_uint_eq((m.rx_cfg >> 8) & 0x1f, 2); /* the IP header word-aligned */
	ck_assert_uint_eq(m.tx_cfg & LAN9118_TX_CFG_TX_ON, LAN9118_TX_CFG_TX_ON);
	ck_assert_uint_eq(m.fifo_int & 0xff, 0); /* RSFL from the first frame */
	ck_assert_int_eq(weir_netdev_get_caps(dev, &caps), 0);
	ck_assert_uint_eq(caps.mtu, 1500);
	ck_assert_int_eq(caps.fd, -1);
	ck_assert_int_eq(caps.poll_mode, 1);
	ck_assert_int_eq(caps.irq_wake, 1);
}
END_TEST

START_TEST(test_open_without_irq_leaves_the_line_off)
{
	struct weir_netdev_caps caps;

	open_default(0);
	ck_assert_uint_eq(m.irq_cfg & LAN9118_IRQ_CFG_EN, 0);
	ck_assert_uint_eq(m.int_en, 0);
	ck_assert_int_eq(weir_netdev_get_caps(dev, &caps), 0);
	ck_assert_int_eq(caps.irq_wake, 0);
}
END_TEST

START_TEST(test_open_refuses_what_is_not_a_chip)
{
	struct weir_lan9118_config c = cfg_of(&m);
	struct weir_netdev *d = NULL;

	m.byte_test = 0;
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_ENODEV);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "BYTE_TEST"));
	m.byte_test = LAN9118_BYTE_TEST_VALUE;
	m.id_rev = 0x12340000u;
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_ENODEV);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "ID_REV"));
	m.id_rev = 0x92200000u; /* LAN9220, the MPS2 FPGA's */
	m.reset_stuck = 1;
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_EIO);
	ck_assert_ptr_null(d);
	m.reset_stuck = 0;
	c.mtu = 1600;
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_EINVAL);
	c.mtu = 0;
	c.bus.read = NULL;
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_EINVAL);
	ck_assert_int_eq(weir_lan9118_open(NULL, &d), WEIR_EINVAL);
	c = cfg_of(&m);
	ck_assert_int_eq(weir_lan9118_open(&c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
	ck_assert_int_eq(weir_lan9118_open(&c, &d), WEIR_EBUSY); /* one per board */
}
END_TEST

START_TEST(test_mac_from_config_then_eeprom_then_board)
{
	static const uint8_t mine[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x02 };
	struct weir_lan9118_config c = cfg_of(&m);
	struct weir_netdev_caps caps;
	uint8_t derived1[6], derived2[6];

	memcpy(c.mac, mine, 6);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
	weir_netdev_get_caps(dev, &caps);
	ck_assert_mem_eq(caps.mac, mine, 6);
	/* Programmed into the filter, low bytes first. */
	ck_assert_uint_eq(m.addrl, 0x005e0002u);
	ck_assert_uint_eq(m.addrh, 0x0253u);
	weir_netdev_close(dev);

	memset(c.mac, 0, 6);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
	weir_netdev_get_caps(dev, &caps);
	ck_assert_mem_eq(caps.mac, m.eeprom_mac, 6);
	weir_netdev_close(dev);

	m.eeprom_valid = 0;
	memcpy(c.board_id, "board-01", 8);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
	weir_netdev_get_caps(dev, &caps);
	memcpy(derived1, caps.mac, 6);
	weir_netdev_close(dev);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0); /* the same board: the same address */
	weir_netdev_get_caps(dev, &caps);
	ck_assert_mem_eq(caps.mac, derived1, 6);
	weir_netdev_close(dev);
	memcpy(c.board_id, "board-02", 8);
	ck_assert_int_eq(weir_lan9118_open(&c, &dev), 0);
	weir_netdev_get_caps(dev, &caps);
	memcpy(derived2, caps.mac, 6);
	/* Locally administered unicast, and another board gets another address. */
	ck_assert_uint_eq(derived1[0] & 0x03, 0x02);
	ck_assert_uint_eq(derived2[0] & 0x03, 0x02);
	ck_assert_int_ne(memcmp(derived1, derived2, 6), 0);
}
END_TEST

START_TEST(test_rx_frames_byte_exact_without_fcs)
{
	uint8_t f1[1514], f2[100];
	struct weir_frame *got[4];

	open_default(0);
	make_frame(f1, sizeof(f1), 1);
	make_frame(f2, sizeof(f2), 2);
	lan9118_model_rx(&m, f1, sizeof(f1), 0);
	lan9118_model_rx(&m, f2, sizeof(f2), 0);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 4), 2);
	ck_assert_uint_eq(got[0]->len, sizeof(f1));
	ck_assert_mem_eq(got[0]->data, f1, sizeof(f1));
	ck_assert_uint_eq(got[1]->len, sizeof(f2));
	ck_assert_mem_eq(got[1]->data, f2, sizeof(f2));
	/* The IP header (14 bytes in) lands on a word boundary. */
	ck_assert_uint_eq(((uintptr_t)got[0]->data + 14) % 4, 0);
	ck_assert_uint_eq(m.rxd_n, 0); /* every word read, the FCS too */
	weir_netdev_release(got[0]);
	weir_netdev_release(got[1]);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 4), 0);
}
END_TEST

START_TEST(test_rx_short_frame_padded_runt_dropped)
{
	uint8_t arp[42], runt[10], ok[64];
	struct weir_frame *got[4];
	struct weir_netdev_stats st;

	open_default(0);
	make_frame(arp, sizeof(arp), 3);
	make_frame(runt, sizeof(runt), 4);
	make_frame(ok, sizeof(ok), 5);
	lan9118_model_rx(&m, arp, sizeof(arp), 0);
	lan9118_model_rx(&m, runt, sizeof(runt), 0);
	lan9118_model_rx(&m, ok, sizeof(ok), 0);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 4), 2);
	/* 42 bytes as sent, padded with zeros to the Ethernet minimum (the FCS bytes are gone). */
	ck_assert_uint_eq(got[0]->len, WEIR_ETH_MIN_FRAME);
	ck_assert_mem_eq(got[0]->data, arp, sizeof(arp));
	for (size_t i = sizeof(arp); i < WEIR_ETH_MIN_FRAME; i++)
		ck_assert_uint_eq(got[0]->data[i], 0);
	ck_assert_mem_eq(got[1]->data, ok, sizeof(ok));
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(st.rx_runts, 1);
	ck_assert_uint_eq(st.rx_padded, 1);
	ck_assert_uint_eq(st.rx_frames, 2);
	weir_netdev_release(got[0]);
	weir_netdev_release(got[1]);
}
END_TEST

START_TEST(test_rx_bad_status_oversize_and_filtered_dropped_and_counted)
{
	uint8_t f[1600];
	struct weir_frame *got[8];
	struct weir_netdev_stats st;
	struct weir_lan9118_stats ls;

	open_default(0);
	make_frame(f, sizeof(f), 6);
	lan9118_model_rx(&m, f, 200, LAN9118_RXS_ES | LAN9118_RXS_CRC_ERR);
	lan9118_model_rx(&m, f, 300, LAN9118_RXS_ES | LAN9118_RXS_TOO_LONG);
	lan9118_model_rx(&m, f, 64, LAN9118_RXS_ES | LAN9118_RXS_RUNT);
	lan9118_model_rx(&m, f, 64, LAN9118_RXS_FILTER_FAIL);
	lan9118_model_rx(&m, f, 1600, 0); /* longer than the MTU allows */
	lan9118_model_rx(&m, f, 77, 0);	  /* and after all that, a good one */
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 8), 1);
	ck_assert_uint_eq(got[0]->len, 77);
	ck_assert_mem_eq(got[0]->data, f, 77);
	weir_netdev_release(got[0]);
	weir_netdev_get_stats(dev, &st);
	weir_lan9118_get_stats(dev, &ls);
	ck_assert_uint_eq(st.rx_errors, 3);
	ck_assert_uint_eq(ls.rx_crc_errors, 1);
	ck_assert_uint_eq(ls.rx_too_long, 1);
	ck_assert_uint_eq(ls.rx_length_errors, 1);
	ck_assert_uint_eq(ls.rx_filtered, 1);
	ck_assert_uint_eq(st.rx_oversize, 1);
	ck_assert_uint_eq(st.rx_frames, 1);
	ck_assert_uint_eq(m.rxd_n, 0);
}
END_TEST

START_TEST(test_rx_waits_in_fifo_when_buffers_are_held)
{
	uint8_t f[128];
	struct weir_frame *got[64];
	struct weir_lan9118_stats ls;
	struct weir_netdev_stats st;
	int n, total = 0;

	open_default(0);
	weir_lan9118_get_stats(dev, &ls);
	make_frame(f, sizeof(f), 7);
	for (unsigned i = 0; i < ls.frames_total + 3; i++)
		lan9118_model_rx(&m, f, sizeof(f), 0);
	n = weir_netdev_rx_burst(dev, got, 64);
	ck_assert_int_eq(n, (int)ls.frames_total); /* every buffer, the rest stay in the FIFO */
	ck_assert_int_eq(weir_netdev_rx_buffers_low(dev), 1);
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(st.rx_nobuf, 1);
	ck_assert_uint_eq(m.rxs_n, 3);
	for (int i = 0; i < n; i++)
		weir_netdev_release(got[i]);
	ck_assert_int_eq(weir_netdev_rx_buffers_low(dev), 0);
	while ((n = weir_netdev_rx_burst(dev, got, 64)) > 0) {
		for (int i = 0; i < n; i++) {
			ck_assert_mem_eq(got[i]->data, f, sizeof(f));
			weir_netdev_release(got[i]);
		}
		total += n;
	}
	ck_assert_int_eq(total, 3);
}
END_TEST

START_TEST(test_tx_packs_a_gather_list_byte_exact)
{
	uint8_t f[1514], scratch[1514 + 8];
	struct weir_iovec iov[5];
	struct weir_tx_frame tf = { .iov = iov, .iovcnt = 5, .len = sizeof(f) };

	open_default(0);
	make_frame(f, sizeof(f), 8);
	/* Pieces of awkward lengths at awkward addresses, as a pbuf chain gives them. */
	memcpy(scratch + 3, f, sizeof(f));
	iov[0] = (struct weir_iovec){ scratch + 3, 14 };
	iov[1] = (struct weir_iovec){ scratch + 3 + 14, 1 };
	iov[2] = (struct weir_iovec){ scratch + 3 + 15, 0 };
	iov[3] = (struct weir_iovec){ scratch + 3 + 15, 1000 };
	iov[4] = (struct weir_iovec){ scratch + 3 + 1015, sizeof(f) - 1015 };
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(m.nsent, 2);
	ck_assert_uint_eq(m.sent_len[0], sizeof(f));
	ck_assert_mem_eq(m.sent[0], f, sizeof(f));
	ck_assert_uint_eq(m.sent_tag[1], m.sent_tag[0] + 1);
}
END_TEST

START_TEST(test_tx_short_padded_oversize_refused)
{
	uint8_t f[1600];
	struct weir_iovec iov = { f, 42 };
	struct weir_tx_frame tf = { .iov = &iov, .iovcnt = 1, .len = 42 };
	struct weir_netdev_stats st;

	open_default(0);
	make_frame(f, sizeof(f), 9);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(m.sent_len[0], WEIR_ETH_MIN_FRAME);
	ck_assert_mem_eq(m.sent[0], f, 42);
	for (unsigned i = 42; i < WEIR_ETH_MIN_FRAME; i++)
		ck_assert_uint_eq(m.sent[0][i], 0);
	iov.len = tf.len = 1519; /* MTU + header + a VLAN tag + 1 */
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	/* A gather list that does not add up to the frame, or a NULL piece, never reaches the
	 * FIFO (it would put the chip out of step). */
	iov.len = 100;
	tf.len = 101;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	iov.base = NULL;
	tf.len = 100;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	ck_assert_uint_eq(m.nsent, 1);
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(st.tx_frames, 1);
	ck_assert_uint_eq(st.tx_bytes, WEIR_ETH_MIN_FRAME);
}
END_TEST

START_TEST(test_tx_full_fifo_takes_nothing)
{
	uint8_t f[1000];
	struct weir_iovec iov = { f, sizeof(f) };
	struct weir_tx_frame tf[2] = { { .iov = &iov, .iovcnt = 1, .len = sizeof(f) },
				       { .iov = &iov, .iovcnt = 1, .len = sizeof(f) } };
	struct weir_netdev_stats st;

	open_default(0);
	make_frame(f, sizeof(f), 10);
	m.tdfree = 1000 + 8 - 4; /* one word short of room for the commands and the frame */
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 2), 0);
	ck_assert_uint_eq(m.nsent, 0);
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(st.tx_full, 1);
	/* Room for one frame and a half: the burst stops after the first, which went out whole. */
	m.tdfree = (1000 + 8) * 3 / 2;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 2), 1);
	ck_assert_uint_eq(m.nsent, 1);
	ck_assert_mem_eq(m.sent[0], f, sizeof(f));
	lan9118_model_tx_drain(&m);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 1, 1), 1);
	ck_assert_uint_eq(m.nsent, 2);
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(st.tx_full, 2);
}
END_TEST

START_TEST(test_tx_status_errors_counted)
{
	uint8_t f[100];
	struct weir_iovec iov = { f, sizeof(f) };
	struct weir_tx_frame tf = { .iov = &iov, .iovcnt = 1, .len = sizeof(f) };
	struct weir_lan9118_stats ls;
	struct weir_netdev_stats st;

	open_default(0);
	make_frame(f, sizeof(f), 11);
	m.tx_status_error_next = LAN9118_TXS_ES;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1); /* reaps the first's status */
	weir_lan9118_get_stats(dev, &ls);
	weir_netdev_get_stats(dev, &st);
	ck_assert_uint_eq(ls.tx_status_errors, 1);
	ck_assert_uint_eq(st.tx_errors, 1);
}
END_TEST

START_TEST(test_link_read_from_the_phy)
{
	struct weir_lan9118_stats ls;
	struct timespec ts = { 1, 100000000 };

	m.phy_bsr &= (uint16_t)~LAN9118_PHY_BSR_LINK;
	open_default(0);
	weir_lan9118_get_stats(dev, &ls);
	ck_assert_uint_eq(ls.link_up, 0);
	ck_assert_uint_ne(ls.id_rev, 0);
	m.phy_bsr |= LAN9118_PHY_BSR_LINK;
	m.rx_drop = 5;
	/* The link is read once a second, when the loop polls the device. */
	ck_assert_uint_gt(weir_netdev_next_deadline_ns(dev), weir_clock_now_ns());
	nanosleep(&ts, NULL);
	weir_netdev_poll(dev);
	weir_lan9118_get_stats(dev, &ls);
	ck_assert_uint_eq(ls.link_up, 1);
	ck_assert_uint_eq(ls.link_changes, 1);
	ck_assert_uint_eq(ls.rx_fifo_dropped, 5);
}
END_TEST

START_TEST(test_irq_acknowledges_and_closed_device_is_quiet)
{
	uint8_t f[64];
	struct weir_frame *got[2];
	struct weir_netdev *d;

	open_default(1);
	make_frame(f, sizeof(f), 12);
	lan9118_model_rx(&m, f, sizeof(f), 0);
	ck_assert_uint_eq(m.int_sts & LAN9118_INT_RSFL, LAN9118_INT_RSFL);
	ck_assert_uint_eq(weir_lan9118_irq(dev), LAN9118_INT_RSFL);
	ck_assert_uint_eq(m.int_sts & LAN9118_INT_RSFL, 0);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 2), 1);
	weir_netdev_release(got[0]);
	d = dev;
	weir_netdev_close(dev);
	dev = NULL;
	ck_assert_uint_eq(m.irq_cfg & LAN9118_IRQ_CFG_EN, 0);
	ck_assert_uint_eq(m.mac_cr & (LAN9118_MAC_CR_RXEN | LAN9118_MAC_CR_TXEN), 0);
	ck_assert_uint_eq(weir_lan9118_irq(d), 0);
	ck_assert_uint_eq(weir_lan9118_irq(NULL), 0);
}
END_TEST

Suite *weir_test_lan9118_suite(void)
{
	Suite *s = suite_create("lan9118");
	TCase *tc = tcase_create("lan9118");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_open_resets_and_sets_up_the_chip);
	tcase_add_test(tc, test_open_without_irq_leaves_the_line_off);
	tcase_add_test(tc, test_open_refuses_what_is_not_a_chip);
	tcase_add_test(tc, test_mac_from_config_then_eeprom_then_board);
	tcase_add_test(tc, test_rx_frames_byte_exact_without_fcs);
	tcase_add_test(tc, test_rx_short_frame_padded_runt_dropped);
	tcase_add_test(tc, test_rx_bad_status_oversize_and_filtered_dropped_and_counted);
	tcase_add_test(tc, test_rx_waits_in_fifo_when_buffers_are_held);
	tcase_add_test(tc, test_tx_packs_a_gather_list_byte_exact);
	tcase_add_test(tc, test_tx_short_padded_oversize_refused);
	tcase_add_test(tc, test_tx_full_fifo_takes_nothing);
	tcase_add_test(tc, test_tx_status_errors_counted);
	tcase_add_test(tc, test_link_read_from_the_phy);
	tcase_add_test(tc, test_irq_acknowledges_and_closed_device_is_quiet);
	suite_add_tcase(s, tc);
	return s;
}
