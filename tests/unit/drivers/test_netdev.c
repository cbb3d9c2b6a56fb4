/* test_netdev.c - the netdev wrappers and the shared receive length rule. */
#include <string.h>

#include <weir/config.h>
#include <weir/error.h>
#include <weir/netdev.h>
#if defined(CONFIG_WEIR_DRIVER_TAP) && CONFIG_WEIR_DRIVER_TAP
#include <weir/tap.h>
#define HAVE_TAP 1
#endif

#include "netdev_priv.h"
#include "weir_tests.h"

START_TEST(test_rx_len_drops_runts)
{
	struct weir_netdev_stats st = { 0 };
	uint8_t buf[WEIR_ETH_MIN_FRAME];

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(weir__netdev_rx_len(buf, 0, &st), 0);
	ck_assert_uint_eq(weir__netdev_rx_len(buf, WEIR_ETH_HLEN - 1, &st), 0);
	ck_assert_uint_eq(st.rx_runts, 2);
	ck_assert_uint_eq(st.rx_padded, 0);
}
END_TEST

START_TEST(test_rx_len_pads_short_frames_with_zeros)
{
	struct weir_netdev_stats st = { 0 };
	uint8_t buf[WEIR_ETH_MIN_FRAME];
	uint32_t lens[] = { WEIR_ETH_HLEN, 42, WEIR_ETH_MIN_FRAME - 1 };

	for (unsigned k = 0; k < 3; k++) {
		memset(buf, 0xaa, sizeof(buf));
		ck_assert_uint_eq(weir__netdev_rx_len(buf, lens[k], &st), WEIR_ETH_MIN_FRAME);
		for (uint32_t i = 0; i < WEIR_ETH_MIN_FRAME; i++)
			ck_assert_uint_eq(buf[i], i < lens[k] ? 0xaa : 0);
	}
	ck_assert_uint_eq(st.rx_padded, 3);
	ck_assert_uint_eq(st.rx_runts, 0);
}
END_TEST

START_TEST(test_rx_len_leaves_full_frames_alone)
{
	struct weir_netdev_stats st = { 0 };
	static uint8_t buf[1514];

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(weir__netdev_rx_len(buf, WEIR_ETH_MIN_FRAME, &st), WEIR_ETH_MIN_FRAME);
	ck_assert_uint_eq(weir__netdev_rx_len(buf, 1514, &st), 1514);
	ck_assert_uint_eq(buf[1513], 0xaa);
	ck_assert_uint_eq(st.rx_padded + st.rx_runts, 0);
}
END_TEST

START_TEST(test_netdev_wrappers_reject_null)
{
	struct weir_frame *f[1];
	struct weir_tx_frame tf = { 0 };
	struct weir_netdev_caps caps;
	struct weir_netdev_stats st;
	struct weir_netdev *dev = (struct weir_netdev *)&caps; /* never dereferenced */

	ck_assert_int_eq(weir_netdev_rx_burst(NULL, f, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, NULL, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, f, -1), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_tx_burst(NULL, &tf, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, NULL, 1), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_get_caps(NULL, &caps), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_get_caps(dev, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_get_stats(NULL, &st), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_poll(NULL), WEIR_EINVAL);
	ck_assert_uint_eq(weir_netdev_next_deadline_ns(NULL), UINT64_MAX);
	weir_netdev_release(NULL);
	weir_netdev_close(NULL);
	ck_assert_int_eq(weir_netdev_open(NULL, NULL, &dev), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open("eth0", NULL, &dev), WEIR_EINVAL);
	{
		/* A malformed dpdk spec fails before the EAL is touched: WEIR_EINVAL with the DPDK
		 * driver built in (issue 4), WEIR_ENOTSUP without it. */
		int rc = weir_netdev_open("dpdk:--no-pci,port=x", NULL, &dev);

		ck_assert_msg(rc == WEIR_EINVAL || rc == WEIR_ENOTSUP, "dpdk spec: %d", rc);
	}
}
END_TEST

#ifdef HAVE_TAP
/* tap:IFNAME[,offload=0|1]: the name (1..15 characters) and the one option; anything else is
 * WEIR_EINVAL with a reason, before any device is touched. */
START_TEST(test_tap_spec_parse)
{
	struct weir_tap_config c;
	char name[32];
	struct weir_netdev *dev;

	ck_assert_int_eq(weir_tap_parse_spec("weir0", &c, name, sizeof(name)), 0);
	ck_assert_str_eq(c.ifname, "weir0");
	ck_assert_int_eq(c.no_offload, 0);
	ck_assert_int_eq(weir_tap_parse_spec("weir0,offload=0", &c, name, sizeof(name)), 0);
	ck_assert_str_eq(c.ifname, "weir0");
	ck_assert_int_eq(c.no_offload, 1);
	ck_assert_int_eq(weir_tap_parse_spec("weir0,offload=1", &c, name, sizeof(name)), 0);
	ck_assert_int_eq(c.no_offload, 0);
	ck_assert_int_eq(weir_tap_parse_spec("abcdefghijklmno", &c, name, sizeof(name)), 0);
	ck_assert_int_eq(weir_tap_parse_spec("abcdefghijklmnop", &c, name, sizeof(name)),
			 WEIR_EINVAL);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "1..15 characters"));
	ck_assert_int_eq(weir_tap_parse_spec("", &c, name, sizeof(name)), WEIR_EINVAL);
	ck_assert_int_eq(weir_tap_parse_spec(",offload=0", &c, name, sizeof(name)), WEIR_EINVAL);
	ck_assert_int_eq(weir_tap_parse_spec("weir0,offload=2", &c, name, sizeof(name)),
			 WEIR_EINVAL);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "'offload=2' is not a TAP option"));
	ck_assert_int_eq(weir_tap_parse_spec("weir0,", &c, name, sizeof(name)), WEIR_EINVAL);
	ck_assert_int_eq(weir_tap_parse_spec("weir0", &c, name, 4), WEIR_EINVAL); /* no room */
	ck_assert_int_eq(weir_tap_parse_spec(NULL, &c, name, sizeof(name)), WEIR_EINVAL);
	ck_assert_int_eq(weir_tap_parse_spec("weir0", NULL, name, sizeof(name)), WEIR_EINVAL);
	ck_assert_int_eq(weir_tap_parse_spec("weir0", &c, NULL, sizeof(name)), WEIR_EINVAL);
	/* The same rules through weir_netdev_open, which fails before opening anything. */
	ck_assert_int_eq(weir_netdev_open("tap:weir0,offload=yes", NULL, &dev), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open("tap:", NULL, &dev), WEIR_EINVAL);
}
END_TEST
#endif

Suite *weir_test_netdev_suite(void)
{
	Suite *s = suite_create("netdev");
	TCase *tc = tcase_create("netdev");

	tcase_add_test(tc, test_rx_len_drops_runts);
	tcase_add_test(tc, test_rx_len_pads_short_frames_with_zeros);
	tcase_add_test(tc, test_rx_len_leaves_full_frames_alone);
	tcase_add_test(tc, test_netdev_wrappers_reject_null);
#ifdef HAVE_TAP
	tcase_add_test(tc, test_tap_spec_parse);
#endif
	suite_add_tcase(s, tc);
	return s;
}
