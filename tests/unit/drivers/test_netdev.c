/* test_netdev.c - the netdev wrappers and the shared receive length rule. */
#include <string.h>

#include <weir/config.h>
#include <weir/error.h>
#include <weir/netdev.h>
#if defined(CONFIG_WEIR_DRIVER_TAP) && CONFIG_WEIR_DRIVER_TAP
#include <weir/tap.h>
#define HAVE_TAP 1
#endif
#if defined(CONFIG_WEIR_DRIVER_DPDK) && CONFIG_WEIR_DRIVER_DPDK
#include <weir/dpdk.h>
#define HAVE_DPDK 1
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

#ifdef HAVE_DPDK
/* dpdk:EAL ARGS[,KEY=VALUE]...: weir's keys come off the end, the rest stays for the EAL;
 * busy_us=0 is a window of nothing, told apart from no busy_us at all. */
START_TEST(test_dpdk_spec_parse)
{
	struct weir_dpdk_config c;
	char buf[256];

	ck_assert_int_eq(weir_dpdk_parse_spec("--no-pci --vdev=net_memif0,role=server,"
					      "idle_sleep_us=50,busy_us=0,idle_yield=1",
					      &c, buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(c.eal_args, "--no-pci --vdev=net_memif0,role=server");
	ck_assert_uint_eq(c.idle_sleep_us, 50);
	ck_assert_int_eq(c.busy_us_set, 1);
	ck_assert_uint_eq(c.busy_us, 0);
	ck_assert_int_eq(c.idle_yield, 1);
	ck_assert_int_eq(weir_dpdk_parse_spec("--no-pci,busy_us=250", &c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(c.busy_us_set, 1);
	ck_assert_uint_eq(c.busy_us, 250);
	ck_assert_int_eq(weir_dpdk_parse_spec("--no-pci,port=1", &c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(c.busy_us_set, 0);
	ck_assert_int_eq(weir_dpdk_parse_spec("--no-pci,busy_us=1000001", &c, buf, sizeof(buf)),
			 WEIR_EINVAL);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "busy_us"));
	ck_assert_int_eq(weir_dpdk_parse_spec("--no-pci,busy_us=", &c, buf, sizeof(buf)),
			 WEIR_EINVAL);
}
END_TEST
#endif

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

/* The TAP steering hash as a function (the BPF program weir attaches computes the same;
 * tools/weir-bench/tap_spread.sh checks the two agree in the kernel): (port ^ port) *
 * 0x9e3779b1, the top 16 bits of the 32-bit product, modulo n; one queue for n <= 1. */
START_TEST(test_tap_steer_queue_formula)
{
	/* 1 * 0x9e3779b1 >> 16 = 0x9e37 = 40503 */
	ck_assert_uint_eq(weir_tap_steer_queue(1, 0, 65535), 40503);
	ck_assert_uint_eq(weir_tap_steer_queue(0x1234, 0x1235, 1000), 503);
	ck_assert_uint_eq(weir_tap_steer_queue(40000, 5300, 0), 0);
	ck_assert_uint_eq(weir_tap_steer_queue(40000, 5300, 1), 0);
}
END_TEST

/* Linux connects from even ports, so (source ^ destination) alone has one parity for every
 * client of a server port and would put them all on one of 2 queues; the multiplier spreads
 * them: every even port from 32768 to 60998 to port 5300, within 2% of half on each queue. */
START_TEST(test_tap_steer_queue_spreads_even_ports_over_two)
{
	unsigned hits[2] = { 0 };

	for (uint32_t p = 32768; p < 61000; p += 2)
		hits[weir_tap_steer_queue((uint16_t)p, 5300, 2)]++;
	ck_assert_uint_eq(hits[0] + hits[1], 14116);
	ck_assert_msg(hits[0] >= 6917 && hits[0] <= 7199, "queue 0: %u of 14116 ports", hits[0]);
}
END_TEST
#endif

/* Microsoft's RSS verification vectors (the "Verifying the RSS Hash Calculation" page; DPDK's
 * test_thash uses the same): IPv4 with TCP ports, source address, destination address, source
 * port, destination port, in network order. */
START_TEST(test_toeplitz_matches_the_rss_verification_suite)
{
	static const uint8_t key[40] = {
		0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
		0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
		0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
	};
	static const struct {
		uint8_t src[4], dst[4];
		uint16_t sport, dport;
		uint32_t with_ports, addrs_only;
	} v[] = {
		{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x51ccc178, 0x323e8fc2 },
		{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xc626b0ea, 0xd718262a },
		{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0x5c2b394a, 0xd2d0a5de },
		{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0xafc7327f, 0x82989176 },
		{ { 153, 39, 163, 191 },
		  { 202, 188, 127, 2 },
		  44251,
		  1303,
		  0x10e828a2,
		  0x5d1809c5 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t in[12];

		memcpy(in, v[i].src, 4);
		memcpy(in + 4, v[i].dst, 4);
		in[8] = (uint8_t)(v[i].sport >> 8);
		in[9] = (uint8_t)v[i].sport;
		in[10] = (uint8_t)(v[i].dport >> 8);
		in[11] = (uint8_t)v[i].dport;
		ck_assert_uint_eq(weir__toeplitz(key, sizeof(key), in, 12), v[i].with_ports);
		ck_assert_uint_eq(weir__toeplitz(key, sizeof(key), in, 8), v[i].addrs_only);
	}
	ck_assert_uint_eq(weir__toeplitz(key, 3, key, 4), 0); /* a key too short for a window */
}
END_TEST

/* Several queues: bad counts, a driver with one queue, unknown drivers: clear errors. */
START_TEST(test_open_queues_rejects_misuse)
{
	struct weir_netdev *q[2] = { NULL, NULL };

	ck_assert_int_eq(weir_netdev_open_queues(NULL, NULL, 2, q), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open_queues("tap:x", NULL, 2, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open_queues("tap:x", NULL, 0, q), WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open_queues("tap:x", NULL, WEIR_NETDEV_QUEUES_MAX + 1, q),
			 WEIR_EINVAL);
	ck_assert_int_eq(weir_netdev_open_queues("nosuch:x", NULL, 2, q), WEIR_EINVAL);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "names no driver"));
	ck_assert_int_eq(weir_netdev_open_queues("tap:bad,mtu=1", NULL, 2, q), WEIR_EINVAL);
	ck_assert_ptr_null(q[0]);
	/* Without a device: -1 (no queue known) for NULL, and for a device without the op. */
	ck_assert_int_eq(weir_netdev_rx_queue_of(NULL, NULL), -1);
}
END_TEST

Suite *weir_test_netdev_suite(void)
{
	Suite *s = suite_create("netdev");
	TCase *tc = tcase_create("netdev");

	tcase_add_test(tc, test_rx_len_drops_runts);
	tcase_add_test(tc, test_rx_len_pads_short_frames_with_zeros);
	tcase_add_test(tc, test_rx_len_leaves_full_frames_alone);
	tcase_add_test(tc, test_netdev_wrappers_reject_null);
	tcase_add_test(tc, test_toeplitz_matches_the_rss_verification_suite);
	tcase_add_test(tc, test_open_queues_rejects_misuse);
#ifdef HAVE_DPDK
	tcase_add_test(tc, test_dpdk_spec_parse);
#endif
#ifdef HAVE_TAP
	tcase_add_test(tc, test_tap_spec_parse);
	tcase_add_test(tc, test_tap_steer_queue_formula);
	tcase_add_test(tc, test_tap_steer_queue_spreads_even_ports_over_two);
#endif
	suite_add_tcase(s, tc);
	return s;
}
