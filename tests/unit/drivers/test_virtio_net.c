/* test_virtio_net.c - drivers/virtio-net against an in-memory virtio-mmio device
 * (virtio_model.c): the initialisation sequence and the features taken, the transports and
 * devices it refuses, receive in place with buffers used in any order and ring indexes wrapping,
 * what it drops, the checksums a device leaves partial or vouches for, the transmit header for
 * plain, checksum-offload and TSO frames, a full transmit ring and buffers coming back out of
 * order, interrupts, addresses, MTU, link state and the entropy device. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <weir/clock.h>
#include <weir/config.h>
#include <weir/error.h>
#include <weir/netdev.h>
#include <weir/virtio_net.h>

#include "virtio_model.h"
#include "weir_tests.h"

#define HDR_LEN 12 /* struct virtio_net_hdr with VIRTIO_F_VERSION_1 */

/* What the driver takes when everything is offered and nothing is turned off. */
#define TAKEN_ALL                                                                                  \
	(WEIR_VIRTIO_F_VERSION_1 | WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_GUEST_CSUM |         \
	 WEIR_VIRTIO_NET_F_MTU | WEIR_VIRTIO_NET_F_MAC | WEIR_VIRTIO_NET_F_HOST_TSO4 |             \
	 WEIR_VIRTIO_NET_F_STATUS)

static struct virtio_model m;
static struct weir_netdev *dev;

static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 };

static void setup(void)
{
	virtio_model_init(&m);
	dev = NULL;
}

static void teardown(void)
{
	struct weir_virtio_net_stats vs;

	if (dev != NULL) {
		ck_assert_int_eq(weir_virtio_net_get_stats(dev, &vs), 0);
		ck_assert_uint_eq(vs.frames_held, 0); /* every test hands its frames back */
		weir_netdev_close(dev);
		dev = NULL;
		ck_assert_uint_eq(m.status, 0); /* close resets the device */
	}
	ck_assert_msg(m.protocol_errors == 0, "%u virtio protocol errors, the first: %s",
		      m.protocol_errors, m.last_error);
	virtio_model_fini(&m);
}

static struct weir_virtio_net_config cfg_of(void)
{
	struct weir_virtio_net_config c = { .bus = virtio_model_bus(&m) };

	return c;
}

static void open_frames(uint16_t rx, uint16_t tx)
{
	struct weir_virtio_net_config c = cfg_of();

	c.rx_frames = rx;
	c.tx_frames = tx;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
}

static void close_dev(void)
{
	weir_netdev_close(dev);
	dev = NULL;
	ck_assert_uint_eq(m.status, 0);
}

static struct weir_virtio_net_stats vstats(void)
{
	struct weir_virtio_net_stats vs;

	ck_assert_int_eq(weir_virtio_net_get_stats(dev, &vs), 0);
	return vs;
}

static struct weir_netdev_stats nstats(void)
{
	struct weir_netdev_stats st;

	ck_assert_int_eq(weir_netdev_get_stats(dev, &st), 0);
	return st;
}

static struct weir_netdev_caps caps_of(void)
{
	struct weir_netdev_caps caps;

	ck_assert_int_eq(weir_netdev_get_caps(dev, &caps), 0);
	return caps;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* The one's complement sum (RFC 1071) of n bytes taken as big-endian words, added to acc and
 * folded; written here rather than borrowed so the test does not check the driver against its
 * own helper. */
static uint16_t sum16(const uint8_t *p, size_t n, uint32_t acc)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* A frame of len bytes: to us, from the peer, an experimental EtherType (not IP: the driver must
 * leave it alone), then a pattern that differs with seed, which is also written at bytes 14..17
 * so that frames of one pattern still differ. */
static void make_frame(uint8_t *f, size_t len, uint32_t seed)
{
	uint8_t hdr[18];

	memcpy(hdr, our_mac, 6);
	memcpy(hdr + 6, peer_mac, 6);
	hdr[12] = 0x88;
	hdr[13] = 0xb5;
	memcpy(hdr + 14, &seed, 4);
	for (size_t i = 0; i < len; i++)
		f[i] = i < sizeof(hdr) ? hdr[i] : (uint8_t)(i * 7 + seed);
}

/* The pseudo-header sum (RFC 793, 768) of the IPv4 packet at ip for l4len bytes of L4. */
static uint16_t pseudo_sum(const uint8_t *ip, size_t l4len)
{
	uint32_t acc = ip[9] + (uint32_t)l4len;

	return sum16(ip + 12, 8, acc);
}

#define IP_MF 0x2000u

/* An Ethernet/IPv4 frame to us: ihl header words (options are NOPs), frag the flags and offset
 * field, proto 6 (TCP, 20-byte header), 17 (UDP) or 1 (ICMP echo), then payload bytes. The IPv4
 * checksum is valid; the TCP or UDP checksum field holds the pseudo-header sum, folded and not
 * inverted, as a sender that leaves it partial (NEEDS_CSUM) writes it; ICMP's is complete.
 * Returns the frame's length. */
static size_t make_ip(uint8_t *f, uint8_t proto, unsigned ihl, uint16_t frag, size_t payload,
		      uint8_t seed)
{
	uint8_t *ip = f + 14, *l4 = ip + ihl * 4;
	size_t l4h = proto == 6 ? 20 : 8, l4len = l4h + payload;

	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0800);
	memset(ip, 1, ihl * 4);
	ip[0] = (uint8_t)(0x40 | ihl);
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(ihl * 4 + l4len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, frag);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	memcpy(ip + 12, (const uint8_t[]){ 192, 0, 2, 1, 192, 0, 2, 2 }, 8);
	put16(ip + 10, (uint16_t)~sum16(ip, ihl * 4, 0));
	memset(l4, 0, l4h);
	for (size_t i = 0; i < payload; i++)
		l4[l4h + i] = (uint8_t)(i * 13 + seed);
	switch (proto) {
	case 6:
		put16(l4, 40000);
		put16(l4 + 2, 80);
		memcpy(l4 + 4, (const uint8_t[]){ 1, 2, 3, 4, 5, 6, 7, 8 }, 8);
		l4[12] = 5 << 4;
		l4[13] = 0x18; /* PSH ACK */
		put16(l4 + 14, 65535);
		put16(l4 + 16, pseudo_sum(ip, l4len));
		break;
	case 17:
		put16(l4, 40000);
		put16(l4 + 2, 53);
		put16(l4 + 4, (uint16_t)l4len);
		put16(l4 + 6, pseudo_sum(ip, l4len));
		break;
	default:
		l4[0] = 8; /* echo request */
		put16(l4 + 2, (uint16_t)~sum16(l4, l4len, 0));
		break;
	}
	return 14 + ihl * 4 + l4len;
}

/* A 42-byte ARP request from the peer, as Linux sends it (unpadded). */
static size_t make_arp(uint8_t *f)
{
	static const uint8_t arp[28] = { 0,    1,    8,	   0,	 6,   4, 0, 1, 0x02, 0x00,
					 0x5e, 0x00, 0x53, 0x01, 192, 0, 2, 1, 0,    0,
					 0,    0,    0,	   0,	 192, 0, 2, 2 };

	memset(f, 0xff, 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, 0x0806);
	memcpy(f + 14, arp, sizeof(arp));
	return 42;
}

/* Takes exactly n frames from the driver. */
static void rx_expect(struct weir_frame **got, int max, int n)
{
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, max), n);
}

static void release_all(struct weir_frame **got, int n)
{
	for (int i = 0; i < n; i++)
		weir_netdev_release(got[i]);
}

static struct weir_tx_frame tx_one(struct weir_iovec *iov, const void *f, size_t len)
{
	iov->base = f;
	iov->len = len;
	return (struct weir_tx_frame){ .iov = iov, .iovcnt = 1, .len = len };
}

START_TEST(test_open_takes_offered_features_in_the_spec_order)
{
	struct weir_virtio_net_config c = cfg_of();
	struct weir_virtio_net_stats vs;
	struct weir_netdev_caps caps;
	/* The order of virtio 1.x, 3.1.1: reset, ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK. */
	static const uint32_t seq[] = { 0, 1, 3, 11, 15 };

	/* Besides what the driver takes: what it must not (they change the rings' or the
	 * buffers' layout), a feature bit it does not know, and the packed ring (bit 34). */
	m.features |=
		VIRTIO_MODEL_F_GUEST_TSO6 | VIRTIO_MODEL_F_HOST_TSO6 | (1ull << 34) | (1ull << 40);
	c.rx_frames = 32;
	c.tx_frames = 16;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(m.nstatus, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_uint_eq(m.status_log[i], seq[i]);
	ck_assert_uint_eq(m.status, 15);
	ck_assert_uint_eq(m.features_read, 3); /* both windows of DeviceFeatures */
	ck_assert_uint_eq(m.driver_features_written & 3, 3);
	ck_assert_uint_eq(m.driver_features, TAKEN_ALL);
	/* Receive (0) and transmit (1) queues; the control queue (2) was not asked for. */
	ck_assert_uint_eq(m.q[0].ready, 1);
	ck_assert_uint_eq(m.q[1].ready, 1);
	ck_assert_uint_eq(m.q[2].ready, 0);
	ck_assert_uint_eq(m.q[0].num, 32);
	ck_assert_uint_eq(m.q[1].num, 16);
	/* Every receive buffer posted, the device told once; nothing to send yet. */
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 32);
	ck_assert_uint_eq(m.q[0].notifies, 1);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 1), 0);
	ck_assert_uint_eq(m.q[1].notifies, 0);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 32);
	ck_assert_uint_ge(virtio_model_rx_capacity(&m, 0), HDR_LEN + 14 + 1500);

	vs = vstats();
	ck_assert_uint_eq(vs.features_offered, m.features);
	ck_assert_uint_eq(vs.features_taken, TAKEN_ALL);
	ck_assert_uint_eq(vs.frames_total, 32);
	ck_assert_uint_eq(vs.frames_held, 0);
	ck_assert_uint_eq(vs.tx_in_flight, 0);
	ck_assert_uint_eq(vs.rx_queue_size, 32);
	ck_assert_uint_eq(vs.tx_queue_size, 16);
	ck_assert_uint_eq(vs.link_up, 1);
	ck_assert_uint_eq(vs.notifies, 1);

	caps = caps_of();
	ck_assert_uint_eq(caps.offloads, WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_TX_TSO4);
	ck_assert_uint_eq(caps.mtu, 1500);
	ck_assert_mem_eq(caps.mac, m.mac, 6);
	ck_assert_int_eq(caps.fd, -1);
	ck_assert_int_eq(caps.poll_mode, 1);
	ck_assert_int_eq(caps.irq_wake, 0);
}
END_TEST

START_TEST(test_open_with_only_version_1_offered_takes_nothing_else)
{
	struct weir_virtio_net_config c = cfg_of();
	struct weir_netdev_caps caps;

	m.features = WEIR_VIRTIO_F_VERSION_1;
	memcpy(c.board_id, "board-01", 8);
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(m.driver_features, WEIR_VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(vstats().features_taken, WEIR_VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(vstats().features_offered, WEIR_VIRTIO_F_VERSION_1);
	ck_assert_uint_eq(m.status, 15);
	caps = caps_of();
	ck_assert_uint_eq(caps.offloads, 0);
	ck_assert_uint_eq(caps.mtu, 1500);
	/* No VIRTIO_NET_F_MAC: the configuration's MAC is not the device's to give. */
	ck_assert_int_ne(memcmp(caps.mac, m.mac, 6), 0);
	ck_assert_uint_eq(vstats().link_up, 1); /* no VIRTIO_NET_F_STATUS: assume up */
}
END_TEST

START_TEST(test_no_offloads_masks_what_is_offered)
{
	static const struct {
		uint32_t no;
		uint64_t drop_offer; /* features the device does not offer this time */
		uint64_t taken;
		uint32_t offloads;
	} cases[] = {
		{ WEIR_VIRTIO_NET_NO_CSUM, 0,
		  TAKEN_ALL & ~(WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_HOST_TSO4), 0 },
		{ WEIR_VIRTIO_NET_NO_TSO, 0, TAKEN_ALL & ~WEIR_VIRTIO_NET_F_HOST_TSO4,
		  WEIR_OFFLOAD_TX_CSUM_L4 },
		{ WEIR_VIRTIO_NET_NO_GUEST_CSUM, 0, TAKEN_ALL & ~WEIR_VIRTIO_NET_F_GUEST_CSUM,
		  WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_TX_TSO4 },
		{ WEIR_VIRTIO_NET_NO_CSUM | WEIR_VIRTIO_NET_NO_GUEST_CSUM | WEIR_VIRTIO_NET_NO_TSO,
		  0,
		  WEIR_VIRTIO_F_VERSION_1 | WEIR_VIRTIO_NET_F_MTU | WEIR_VIRTIO_NET_F_MAC |
			  WEIR_VIRTIO_NET_F_STATUS,
		  0 },
	};
	uint64_t offered = m.features;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct weir_virtio_net_config c = cfg_of();

		m.features = offered & ~cases[i].drop_offer;
		c.no_offloads = cases[i].no;
		ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
		ck_assert_uint_eq(m.driver_features, cases[i].taken);
		ck_assert_uint_eq(vstats().features_taken, cases[i].taken);
		ck_assert_uint_eq(caps_of().offloads, cases[i].offloads);
		close_dev();
	}
}
END_TEST

START_TEST(test_host_tso4_offered_without_csum_is_not_taken)
{
	/* A device should not offer HOST_TSO4 without CSUM (5.1.3.1), but if one does the driver
	 * must not accept it (2.2.1: not a feature whose requirement it did not accept) and opens
	 * without either. */
	m.features &= ~WEIR_VIRTIO_NET_F_CSUM;
	open_frames(8, 8);
	ck_assert_uint_eq(m.driver_features,
			  TAKEN_ALL & ~(WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_HOST_TSO4));
	ck_assert_uint_eq(vstats().features_taken, m.driver_features);
	ck_assert_uint_eq(caps_of().offloads, 0);
}
END_TEST

START_TEST(test_open_refuses_legacy_and_what_is_not_a_network_device)
{
	struct weir_virtio_net_config c = cfg_of();
	struct weir_virtio_bus bus = virtio_model_bus(&m);
	struct weir_netdev *d = NULL;
	uint32_t version = 0;

	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, &version), WEIR_VIRTIO_ID_NET);
	ck_assert_uint_eq(version, 2);
	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, NULL), WEIR_VIRTIO_ID_NET);

	m.version = 1;
	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, &version), WEIR_VIRTIO_ID_NET);
	ck_assert_uint_eq(version, 1);
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENOTSUP);
	ck_assert_ptr_nonnull(strstr(weir_netdev_last_error(), "legacy"));
	ck_assert_ptr_null(d);
	m.version = 2;

	m.magic = 0x12345678u;
	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, &version), 0);
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENODEV);
	ck_assert_str_ne(weir_netdev_last_error(), "");
	m.magic = 0x74726976u;

	m.device_id = 0; /* an empty slot */
	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, &version), 0);
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENODEV);
	m.device_id = WEIR_VIRTIO_ID_RNG;
	ck_assert_uint_eq(weir_virtio_mmio_probe(&bus, &version), WEIR_VIRTIO_ID_RNG);
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENODEV);
	m.device_id = WEIR_VIRTIO_ID_NET;
	ck_assert_uint_eq(m.status, 0);

	/* A modern transport whose device does not offer VIRTIO_F_VERSION_1. */
	m.features &= ~WEIR_VIRTIO_F_VERSION_1;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENOTSUP);
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(m.status, 0); /* left reset */
	ck_assert_uint_eq(m.q[0].ready, 0);
}
END_TEST

START_TEST(test_open_fails_with_the_device_reset_when_features_are_refused)
{
	struct weir_virtio_net_config c = cfg_of();
	struct weir_netdev *d = NULL;
	int asked = 0;

	m.refuse_features = 1;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_EIO);
	ck_assert_ptr_null(d);
	ck_assert_str_ne(weir_netdev_last_error(), "");
	for (unsigned i = 0; i < m.nstatus && i < VIRTIO_MODEL_STATUS_LOG; i++)
		asked |= (m.status_log[i] & VIRTIO_MODEL_S_FEATURES_OK) != 0;
	ck_assert_int_eq(asked, 1);
	ck_assert_uint_eq(m.status_log[m.nstatus - 1], 0); /* the last write is the reset */
	ck_assert_uint_eq(m.status, 0);
	ck_assert_uint_eq(m.q[0].ready | m.q[1].ready, 0); /* no queue was set up */
	/* The same device accepting them opens. */
	m.refuse_features = 0;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
}
END_TEST

START_TEST(test_open_fails_when_a_queue_is_missing)
{
	struct weir_virtio_net_config c = cfg_of();
	struct weir_netdev *d = NULL;

	m.q[1].num_max = 0;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENODEV);
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(m.status, 0);
	ck_assert_uint_eq(m.q[0].ready, 0);
	m.q[1].num_max = 256;
	m.q[0].num_max = 0;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_ENODEV);
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(m.status, 0);
	ck_assert_uint_eq(m.q[1].ready, 0);
}
END_TEST

/* Another driver's device, for the calls that must tell ours apart. */
static void other_release(struct weir_netdev *d, struct weir_frame *f)
{
	(void)d;
	(void)f;
}

static void other_close(struct weir_netdev *d)
{
	(void)d;
}

START_TEST(test_misuse_is_einval_before_touching_the_device)
{
	static const struct weir_netdev_ops other_ops = { .release = other_release,
							  .close = other_close };
	struct weir_netdev other = { .ops = &other_ops, .name = "other" };
	struct weir_virtio_net_config c = cfg_of();
	struct weir_virtio_net_stats vs;
	struct weir_netdev *d = NULL;
	const struct {
		uint16_t mtu, rx, tx;
	} bad[] = { { 575, 0, 0 },  { 1501, 0, 0 }, { 0, 1, 0 },
		    { 0, 1025, 0 }, { 0, 0, 1 },    { 0, 0, 1025 } };

	ck_assert_int_eq(weir_virtio_net_open(NULL, &d), WEIR_EINVAL);
	ck_assert_int_eq(weir_virtio_net_open(&c, NULL), WEIR_EINVAL);
	c.bus.read = NULL;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_EINVAL);
	c = cfg_of();
	c.bus.write = NULL;
	ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = cfg_of();
		c.mtu = bad[i].mtu;
		c.rx_frames = bad[i].rx;
		c.tx_frames = bad[i].tx;
		ck_assert_int_eq(weir_virtio_net_open(&c, &d), WEIR_EINVAL);
	}
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(m.nstatus, 0); /* the device was never touched */

	ck_assert_int_eq(weir_virtio_net_get_stats(NULL, &vs), WEIR_EINVAL);
	ck_assert_int_eq(weir_virtio_net_get_stats(&other, &vs), WEIR_EINVAL);
	ck_assert_uint_eq(weir_virtio_net_irq(NULL), 0);
	ck_assert_uint_eq(weir_virtio_net_irq(&other), 0);

	/* The limits themselves are allowed. */
	c = cfg_of();
	c.mtu = 576;
	c.rx_frames = 2;
	c.tx_frames = 2;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_int_eq(weir_virtio_net_get_stats(dev, NULL), WEIR_EINVAL);
	ck_assert_uint_eq(caps_of().mtu, 576);
	ck_assert_uint_eq(vstats().frames_total, 2);
}
END_TEST

START_TEST(test_queue_sizes_follow_the_frames_and_queue_num_max)
{
	struct weir_virtio_net_stats vs;

	/* Rounded up to a power of two (split rings, 2.6), only the frames asked for posted. */
	open_frames(5, 3);
	ck_assert_uint_eq(m.q[0].num, 8);
	ck_assert_uint_eq(m.q[1].num, 4);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 5);
	vs = vstats();
	ck_assert_uint_eq(vs.frames_total, 5);
	ck_assert_uint_eq(vs.rx_queue_size, 8);
	ck_assert_uint_eq(vs.tx_queue_size, 4);
	close_dev();

	/* A device with smaller queues: as many buffers as they hold. */
	m.q[0].num_max = 4;
	m.q[1].num_max = 2;
	open_frames(16, 8);
	ck_assert_uint_eq(m.q[0].num, 4);
	ck_assert_uint_eq(m.q[1].num, 2);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 4);
	vs = vstats();
	ck_assert_uint_eq(vs.frames_total, 4);
	ck_assert_uint_eq(vs.rx_queue_size, 4);
	ck_assert_uint_eq(vs.tx_queue_size, 2);
	close_dev();

	/* 0: the Kconfig defaults. */
	m.q[0].num_max = 1024;
	m.q[1].num_max = 1024;
	open_frames(0, 0);
	vs = vstats();
	ck_assert_uint_eq(vs.frames_total, CONFIG_WEIR_VIRTIO_NET_RX_FRAMES);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), CONFIG_WEIR_VIRTIO_NET_RX_FRAMES);
	ck_assert_uint_ge(vs.rx_queue_size, CONFIG_WEIR_VIRTIO_NET_RX_FRAMES);
	ck_assert_uint_lt(vs.rx_queue_size, 2 * CONFIG_WEIR_VIRTIO_NET_RX_FRAMES);
	ck_assert_uint_ge(vs.tx_queue_size, CONFIG_WEIR_VIRTIO_NET_TX_FRAMES);
	ck_assert_uint_lt(vs.tx_queue_size, 2 * CONFIG_WEIR_VIRTIO_NET_TX_FRAMES);
}
END_TEST

START_TEST(test_rx_hands_frames_in_place_and_release_reposts)
{
	uint8_t f1[100], f2[1514];
	uint8_t *b1, *b2;
	struct weir_frame *got[8];
	struct weir_netdev_stats st;
	uint64_t notifies;

	open_frames(8, 8);
	make_frame(f1, sizeof(f1), 1);
	make_frame(f2, sizeof(f2), 2);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f1, sizeof(f1)), 0);
	b1 = m.rx_last_buf;
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f2, sizeof(f2)), 0);
	b2 = m.rx_last_buf;
	rx_expect(got, 8, 2);
	/* Where the device wrote them, just past the header: no copy. */
	ck_assert_ptr_eq(got[0]->data, b1 + HDR_LEN);
	ck_assert_ptr_eq(got[1]->data, b2 + HDR_LEN);
	ck_assert_uint_eq(got[0]->len, sizeof(f1));
	ck_assert_uint_eq(got[1]->len, sizeof(f2));
	ck_assert_mem_eq(got[0]->data, f1, sizeof(f1));
	ck_assert_mem_eq(got[1]->data, f2, sizeof(f2));
	ck_assert_uint_ge(got[1]->cap, sizeof(f2));
	ck_assert_uint_eq(got[0]->flags, 0);
	ck_assert_uint_eq(got[1]->flags, 0);
	ck_assert_ptr_eq(got[0]->dev, dev);
	ck_assert_uint_eq(vstats().frames_held, 2);
	st = nstats();
	ck_assert_uint_eq(st.rx_frames, 2);
	ck_assert_uint_eq(st.rx_bytes, sizeof(f1) + sizeof(f2));
	ck_assert_uint_eq(virtio_model_rx_available(&m), 6);

	/* Release posts the buffer again and tells the device. */
	notifies = m.q[0].notifies;
	weir_netdev_release(got[0]);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 9);
	ck_assert_uint_eq(m.q[0].notifies, notifies + 1);
	ck_assert_uint_eq(vstats().frames_held, 1);
	/* Unless the device said it needs no notifications (VIRTQ_USED_F_NO_NOTIFY). */
	virtio_model_set_no_notify(&m, 0, 1);
	weir_netdev_release(got[1]);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 10);
	ck_assert_uint_eq(m.q[0].notifies, notifies + 1);
	ck_assert_uint_eq(vstats().frames_held, 0);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
	rx_expect(got, 8, 0);
	/* The reposted buffers carry frames again. */
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f2, sizeof(f2)), 0);
	rx_expect(got, 8, 1);
	ck_assert_mem_eq(got[0]->data, f2, sizeof(f2));
	weir_netdev_release(got[0]);
}
END_TEST

START_TEST(test_rx_buffers_used_out_of_order)
{
	uint8_t f[8][300];
	uint8_t *bufs[8];
	struct weir_frame *got[8];
	static const unsigned pos[3] = { 5, 2, 0 };

	open_frames(8, 8);
	for (unsigned i = 0; i < 8; i++)
		make_frame(f[i], sizeof(f[i]), 100 + i);
	/* The device picks buffers from the middle of what it holds, as one with several
	 * receive paths may. */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_ge(virtio_model_rx_at(&m, pos[i], NULL, f[i], 60 + 80 * i), 0);
		bufs[i] = m.rx_last_buf;
	}
	rx_expect(got, 8, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_ptr_eq(got[i]->data, bufs[i] + HDR_LEN);
		ck_assert_uint_eq(got[i]->len, 60 + 80 * i);
		ck_assert_mem_eq(got[i]->data, f[i], 60 + 80 * i);
	}
	/* Given back in yet another order. */
	weir_netdev_release(got[1]);
	weir_netdev_release(got[2]);
	weir_netdev_release(got[0]);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
	/* Now always the newest buffer: every one goes round once. */
	for (unsigned i = 0; i < 8; i++) {
		ck_assert_int_ge(virtio_model_rx_at(&m, 7 - i, NULL, f[i], sizeof(f[i])), 0);
		bufs[i] = m.rx_last_buf;
	}
	rx_expect(got, 8, 8);
	for (unsigned i = 0; i < 8; i++) {
		ck_assert_ptr_eq(got[i]->data, bufs[i] + HDR_LEN);
		ck_assert_mem_eq(got[i]->data, f[i], sizeof(f[i]));
		for (unsigned k = 0; k < i; k++)
			ck_assert_ptr_ne(bufs[i], bufs[k]);
	}
	release_all(got, 8);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
}
END_TEST

START_TEST(test_rx_ring_indexes_wrap_past_65535)
{
	enum { TOTAL = 70000 };
	static uint8_t f[8][1514];
	struct weir_frame *got[8];
	uint32_t n = 0;

	m.q[0].num_max = 8;
	open_frames(8, 8);
	for (unsigned round = 0; n < TOTAL; round++) {
		unsigned k = 1 + round % 8;

		if (k > TOTAL - n)
			k = TOTAL - n;
		for (unsigned i = 0; i < k; i++) {
			size_t len = 60 + (n + i) * 37 % 1455;

			make_frame(f[i], len, n + i);
			ck_assert_int_ge(virtio_model_rx(&m, NULL, f[i], len), 0);
		}
		rx_expect(got, 8, (int)k);
		for (unsigned i = 0; i < k; i++) {
			uint32_t seq = n + i;
			size_t len = 60 + seq * 37 % 1455;

			ck_assert_uint_eq(got[i]->len, len);
			/* Each frame's own number, and every byte of some around the wrap. */
			ck_assert_mem_eq(got[i]->data + 14, &seq, 4);
			if (seq % 9973 == 0 || (seq >= 65530 && seq < 65545) || seq == TOTAL - 1)
				ck_assert_mem_eq(got[i]->data, f[i], len);
		}
		release_all(got, (int)k);
		n += k;
	}
	ck_assert_uint_eq(nstats().rx_frames, TOTAL);
	ck_assert_uint_eq(m.q[0].used_total, TOTAL);
	ck_assert_uint_eq(virtio_model_used_idx(&m, 0), TOTAL % 65536);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), (8 + TOTAL) % 65536);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
}
END_TEST

START_TEST(test_rx_full_ring_waits_for_release)
{
	uint8_t f[128], g[200];
	struct weir_frame *got[16], *more[2];
	uint8_t *freed;

	open_frames(8, 8);
	make_frame(f, sizeof(f), 7);
	make_frame(g, sizeof(g), 8);
	for (unsigned i = 0; i < 8; i++)
		ck_assert_int_ge(virtio_model_rx(&m, NULL, f, sizeof(f)), 0);
	ck_assert_int_eq(virtio_model_rx(&m, NULL, f, sizeof(f)), -1); /* nowhere to put it */
	ck_assert_uint_eq(m.rx_no_buffer, 1);
	rx_expect(got, 16, 8);
	ck_assert_uint_eq(vstats().frames_held, 8);
	/* The stack holds every buffer: the device still finds none. */
	ck_assert_uint_eq(virtio_model_rx_available(&m), 0);
	ck_assert_int_eq(virtio_model_rx(&m, NULL, g, sizeof(g)), -1);
	ck_assert_uint_eq(m.rx_no_buffer, 2);
	rx_expect(more, 2, 0);
	/* One back: frames flow again, through that buffer. */
	freed = got[3]->data;
	weir_netdev_release(got[3]);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 1);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, g, sizeof(g)), 0);
	rx_expect(more, 2, 1);
	ck_assert_ptr_eq(more[0]->data, freed);
	ck_assert_mem_eq(more[0]->data, g, sizeof(g));
	weir_netdev_release(more[0]);
	got[3] = NULL;
	for (unsigned i = 0; i < 8; i++)
		if (got[i] != NULL)
			weir_netdev_release(got[i]);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
}
END_TEST

START_TEST(test_rx_runt_dropped_short_frames_padded)
{
	uint8_t runt[13], arp[60], hdr14[14], ok[100];
	uint8_t raw[HDR_LEN + 60];
	struct weir_frame *got[8];
	struct weir_netdev_stats st;

	open_frames(8, 8);
	make_frame(runt, sizeof(runt), 1);
	make_frame(hdr14, sizeof(hdr14), 2);
	make_frame(ok, sizeof(ok), 3);
	make_arp(arp);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, runt, sizeof(runt)), 0);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, runt, 1), 0);
	/* The 42-byte ARP written with junk after it: the padding must be the driver's zeros,
	 * not what the buffer held. */
	memset(raw, 0, HDR_LEN);
	raw[HDR_LEN - 2] = 1; /* num_buffers */
	memcpy(raw + HDR_LEN, arp, 42);
	memset(raw + HDR_LEN + 42, 0xee, 18);
	ck_assert_int_ge(virtio_model_rx_raw(&m, 0, raw, sizeof(raw), HDR_LEN + 42), 0);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, hdr14, sizeof(hdr14)), 0);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, ok, sizeof(ok)), 0);
	rx_expect(got, 8, 3);
	ck_assert_uint_eq(got[0]->len, WEIR_ETH_MIN_FRAME);
	ck_assert_mem_eq(got[0]->data, arp, 42);
	for (unsigned i = 42; i < WEIR_ETH_MIN_FRAME; i++)
		ck_assert_uint_eq(got[0]->data[i], 0);
	ck_assert_uint_eq(got[1]->len, WEIR_ETH_MIN_FRAME);
	ck_assert_mem_eq(got[1]->data, hdr14, 14);
	for (unsigned i = 14; i < WEIR_ETH_MIN_FRAME; i++)
		ck_assert_uint_eq(got[1]->data[i], 0);
	ck_assert_uint_eq(got[2]->len, sizeof(ok));
	ck_assert_mem_eq(got[2]->data, ok, sizeof(ok));
	st = nstats();
	ck_assert_uint_eq(st.rx_runts, 2);
	ck_assert_uint_eq(st.rx_padded, 2);
	ck_assert_uint_eq(st.rx_frames, 3);
	/* The runts' buffers went straight back to the device. */
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 8 + 2);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 5);
	release_all(got, 3);
}
END_TEST

START_TEST(test_rx_bad_lengths_and_headers_dropped_and_reposted)
{
	uint8_t raw[HDR_LEN + 100] = { 0 }, ok[100];
	struct virtio_model_net_hdr gso = { .gso_type = VIRTIO_MODEL_HDR_GSO_TCPV4,
					    .gso_size = 1448,
					    .hdr_len = 54,
					    .num_buffers = 1 };
	struct virtio_model_net_hdr far = { .flags = VIRTIO_MODEL_HDR_F_NEEDS_CSUM,
					    .csum_start = 14,
					    .csum_offset = 200,
					    .num_buffers = 1 };
	struct weir_frame *got[8];
	struct weir_netdev_stats st;
	struct weir_virtio_net_stats vs;
	uint8_t ip[200];
	size_t iplen;

	open_frames(8, 8);
	make_frame(ok, sizeof(ok), 9);
	memcpy(raw + HDR_LEN, ok, sizeof(ok));
	/* A used length shorter than the header. */
	ck_assert_int_ge(virtio_model_rx_raw(&m, 0, raw, sizeof(raw), HDR_LEN - 4), 0);
	/* One longer than the buffer the device was given. */
	ck_assert_int_ge(
		virtio_model_rx_raw(&m, 0, raw, sizeof(raw), virtio_model_rx_capacity(&m, 0) + 1),
		0);
	/* A super-frame the driver never asked for (no GUEST_TSO4). */
	iplen = make_ip(ip, 6, 5, 0, 100, 1);
	ck_assert_int_ge(virtio_model_rx(&m, &gso, ip, iplen), 0);
	/* A partial checksum whose field lies past the frame. */
	ck_assert_int_ge(virtio_model_rx(&m, &far, ok, sizeof(ok)), 0);
	/* And after all that, a good one. */
	ck_assert_int_ge(virtio_model_rx(&m, NULL, ok, sizeof(ok)), 0);
	rx_expect(got, 8, 1);
	ck_assert_uint_eq(got[0]->len, sizeof(ok));
	ck_assert_mem_eq(got[0]->data, ok, sizeof(ok));
	st = nstats();
	vs = vstats();
	ck_assert_uint_eq(st.rx_errors, 1);
	ck_assert_uint_eq(st.rx_oversize, 1);
	ck_assert_uint_eq(vs.rx_bad_header, 2);
	ck_assert_uint_eq(st.rx_frames, 1);
	ck_assert_uint_eq(vs.frames_held, 1);
	/* Every dropped buffer is the device's again. */
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 8 + 4);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 7);
	weir_netdev_release(got[0]);
}
END_TEST

static const struct virtio_model_net_hdr partial_tcp = { .flags = VIRTIO_MODEL_HDR_F_NEEDS_CSUM,
							 .csum_start = 34,
							 .csum_offset = 16,
							 .num_buffers = 1 };

START_TEST(test_rx_needs_csum_on_unfragmented_tcp_and_udp_is_flagged)
{
	uint8_t tcp[200], tcp_opt[200], udp[200];
	size_t tl, tol, ul;
	struct virtio_model_net_hdr h_opt = partial_tcp, h_udp = partial_tcp;
	struct weir_frame *got[8];

	open_frames(8, 8);
	tl = make_ip(tcp, 6, 5, 0, 120, 1);
	tol = make_ip(tcp_opt, 6, 6, 0, 77, 2); /* IPv4 options: the TCP header 4 bytes on */
	h_opt.csum_start = 14 + 24;
	ul = make_ip(udp, 17, 5, 0, 31, 3);
	h_udp.csum_offset = 6;
	ck_assert_int_ge(virtio_model_rx(&m, &partial_tcp, tcp, tl), 0);
	ck_assert_int_ge(virtio_model_rx(&m, &h_opt, tcp_opt, tol), 0);
	ck_assert_int_ge(virtio_model_rx(&m, &h_udp, udp, ul), 0);
	rx_expect(got, 8, 3);
	/* The stack may skip the check; the frames are as the device wrote them. */
	ck_assert_uint_eq(got[0]->flags, WEIR_FRAME_L4_CSUM_OK);
	ck_assert_uint_eq(got[1]->flags, WEIR_FRAME_L4_CSUM_OK);
	ck_assert_uint_eq(got[2]->flags, WEIR_FRAME_L4_CSUM_OK);
	ck_assert_mem_eq(got[0]->data, tcp, tl);
	ck_assert_mem_eq(got[1]->data, tcp_opt, tol);
	ck_assert_mem_eq(got[2]->data, udp, ul);
	ck_assert_uint_eq(vstats().rx_csum_partial, 3);
	ck_assert_uint_eq(vstats().rx_csum_valid, 0);
	release_all(got, 3);
	/* The flag is per frame: a plain frame through the same buffers has none. */
	ck_assert_int_ge(virtio_model_rx(&m, NULL, tcp, tl), 0);
	rx_expect(got, 8, 1);
	ck_assert_uint_eq(got[0]->flags, 0);
	weir_netdev_release(got[0]);
}
END_TEST

/* The checksum the driver should store for a partial one (virtio 1.x, 5.1.6.2: the one's
 * complement of the sum from csum_start to the end, at csum_start + csum_offset), 0 sent as
 * 0xffff. */
static uint16_t finished_csum(const uint8_t *f, size_t len, size_t start)
{
	uint16_t s = (uint16_t)~sum16(f + start, len - start, 0);

	return s == 0 ? 0xffff : s;
}

START_TEST(test_rx_needs_csum_on_a_fragment_is_finished_in_the_frame)
{
	uint8_t udp[300], tcp[300];
	size_t ul, tl;
	struct virtio_model_net_hdr h_udp = partial_tcp;
	struct weir_frame *got[8];
	uint16_t want_udp, s0, w;

	open_frames(8, 8);
	/* The first fragment of a UDP datagram: the stack cannot skip its check, so the driver
	 * finishes the checksum. */
	ul = make_ip(udp, 17, 5, IP_MF, 200, 4);
	h_udp.csum_offset = 6;
	want_udp = finished_csum(udp, ul, 34);
	/* A TCP fragment whose sum comes to 0xffff, so the checksum is 0: sent as 0xffff. */
	tl = make_ip(tcp, 6, 5, IP_MF, 100, 5);
	put16(tcp + tl - 2, 0);
	s0 = sum16(tcp + 34, tl - 34, 0);
	w = (uint16_t)(0xffff - s0);
	put16(tcp + tl - 2, w);
	ck_assert_uint_eq(sum16(tcp + 34, tl - 34, 0), 0xffff);
	ck_assert_uint_eq(finished_csum(tcp, tl, 34), 0xffff);

	ck_assert_int_ge(virtio_model_rx(&m, &h_udp, udp, ul), 0);
	ck_assert_int_ge(virtio_model_rx(&m, &partial_tcp, tcp, tl), 0);
	rx_expect(got, 8, 2);
	ck_assert_uint_eq(got[0]->flags, 0);
	ck_assert_uint_eq(got[1]->flags, 0);
	ck_assert_uint_eq(get16(got[0]->data + 34 + 6), want_udp);
	ck_assert_uint_eq(get16(got[1]->data + 34 + 16), 0xffff);
	/* And those are right: the pseudo-header plus the L4 bytes now sum to all ones. */
	ck_assert_uint_eq(sum16(got[0]->data + 34, ul - 34, pseudo_sum(got[0]->data + 14, ul - 34)),
			  0xffff);
	ck_assert_uint_eq(sum16(got[1]->data + 34, tl - 34, pseudo_sum(got[1]->data + 14, tl - 34)),
			  0xffff);
	/* Nothing else in the frames changed. */
	ck_assert_mem_eq(got[0]->data, udp, 34 + 6);
	ck_assert_mem_eq(got[0]->data + 34 + 8, udp + 34 + 8, ul - 34 - 8);
	ck_assert_mem_eq(got[1]->data, tcp, 34 + 16);
	ck_assert_mem_eq(got[1]->data + 34 + 18, tcp + 34 + 18, tl - 34 - 18);
	ck_assert_uint_eq(vstats().rx_csum_partial, 2);
	release_all(got, 2);
}
END_TEST

START_TEST(test_rx_needs_csum_finished_over_the_ip_packet_not_the_padding)
{
	/* A short UDP fragment behind which the wire left non-zero padding: the checksum the
	 * driver finishes covers the IPv4 packet (its total length), not the frame's end. */
	uint8_t f[80];
	struct virtio_model_net_hdr h = partial_tcp;
	struct weir_frame *got[2];
	size_t l;
	uint16_t want;

	open_frames(4, 4);
	l = make_ip(f, 17, 5, IP_MF, 4, 9); /* 14 + 20 + 8 + 4 = 46 bytes */
	want = finished_csum(f, l, 34);
	memset(f + l, 0xa5, sizeof(f) - l); /* padding up to a 60-byte frame and beyond */
	h.csum_offset = 6;
	ck_assert_int_ge(virtio_model_rx(&m, &h, f, 64), 0);
	rx_expect(got, 2, 1);
	ck_assert_uint_eq(got[0]->flags, 0);
	ck_assert_uint_eq(get16(got[0]->data + 34 + 6), want);
	ck_assert_uint_eq(sum16(got[0]->data + 34, l - 34, pseudo_sum(got[0]->data + 14, l - 34)),
			  0xffff);
	release_all(got, 1);
}
END_TEST

START_TEST(test_rx_data_valid_flags_only_unfragmented_tcp_and_udp)
{
	struct virtio_model_net_hdr valid = { .flags = VIRTIO_MODEL_HDR_F_DATA_VALID,
					      .num_buffers = 1 };
	uint8_t f[5][200];
	size_t len[5];
	struct weir_frame *got[8];

	open_frames(8, 8);
	len[0] = make_ip(f[0], 6, 5, 0, 50, 1);
	len[1] = make_ip(f[1], 17, 5, 0, 50, 2);
	len[2] = make_ip(f[2], 17, 5, 0x0010, 50, 3); /* a later fragment (offset 128) */
	len[3] = make_ip(f[3], 1, 5, 0, 50, 4);	      /* ICMP */
	len[4] = make_arp(f[4]);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_int_ge(virtio_model_rx(&m, &valid, f[i], len[i]), 0);
	rx_expect(got, 8, 5);
	ck_assert_uint_eq(got[0]->flags, WEIR_FRAME_L4_CSUM_OK);
	ck_assert_uint_eq(got[1]->flags, WEIR_FRAME_L4_CSUM_OK);
	ck_assert_uint_eq(got[2]->flags, 0);
	ck_assert_uint_eq(got[3]->flags, 0);
	ck_assert_uint_eq(got[4]->flags, 0);
	for (unsigned i = 0; i < 4; i++)
		ck_assert_mem_eq(got[i]->data, f[i], len[i]);
	/* Counted whatever the frame (weir_virtio_net_stats: frames that came with DATA_VALID). */
	ck_assert_uint_eq(vstats().rx_csum_valid, 5);
	ck_assert_uint_eq(vstats().rx_csum_partial, 0);
	release_all(got, 5);
}
END_TEST

START_TEST(test_rx_checksum_flags_without_guest_csum_dropped)
{
	struct weir_virtio_net_config c = cfg_of();
	struct virtio_model_net_hdr valid = { .flags = VIRTIO_MODEL_HDR_F_DATA_VALID,
					      .num_buffers = 1 };
	uint8_t tcp[200];
	size_t tl;
	struct weir_frame *got[8];

	/* Without GUEST_CSUM a device may set neither flag (5.1.6.3): such a header is not one
	 * the driver asked for. */
	c.rx_frames = 8;
	c.no_offloads = WEIR_VIRTIO_NET_NO_GUEST_CSUM;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	tl = make_ip(tcp, 6, 5, 0, 100, 1);
	ck_assert_int_ge(virtio_model_rx(&m, &partial_tcp, tcp, tl), 0);
	ck_assert_int_ge(virtio_model_rx(&m, &valid, tcp, tl), 0);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, tcp, tl), 0);
	rx_expect(got, 8, 1);
	ck_assert_uint_eq(got[0]->flags, 0);
	ck_assert_mem_eq(got[0]->data, tcp, tl);
	ck_assert_uint_eq(vstats().rx_bad_header, 2);
	ck_assert_uint_eq(vstats().rx_csum_partial, 0);
	ck_assert_uint_eq(vstats().rx_csum_valid, 0);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 8 + 2);
	weir_netdev_release(got[0]);
}
END_TEST

START_TEST(test_tx_plain_frame_has_a_zero_header_and_exact_bytes)
{
	uint8_t f[1514];
	struct weir_iovec iov;
	struct weir_tx_frame tf = tx_one(&iov, f, sizeof(f));
	const struct virtio_model_tx *t;
	const struct virtio_model_net_hdr zero = { 0 };
	struct weir_netdev_stats st;

	open_frames(8, 8);
	make_frame(f, sizeof(f), 21);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(m.nsent, 1);
	ck_assert_uint_ge(m.q[1].notifies, 1);
	t = virtio_model_sent(&m, 0);
	/* No offload asked: every field 0, num_buffers too (5.1.6.2). */
	ck_assert_mem_eq(&t->hdr, &zero, sizeof(zero));
	ck_assert_uint_eq(t->len, sizeof(f));
	ck_assert_mem_eq(t->data, f, sizeof(f));
	/* The stack's memory is its own again: changing it changes nothing sent. */
	memset(f, 0, sizeof(f));
	make_frame(f, 60, 22);
	iov.len = tf.len = 60;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(m.nsent, 2);
	ck_assert_uint_eq(virtio_model_sent(&m, 1)->len, 60);
	ck_assert_mem_eq(virtio_model_sent(&m, 1)->data, f, 60);
	make_frame(f, sizeof(f), 21);
	ck_assert_mem_eq(virtio_model_sent(&m, 0)->data, f, sizeof(f));
	st = nstats();
	ck_assert_uint_eq(st.tx_frames, 2);
	ck_assert_uint_eq(st.tx_bytes, sizeof(f) + 60);
	ck_assert_uint_eq(vstats().tx_csum_offload, 0);
	ck_assert_uint_eq(vstats().tx_super, 0);
}
END_TEST

START_TEST(test_tx_csum_and_tso_frames_fill_the_header)
{
	static uint8_t big[14 + 20 + 32 + 9000];
	uint8_t small[200];
	struct weir_iovec iov[2];
	struct weir_tx_frame tf[2];
	const struct virtio_model_tx *t;
	struct weir_virtio_net_stats vs;
	size_t sl, bl;

	open_frames(8, 8);
	sl = make_ip(small, 6, 5, 0, 100, 1);
	bl = make_ip(big, 6, 5, 0, 9000 + 12, 2);
	big[34 + 12] = 8 << 4; /* a 32-byte TCP header (timestamps) */
	tf[0] = tx_one(&iov[0], small, sl);
	tf[0].flags = WEIR_TX_L4_CSUM;
	tf[0].l4_offset = 34;
	tf[1] = tx_one(&iov[1], big, bl);
	tf[1].flags = WEIR_TX_L4_CSUM | WEIR_TX_TSO4;
	tf[1].l4_offset = 34;
	tf[1].l4_hlen = 32;
	tf[1].gso_size = 1448;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 2), 2);
	ck_assert_uint_eq(m.nsent, 2);

	t = virtio_model_sent(&m, 0);
	ck_assert_uint_eq(t->hdr.flags, VIRTIO_MODEL_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(t->hdr.gso_type, VIRTIO_MODEL_HDR_GSO_NONE);
	ck_assert_uint_eq(t->hdr.gso_size, 0);
	ck_assert_uint_eq(t->hdr.csum_start, 34);
	ck_assert_uint_eq(t->hdr.csum_offset, 16);
	ck_assert_uint_eq(t->hdr.num_buffers, 0);
	ck_assert_uint_eq(t->len, sl);
	ck_assert_mem_eq(t->data, small, sl);

	t = virtio_model_sent(&m, 1);
	ck_assert_uint_eq(t->hdr.flags, VIRTIO_MODEL_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(t->hdr.gso_type, VIRTIO_MODEL_HDR_GSO_TCPV4);
	ck_assert_uint_eq(t->hdr.gso_size, 1448);
	ck_assert_uint_eq(t->hdr.hdr_len, 34 + 32);
	ck_assert_uint_eq(t->hdr.csum_start, 34);
	ck_assert_uint_eq(t->hdr.csum_offset, 16);
	ck_assert_uint_eq(t->hdr.num_buffers, 0);
	ck_assert_uint_eq(t->len, bl);
	ck_assert_mem_eq(t->data, big, bl);

	vs = vstats();
	ck_assert_uint_eq(vs.tx_csum_offload, 2);
	ck_assert_uint_eq(vs.tx_super, 1);
	ck_assert_uint_eq(nstats().tx_bytes, sl + bl);
}
END_TEST

START_TEST(test_tx_gather_list_copied_byte_exact)
{
	uint8_t f[1514], scratch[1514 + 8], g[60];
	struct weir_iovec iov[5], iov2[3];
	struct weir_tx_frame tf[2] = { { .iov = iov, .iovcnt = 5, .len = sizeof(f) },
				       { .iov = iov2, .iovcnt = 3, .len = sizeof(g) } };

	open_frames(8, 8);
	make_frame(f, sizeof(f), 31);
	make_frame(g, sizeof(g), 32);
	/* Pieces of awkward lengths at awkward addresses, as a pbuf chain gives them. */
	memcpy(scratch + 3, f, sizeof(f));
	iov[0] = (struct weir_iovec){ scratch + 3, 14 };
	iov[1] = (struct weir_iovec){ scratch + 3 + 14, 1 };
	iov[2] = (struct weir_iovec){ scratch + 3 + 15, 0 };
	iov[3] = (struct weir_iovec){ scratch + 3 + 15, 1000 };
	iov[4] = (struct weir_iovec){ scratch + 3 + 1015, sizeof(f) - 1015 };
	iov2[0] = (struct weir_iovec){ g, 20 };
	iov2[1] = (struct weir_iovec){ g + 20, 39 };
	iov2[2] = (struct weir_iovec){ g + 59, 1 };
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 2), 2);
	ck_assert_uint_eq(m.nsent, 2);
	ck_assert_uint_eq(virtio_model_sent(&m, 0)->len, sizeof(f));
	ck_assert_mem_eq(virtio_model_sent(&m, 0)->data, f, sizeof(f));
	ck_assert_uint_eq(virtio_model_sent(&m, 1)->len, sizeof(g));
	ck_assert_mem_eq(virtio_model_sent(&m, 1)->data, g, sizeof(g));
}
END_TEST

/* Appends a used element naming head to queue qi's used ring, as a broken device would for a
 * buffer it already gave back. */
static void used_again(unsigned qi, uint16_t head)
{
	struct virtio_model_queue *q = &m.q[qi];
	volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)q->device;
	volatile uint32_t *ring = (volatile uint32_t *)(uintptr_t)(q->device + 4);
	uint16_t idx = used[1];

	ring[2 * (idx % q->num)] = head;
	ring[2 * (idx % q->num) + 1] = 12 + 60;
	used[1] = (uint16_t)(idx + 1);
	q->used_idx = used[1];
}

START_TEST(test_used_element_for_a_buffer_the_device_does_not_hold_is_ignored)
{
	struct weir_frame *got[4];
	struct weir_tx_frame tf, four[5];
	struct weir_iovec iov;
	uint8_t f[60];
	int head;

	open_frames(4, 4);
	make_frame(f, sizeof(f), 7);
	/* Receive: the same buffer named twice would be the same frame handed over twice. */
	head = virtio_model_rx(&m, NULL, f, sizeof(f));
	ck_assert_int_ge(head, 0);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got, 4), 1);
	used_again(0, (uint16_t)head);
	ck_assert_int_eq(weir_netdev_rx_burst(dev, got + 1, 3), 0);
	ck_assert_uint_eq(vstats().device_errors, 1);
	ck_assert_uint_eq(vstats().frames_held, 1);
	weir_netdev_release(got[0]);
	ck_assert_uint_eq(vstats().frames_held, 0);
	/* Transmit: the same buffer given back twice would be on the free list twice. */
	tf = tx_one(&iov, f, sizeof(f));
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_int_eq(weir_netdev_poll(dev), 0); /* reclaims it */
	ck_assert_uint_eq(vstats().tx_in_flight, 0);
	used_again(1, virtio_model_sent(&m, 0)->head);
	ck_assert_int_eq(weir_netdev_poll(dev), 0);
	ck_assert_uint_eq(vstats().device_errors, 2);
	ck_assert_uint_eq(vstats().tx_in_flight, 0);
	/* Four buffers, so four frames at once are still exactly what the ring takes. */
	m.tx_hold = 1;
	for (unsigned i = 0; i < 5; i++)
		four[i] = tf;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, four, 5), 4);
	while (virtio_model_tx_held(&m) > 0)
		virtio_model_tx_complete(&m, 0);
}
END_TEST

START_TEST(test_tx_full_ring_and_buffers_completed_in_reverse)
{
	uint8_t f[14][400];
	struct weir_iovec iov[14];
	struct weir_tx_frame tf[14];
	uint16_t freed[2];

	open_frames(8, 4);
	m.tx_hold = 1; /* the device keeps every buffer until the test completes it */
	for (unsigned i = 0; i < 14; i++) {
		make_frame(f[i], sizeof(f[i]), 200 + i);
		tf[i] = tx_one(&iov[i], f[i], 100 + 20 * i);
	}
	/* Four buffers: the burst takes four, and says the ring was full. */
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 6), 4);
	ck_assert_uint_eq(nstats().tx_full, 1);
	ck_assert_uint_eq(virtio_model_tx_held(&m), 4);
	ck_assert_uint_eq(vstats().tx_in_flight, 4);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 4, 2), 0);
	ck_assert_uint_eq(nstats().tx_full, 2);
	ck_assert_uint_eq(m.nsent, 4);

	/* The device finishes the two newest, newest first. */
	freed[0] = m.q[1].pool[3];
	freed[1] = m.q[1].pool[2];
	virtio_model_tx_complete(&m, 3);
	virtio_model_tx_complete(&m, 2);
	/* Exactly those two are free: two frames go, into them. */
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 4, 3), 2);
	ck_assert_uint_eq(nstats().tx_full, 3);
	ck_assert_uint_eq(vstats().tx_in_flight, 4);
	ck_assert_uint_eq(m.nsent, 6);
	for (unsigned i = 4; i < 6; i++) {
		const struct virtio_model_tx *t = virtio_model_sent(&m, i);

		ck_assert(t->head == freed[0] || t->head == freed[1]);
		ck_assert_uint_eq(t->len, tf[i].len);
		ck_assert_mem_eq(t->data, f[i], tf[i].len);
	}
	ck_assert_uint_ne(virtio_model_sent(&m, 4)->head, virtio_model_sent(&m, 5)->head);

	/* All four back in reverse order of sending. */
	while (virtio_model_tx_held(&m) > 0)
		virtio_model_tx_complete(&m, virtio_model_tx_held(&m) - 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 6, 8), 4);
	ck_assert_uint_eq(m.nsent, 10);
	for (unsigned i = 6; i < 10; i++) {
		ck_assert_uint_eq(virtio_model_sent(&m, i)->len, tf[i].len);
		ck_assert_mem_eq(virtio_model_sent(&m, i)->data, f[i], tf[i].len);
	}
	/* The device keeps up again: buffers come back as soon as it reads them. */
	m.tx_hold = 0;
	while (virtio_model_tx_held(&m) > 0)
		virtio_model_tx_complete(&m, 0);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 10, 4), 4);
	ck_assert_uint_eq(m.nsent, 14);
	for (unsigned i = 10; i < 14; i++)
		ck_assert_mem_eq(virtio_model_sent(&m, i)->data, f[i], tf[i].len);
	ck_assert_uint_eq(nstats().tx_frames, 14);
}
END_TEST

START_TEST(test_tx_ring_indexes_wrap_past_65535)
{
	enum { TOTAL = 70000 };
	uint8_t f[4][600];
	struct weir_iovec iov[4];
	struct weir_tx_frame tf[4];
	uint32_t n = 0;

	m.q[1].num_max = 4;
	open_frames(8, 4);
	while (n < TOTAL) {
		unsigned k = TOTAL - n < 4 ? TOTAL - n : 4;

		for (unsigned i = 0; i < k; i++) {
			make_frame(f[i], sizeof(f[i]), n + i);
			tf[i] = tx_one(&iov[i], f[i], 60 + (n + i) % 541);
		}
		ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, (int)k), (int)k);
		for (unsigned i = 0; i < k; i++) {
			const struct virtio_model_tx *t = virtio_model_sent(&m, n + i);

			ck_assert_uint_eq(t->len, tf[i].len);
			ck_assert_mem_eq(t->data + 14, &(uint32_t){ n + i }, 4);
			if ((n + i) % 9973 == 0 || (n + i >= 65530 && n + i < 65545))
				ck_assert_mem_eq(t->data, f[i], tf[i].len);
		}
		n += k;
	}
	ck_assert_uint_eq(m.nsent, TOTAL);
	ck_assert_uint_eq(nstats().tx_full, 0);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 1), TOTAL % 65536);
	ck_assert_uint_eq(virtio_model_used_idx(&m, 1), TOTAL % 65536);
}
END_TEST

START_TEST(test_tx_offload_not_negotiated_is_einval)
{
	struct weir_virtio_net_config c = cfg_of();
	uint8_t f[200];
	struct weir_iovec iov[2];
	struct weir_tx_frame tf[2];
	uint64_t offered = m.features;
	size_t len;

	m.features = WEIR_VIRTIO_F_VERSION_1;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	len = make_ip(f, 6, 5, 0, 100, 1);
	tf[0] = tx_one(&iov[0], f, len);
	tf[1] = tx_one(&iov[1], f, len);
	tf[1].flags = WEIR_TX_L4_CSUM;
	tf[1].l4_offset = 34;
	/* The plain frame goes, the burst stops at the one asking what was not offered. */
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 2), 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 1, 1), WEIR_EINVAL);
	ck_assert_uint_eq(m.nsent, 1);
	ck_assert_uint_eq(virtio_model_sent(&m, 0)->hdr.flags, 0);
	close_dev();

	/* Checksums taken, TSO turned off: a super-frame is refused, a checksum frame goes. */
	m.features = offered;
	c.no_offloads = WEIR_VIRTIO_NET_NO_TSO;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	tf[0] = tf[1];
	tf[0].flags = WEIR_TX_L4_CSUM | WEIR_TX_TSO4;
	tf[0].l4_hlen = 20;
	tf[0].gso_size = 50;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 1), WEIR_EINVAL);
	ck_assert_uint_eq(m.nsent, 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf + 1, 1), 1);
	ck_assert_uint_eq(m.nsent, 2);
	ck_assert_uint_eq(virtio_model_sent(&m, 1)->hdr.flags, VIRTIO_MODEL_HDR_F_NEEDS_CSUM);
	ck_assert_uint_eq(nstats().tx_frames, 1);
}
END_TEST

START_TEST(test_tx_frame_outside_ethernet_sizes_is_einval)
{
	struct weir_virtio_net_config c = cfg_of();
	uint8_t f[1600];
	struct weir_iovec iov;
	struct weir_tx_frame tf;

	c.no_offloads = WEIR_VIRTIO_NET_NO_TSO; /* no super-frames: one frame of the MTU */
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	make_frame(f, sizeof(f), 61);
	/* Shorter than an Ethernet header; longer than the MTU, its header and a VLAN tag. */
	tf = tx_one(&iov, f, 13);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	tf = tx_one(&iov, f, 1500 + 14 + 4);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(m.nsent, 1);
	tf = tx_one(&iov, f, 1500 + 14 + 4 + 1);
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	ck_assert_uint_eq(m.nsent, 1);
	ck_assert_uint_eq(nstats().tx_frames, 1);
}
END_TEST

START_TEST(test_tx_gather_list_not_adding_up_is_einval)
{
	uint8_t f[200];
	struct weir_iovec iov[2];
	struct weir_tx_frame tf = { .iov = iov, .iovcnt = 2, .len = 101 };

	open_frames(8, 8);
	make_frame(f, sizeof(f), 62);
	/* A gather list that does not add up to the frame's length, or a NULL piece, is the
	 * caller's bug (netdev.h, STYLE.md): WEIR_EINVAL, and nothing copied or sent. */
	iov[0] = (struct weir_iovec){ f, 60 };
	iov[1] = (struct weir_iovec){ f + 60, 40 };
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	tf.len = 99;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	iov[1].base = NULL;
	tf.len = 100;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), WEIR_EINVAL);
	ck_assert_uint_eq(m.nsent, 0);
	ck_assert_uint_eq(nstats().tx_frames, 0);
	/* The device is still fine afterwards. */
	iov[1].base = f + 60;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_mem_eq(virtio_model_sent(&m, 0)->data, f, 100);
}
END_TEST

START_TEST(test_irq_acknowledges_the_interrupt_status)
{
	struct weir_virtio_net_config c = cfg_of();
	uint8_t f[80];
	struct weir_frame *got[2];

	c.irq = 1;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_int_eq(caps_of().irq_wake, 1);
	/* The device may interrupt for received frames. */
	ck_assert_uint_eq(virtio_model_avail_flags(&m, 0) & VIRTIO_MODEL_AVAIL_F_NO_INTERRUPT, 0);
	ck_assert_uint_eq(weir_virtio_net_irq(dev), 0); /* nothing pending */
	ck_assert_uint_eq(vstats().irqs, 0);
	make_frame(f, sizeof(f), 41);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f, sizeof(f)), 0);
	ck_assert_uint_eq(m.int_status, 1);
	ck_assert_uint_eq(weir_virtio_net_irq(dev), 1);
	ck_assert_uint_eq(m.int_status, 0);
	ck_assert_uint_eq(weir_virtio_net_irq(dev), 0);
	ck_assert_uint_eq(vstats().irqs, 1);
	/* A configuration change is bit 1, acknowledged the same way. */
	virtio_model_config_changed(&m);
	ck_assert_uint_eq(weir_virtio_net_irq(dev), 2);
	ck_assert_uint_eq(m.int_status, 0);
	ck_assert_uint_eq(vstats().irqs, 2);
	rx_expect(got, 2, 1);
	ck_assert_mem_eq(got[0]->data, f, sizeof(f));
	weir_netdev_release(got[0]);
}
END_TEST

START_TEST(test_without_irq_the_device_is_asked_not_to_interrupt)
{
	uint8_t f[80];
	struct weir_frame *got[2];

	open_frames(8, 8);
	ck_assert_int_eq(caps_of().irq_wake, 0);
	ck_assert_uint_eq(virtio_model_avail_flags(&m, 0) & VIRTIO_MODEL_AVAIL_F_NO_INTERRUPT,
			  VIRTIO_MODEL_AVAIL_F_NO_INTERRUPT);
	make_frame(f, sizeof(f), 42);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f, sizeof(f)), 0);
	ck_assert_uint_eq(m.int_status, 0);
	ck_assert_uint_eq(m.interrupts, 0);
	rx_expect(got, 2, 1);
	weir_netdev_release(got[0]);
}
END_TEST

START_TEST(test_mac_from_config_then_device_then_board)
{
	static const uint8_t mine[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x02 };
	struct weir_virtio_net_config c = cfg_of();
	uint8_t derived1[6], derived2[6];

	/* The device's (VIRTIO_NET_F_MAC). */
	m.mac[5] = 0x99;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_mem_eq(caps_of().mac, m.mac, 6);
	close_dev();

	/* The configuration's wins. */
	memcpy(c.mac, mine, 6);
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_mem_eq(caps_of().mac, mine, 6);
	close_dev();

	/* No address offered: one derived from the board, the same every time. */
	memset(c.mac, 0, 6);
	m.features &= ~WEIR_VIRTIO_NET_F_MAC;
	memcpy(c.board_id, "board-01", 8);
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(m.driver_features & WEIR_VIRTIO_NET_F_MAC, 0);
	memcpy(derived1, caps_of().mac, 6);
	close_dev();
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_mem_eq(caps_of().mac, derived1, 6);
	close_dev();
	memcpy(c.board_id, "board-02", 8);
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	memcpy(derived2, caps_of().mac, 6);
	/* Locally administered unicast, and another board gets another address. */
	ck_assert_uint_eq(derived1[0] & 0x03, 0x02);
	ck_assert_uint_eq(derived2[0] & 0x03, 0x02);
	ck_assert_int_ne(memcmp(derived1, derived2, 6), 0);
	ck_assert_int_ne(memcmp(derived1, m.mac, 6), 0);
}
END_TEST

START_TEST(test_mtu_bounded_by_the_device)
{
	struct weir_virtio_net_config c = cfg_of();
	uint8_t f[14 + 1400];
	struct weir_frame *got[2];

	m.mtu = 1400;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(caps_of().mtu, 1400);
	/* A frame of that MTU fits and arrives whole. */
	ck_assert_uint_ge(virtio_model_rx_capacity(&m, 0), HDR_LEN + sizeof(f));
	make_frame(f, sizeof(f), 51);
	ck_assert_int_ge(virtio_model_rx(&m, NULL, f, sizeof(f)), 0);
	rx_expect(got, 2, 1);
	ck_assert_uint_eq(got[0]->len, sizeof(f));
	ck_assert_mem_eq(got[0]->data, f, sizeof(f));
	weir_netdev_release(got[0]);
	close_dev();

	c.mtu = 1500; /* an upper bound: the device's is less */
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(caps_of().mtu, 1400);
	close_dev();

	c.mtu = 1200; /* ours is less */
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(caps_of().mtu, 1200);
	close_dev();

	/* Not offered: the configuration space's field means nothing. */
	c.mtu = 0;
	m.features &= ~WEIR_VIRTIO_NET_F_MTU;
	ck_assert_int_eq(weir_virtio_net_open(&c, &dev), 0);
	ck_assert_uint_eq(m.driver_features & WEIR_VIRTIO_NET_F_MTU, 0);
	ck_assert_uint_eq(caps_of().mtu, 1500);
}
END_TEST

START_TEST(test_link_state_from_the_device)
{
	m.net_status = 0;
	open_frames(8, 8);
	ck_assert_uint_eq(vstats().link_up, 0);
	close_dev();
	m.net_status = VIRTIO_MODEL_NET_S_LINK_UP;
	open_frames(8, 8);
	ck_assert_uint_eq(vstats().link_up, 1);
	close_dev();
	/* Without VIRTIO_NET_F_STATUS the field is not valid: the link counts as up. */
	m.net_status = 0;
	m.features &= ~WEIR_VIRTIO_NET_F_STATUS;
	open_frames(8, 8);
	ck_assert_uint_eq(vstats().link_up, 1);
}
END_TEST

START_TEST(test_poll_reclaims_and_reads_link_and_device_state)
{
	struct timespec ts = { 1, 100000000 };
	uint8_t f[100];
	struct weir_iovec iov[3];
	struct weir_tx_frame tf[3];

	open_frames(8, 8);
	make_frame(f, sizeof(f), 71);
	for (unsigned i = 0; i < 3; i++)
		tf[i] = tx_one(&iov[i], f, sizeof(f));
	ck_assert_int_eq(weir_netdev_tx_burst(dev, tf, 3), 3);
	ck_assert_uint_eq(m.nsent, 3);
	/* The device used them at once: a poll takes them back. */
	ck_assert_int_ge(weir_netdev_poll(dev), 0);
	ck_assert_uint_eq(vstats().tx_in_flight, 0);
	ck_assert_uint_eq(vstats().link_up, 1);
	/* The link goes down and the device breaks; the status is read once a second. */
	ck_assert_uint_gt(weir_netdev_next_deadline_ns(dev), weir_clock_now_ns());
	m.net_status = 0;
	virtio_model_config_changed(&m);
	m.status |= VIRTIO_MODEL_S_DEVICE_NEEDS_RESET;
	nanosleep(&ts, NULL);
	ck_assert_int_ge(weir_netdev_poll(dev), 0);
	ck_assert_uint_eq(vstats().link_up, 0);
	ck_assert_uint_eq(vstats().device_errors, 1);
	ck_assert_uint_gt(weir_netdev_next_deadline_ns(dev), weir_clock_now_ns());
}
END_TEST

START_TEST(test_close_resets_the_device)
{
	unsigned resets;

	open_frames(8, 8);
	resets = m.resets;
	weir_netdev_close(dev);
	dev = NULL;
	ck_assert_uint_eq(m.resets, resets + 1);
	ck_assert_uint_eq(m.status, 0);
	ck_assert_uint_eq(m.q[0].ready, 0);
	ck_assert_uint_eq(m.q[1].ready, 0);
	/* Opened again on the same device, from scratch. */
	open_frames(8, 8);
	ck_assert_uint_eq(virtio_model_avail_idx(&m, 0), 8);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 8);
}
END_TEST

START_TEST(test_features_str_names_the_bits)
{
	char buf[256], small[6];
	uint64_t bits = WEIR_VIRTIO_NET_F_CSUM | WEIR_VIRTIO_NET_F_MAC | (1ull << 40);
	int n;

	n = weir_virtio_net_features_str(bits, buf, sizeof(buf));
	ck_assert_int_eq(n, (int)strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "csum"));
	ck_assert_ptr_nonnull(strstr(buf, "mac"));
	ck_assert_ptr_nonnull(strstr(buf, "bit40"));
	ck_assert_ptr_null(strstr(buf, "guest_csum"));
	/* Cut short but terminated, and the full length still returned. */
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(weir_virtio_net_features_str(bits, small, sizeof(small)), n);
	ck_assert_uint_eq(small[sizeof(small) - 1], '\0');
	ck_assert_int_eq(weir_virtio_net_features_str(bits, NULL, 0), n);
}
END_TEST

START_TEST(test_rng_reads_the_bytes_the_device_gives)
{
	struct weir_virtio_bus bus = virtio_model_bus(&m);
	uint8_t data[64], buf[64];
	int n;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 151 + 17);
	/* A network device is not an entropy device. */
	ck_assert_int_eq(weir_virtio_rng_read(&bus, buf, 16, 1000000000ull), WEIR_ENODEV);
	virtio_model_fini(&m);

	virtio_model_init_rng(&m);
	m.rng_data = data;
	m.rng_len = sizeof(data);
	memset(buf, 0, sizeof(buf));
	n = weir_virtio_rng_read(&bus, buf, 32, 1000000000ull);
	ck_assert_int_eq(n, 32);
	ck_assert_mem_eq(buf, data, 32);
	ck_assert_uint_eq(m.rng_pos, 32);
	ck_assert_uint_eq(m.status, 0); /* reset when done */
	ck_assert_uint_ge(m.q[0].notifies, 1);

	/* A device that gives fewer bytes per buffer: some of them, the device's own. */
	virtio_model_init_rng(&m);
	m.rng_data = data;
	m.rng_len = sizeof(data);
	m.rng_chunk = 8;
	memset(buf, 0, sizeof(buf));
	n = weir_virtio_rng_read(&bus, buf, 32, 1000000000ull);
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, 32);
	ck_assert_mem_eq(buf, data, (size_t)n);
	ck_assert_uint_eq(m.status, 0);
}
END_TEST

START_TEST(test_rng_errors)
{
	struct weir_virtio_bus bus = virtio_model_bus(&m);
	uint8_t buf[16];

	virtio_model_init_rng(&m);
	ck_assert_int_eq(weir_virtio_rng_read(NULL, buf, sizeof(buf), 1000000ull), WEIR_EINVAL);
	ck_assert_int_eq(weir_virtio_rng_read(&bus, NULL, sizeof(buf), 1000000ull), WEIR_EINVAL);
	/* A device with nothing to give: the deadline passes, the device is left reset. */
	ck_assert_int_eq(weir_virtio_rng_read(&bus, buf, sizeof(buf), 20000000ull), WEIR_ETIMEDOUT);
	ck_assert_uint_eq(m.status, 0);
	m.version = 1;
	ck_assert_int_eq(weir_virtio_rng_read(&bus, buf, sizeof(buf), 1000000ull), WEIR_ENOTSUP);
	m.version = 2;
	m.magic = 0;
	ck_assert_int_eq(weir_virtio_rng_read(&bus, buf, sizeof(buf), 1000000ull), WEIR_ENODEV);
}
END_TEST

/* The model's own checks, driven by hand: each breach of 2.6 it claims to catch is caught, so a
 * clean teardown means something. */
struct hand_queue {
	_Alignas(16) uint64_t desc[4][2]; /* addr; len, flags, next */
	_Alignas(4) uint16_t avail[2 + 4 + 1];
	_Alignas(4) uint32_t used[1 + 2 * 4 + 1];
};

static void hand_desc(struct hand_queue *hq, unsigned i, void *buf, uint32_t len, uint16_t flags)
{
	hq->desc[i][0] = (uint64_t)(uintptr_t)buf;
	hq->desc[i][1] = (uint64_t)len | (uint64_t)flags << 32;
}

static void hand_setup(const struct weir_virtio_bus *b, unsigned qi, struct hand_queue *hq)
{
	b->write(b->ctx, 0x030, qi);
	b->write(b->ctx, 0x038, 4);
	b->write(b->ctx, 0x080, (uint32_t)(uintptr_t)hq->desc);
	b->write(b->ctx, 0x084, (uint32_t)((uint64_t)(uintptr_t)hq->desc >> 32));
	b->write(b->ctx, 0x090, (uint32_t)(uintptr_t)hq->avail);
	b->write(b->ctx, 0x094, (uint32_t)((uint64_t)(uintptr_t)hq->avail >> 32));
	b->write(b->ctx, 0x0a0, (uint32_t)(uintptr_t)hq->used);
	b->write(b->ctx, 0x0a4, (uint32_t)((uint64_t)(uintptr_t)hq->used >> 32));
	b->write(b->ctx, 0x044, 1);
}

START_TEST(test_model_catches_ring_protocol_errors)
{
	static struct hand_queue rq, tq;
	static uint8_t buf[4][256];
	struct weir_virtio_bus b = virtio_model_bus(&m);
	uint8_t f[60];

	memset(&rq, 0, sizeof(rq));
	memset(&tq, 0, sizeof(tq));
	b.write(&m, 0x070, 0);
	b.write(&m, 0x070, 1);
	b.write(&m, 0x070, 3);
	b.write(&m, 0x024, 1);
	b.write(&m, 0x020, 1); /* VERSION_1 */
	b.write(&m, 0x070, 11);
	hand_setup(&b, 0, &rq);
	hand_setup(&b, 1, &tq);
	b.write(&m, 0x070, 15);
	ck_assert_msg(m.protocol_errors == 0, "%s", m.last_error);

	b.write(&m, 0x050, 2); /* a queue that is not ready */
	ck_assert_uint_eq(m.protocol_errors, 1);
	hand_desc(&rq, 0, buf[0], 256, 0); /* a receive buffer the device may not write */
	rq.avail[2] = 0;
	rq.avail[1] = 1;
	b.write(&m, 0x050, 0);
	ck_assert_uint_eq(m.protocol_errors, 2);
	rq.avail[3] = 9; /* no such descriptor */
	rq.avail[1] = 2;
	b.write(&m, 0x050, 0);
	ck_assert_uint_eq(m.protocol_errors, 3);
	hand_desc(&rq, 1, buf[1], 256, VIRTIO_MODEL_DESC_F_WRITE);
	rq.avail[4] = 1;
	rq.avail[5] = 1; /* the same buffer twice */
	rq.avail[1] = 4;
	b.write(&m, 0x050, 0);
	ck_assert_uint_eq(m.protocol_errors, 4);
	ck_assert_uint_eq(virtio_model_rx_available(&m), 1);
	/* A frame into it: the used entry, the bytes, the interrupt. */
	make_frame(f, sizeof(f), 1);
	ck_assert_int_eq(virtio_model_rx(&m, NULL, f, sizeof(f)), 1);
	ck_assert_uint_eq(rq.used[0] >> 16, 1);		    /* used idx */
	ck_assert_uint_eq(rq.used[1], 1);		    /* id */
	ck_assert_uint_eq(rq.used[2], HDR_LEN + sizeof(f)); /* len */
	ck_assert_mem_eq(buf[1] + HDR_LEN, f, sizeof(f));
	ck_assert_uint_eq(m.int_status, 1);
	/* Used now, the buffer may be posted again. */
	rq.avail[2 + (4 % 4)] = 1;
	rq.avail[1] = 5;
	b.write(&m, 0x050, 0);
	ck_assert_uint_eq(m.protocol_errors, 4);
	rq.avail[1] = 5 + 5; /* more than the queue holds */
	b.write(&m, 0x050, 0);
	ck_assert_uint_eq(m.protocol_errors, 5);
	/* A transmit buffer the device may write. */
	hand_desc(&tq, 0, buf[2], 100, VIRTIO_MODEL_DESC_F_WRITE);
	tq.avail[2] = 0;
	tq.avail[1] = 1;
	b.write(&m, 0x050, 1);
	ck_assert_uint_eq(m.protocol_errors, 6);
	ck_assert_uint_eq(m.nsent, 0);
	/* Register misuse: a queue size that is not a power of two, a read-only register. */
	b.write(&m, 0x030, 2);
	b.write(&m, 0x038, 3);
	ck_assert_uint_eq(m.protocol_errors, 7);
	b.write(&m, 0x000, 1);
	ck_assert_uint_eq(m.protocol_errors, 8);
	b.write(&m, 0x070, 0);
	m.protocol_errors = 0; /* all expected: the teardown checks the rest of the suite */
}
END_TEST

Suite *weir_test_virtio_suite(void)
{
	Suite *s = suite_create("virtio");
	TCase *tc = tcase_create("virtio");

	/* The ring-wrap tests push 70,000 frames through the model: 2-3 s under ASan alone, past
	 * Check's default 4 s on a loaded machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_model_catches_ring_protocol_errors);
	tcase_add_test(tc, test_open_takes_offered_features_in_the_spec_order);
	tcase_add_test(tc, test_open_with_only_version_1_offered_takes_nothing_else);
	tcase_add_test(tc, test_no_offloads_masks_what_is_offered);
	tcase_add_test(tc, test_host_tso4_offered_without_csum_is_not_taken);
	tcase_add_test(tc, test_open_refuses_legacy_and_what_is_not_a_network_device);
	tcase_add_test(tc, test_open_fails_with_the_device_reset_when_features_are_refused);
	tcase_add_test(tc, test_open_fails_when_a_queue_is_missing);
	tcase_add_test(tc, test_misuse_is_einval_before_touching_the_device);
	tcase_add_test(tc, test_queue_sizes_follow_the_frames_and_queue_num_max);
	tcase_add_test(tc, test_rx_hands_frames_in_place_and_release_reposts);
	tcase_add_test(tc, test_rx_buffers_used_out_of_order);
	tcase_add_test(tc, test_rx_ring_indexes_wrap_past_65535);
	tcase_add_test(tc, test_rx_full_ring_waits_for_release);
	tcase_add_test(tc, test_rx_runt_dropped_short_frames_padded);
	tcase_add_test(tc, test_rx_bad_lengths_and_headers_dropped_and_reposted);
	tcase_add_test(tc, test_rx_needs_csum_on_unfragmented_tcp_and_udp_is_flagged);
	tcase_add_test(tc, test_rx_needs_csum_on_a_fragment_is_finished_in_the_frame);
	tcase_add_test(tc, test_rx_needs_csum_finished_over_the_ip_packet_not_the_padding);
	tcase_add_test(tc, test_rx_data_valid_flags_only_unfragmented_tcp_and_udp);
	tcase_add_test(tc, test_rx_checksum_flags_without_guest_csum_dropped);
	tcase_add_test(tc, test_tx_plain_frame_has_a_zero_header_and_exact_bytes);
	tcase_add_test(tc, test_tx_csum_and_tso_frames_fill_the_header);
	tcase_add_test(tc, test_tx_gather_list_copied_byte_exact);
	tcase_add_test(tc, test_tx_full_ring_and_buffers_completed_in_reverse);
	tcase_add_test(tc, test_used_element_for_a_buffer_the_device_does_not_hold_is_ignored);
	tcase_add_test(tc, test_tx_ring_indexes_wrap_past_65535);
	tcase_add_test(tc, test_tx_offload_not_negotiated_is_einval);
	tcase_add_test(tc, test_tx_frame_outside_ethernet_sizes_is_einval);
	tcase_add_test(tc, test_tx_gather_list_not_adding_up_is_einval);
	tcase_add_test(tc, test_irq_acknowledges_the_interrupt_status);
	tcase_add_test(tc, test_without_irq_the_device_is_asked_not_to_interrupt);
	tcase_add_test(tc, test_mac_from_config_then_device_then_board);
	tcase_add_test(tc, test_mtu_bounded_by_the_device);
	tcase_add_test(tc, test_link_state_from_the_device);
	tcase_add_test(tc, test_poll_reclaims_and_reads_link_and_device_state);
	tcase_add_test(tc, test_close_resets_the_device);
	tcase_add_test(tc, test_features_str_names_the_bits);
	tcase_add_test(tc, test_rng_reads_the_bytes_the_device_gives);
	tcase_add_test(tc, test_rng_errors);
	suite_add_tcase(s, tc);
	return s;
}
