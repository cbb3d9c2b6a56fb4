/* test_impair.c - the impairment wrapper (drivers/impair) over an in-memory device: the spec
 * string, each impairment in each direction at its rate, reproducible from the seed, offloads
 * hidden, backpressure, nothing leaked. */
#include <string.h>
#include <time.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/impair.h>

#include "memdev.h"
#include "weir_tests.h"

#define FRAME_LEN 100

static struct memdev md;
static struct weir_netdev *dev;

/* Frame i: an Ethernet-sized frame whose bytes 14..17 hold i. */
static void make_frame(uint8_t *f, uint32_t i)
{
	memset(f, 0xab, FRAME_LEN);
	memcpy(f + 14, &i, sizeof(i));
}

static uint32_t frame_id(const uint8_t *f)
{
	uint32_t i;

	memcpy(&i, f + 14, sizeof(i));
	return i;
}

static void open_with(const struct weir_impair_config *c)
{
	memdev_init(&md);
	ck_assert_int_eq(weir_impair_wrap(&md.nd, c, &dev), 0);
}

static void close_dev(void)
{
	/* The wrapper closes the device under it: memdev has nothing to free. */
	weir_netdev_close(dev);
	dev = NULL;
}

/* Sends frames first..first+n-1 one at a time, collecting what reaches the device into ids
 * (up to cap); returns how many did. */
static size_t send_ids(uint32_t first, uint32_t n, uint32_t *ids, size_t cap)
{
	uint8_t f[FRAME_LEN];
	size_t got = 0;

	for (uint32_t i = first; i < first + n; i++) {
		struct weir_iovec iov = { f, FRAME_LEN };
		struct weir_tx_frame tf = { .iov = &iov, .iovcnt = 1, .len = FRAME_LEN };

		make_frame(f, i);
		md.ntx = 0;
		ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
		for (unsigned k = 0; k < md.ntx && got < cap; k++)
			ids[got++] = frame_id(md.tx[k].data);
	}
	return got;
}

START_TEST(test_impair_spec_parse)
{
	struct weir_impair_config c;
	const char *why = NULL;

	ck_assert_int_eq(
		weir_impair_parse("loss=0.01,reorder=1%,dup=0.005,corrupt=0.0005,delay=5ms,"
				  "seed=42",
				  &c, &why),
		0);
	ck_assert(c.loss == 0.01 && c.reorder == 0.01 && c.duplicate == 0.005);
	ck_assert(c.corrupt == 0.0005);
	ck_assert_uint_eq(c.delay_ns, 5 * WEIR_NS_PER_MS);
	ck_assert_uint_eq(c.seed, 42);
	ck_assert_int_eq(weir_impair_parse("delay=250us", &c, NULL), 0);
	ck_assert_uint_eq(c.delay_ns, 250000);
	ck_assert_float_eq(c.loss, 0.0);
	ck_assert_int_eq(weir_impair_parse("duplicate=1", &c, NULL), 0);
	ck_assert(c.duplicate == 1.0);
	/* Bad specs: one clear error each. */
	ck_assert_int_eq(weir_impair_parse("loss=2", &c, &why), WEIR_EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(weir_impair_parse("loss=-0.1", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("loss=nan", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("loss", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("jitter=1ms", &c, &why), WEIR_EINVAL);
	ck_assert(strstr(why, "unknown key") != NULL);
	ck_assert_int_eq(weir_impair_parse("delay=5", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("delay=11s", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("seed=x", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse("", &c, NULL), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_parse(NULL, &c, NULL), WEIR_EINVAL);
}
END_TEST

START_TEST(test_impair_wrap_checks_and_hides_offloads)
{
	struct weir_impair_config bad = { .loss = 1.5 };
	struct weir_impair_config ok = { 0 };
	struct weir_impair_stats st;
	struct weir_netdev_caps caps;
	struct weir_netdev *d;

	memdev_init(&md);
	ck_assert_int_eq(weir_impair_wrap(&md.nd, &bad, &d), WEIR_EINVAL);
	bad = (struct weir_impair_config){ .delay_ns = 11 * WEIR_NS_PER_S };
	ck_assert_int_eq(weir_impair_wrap(&md.nd, &bad, &d), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_wrap(NULL, &ok, &d), WEIR_EINVAL);
	ck_assert_int_eq(weir_impair_get_stats(&md.nd, &st), WEIR_EINVAL); /* not a wrapper */
	md.offloads = WEIR_OFFLOAD_TX_TSO4 | WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_RX_CSUM_L4;
	open_with(&ok);
	md.offloads = WEIR_OFFLOAD_TX_TSO4 | WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_RX_CSUM_L4;
	weir_netdev_get_caps(dev, &caps);
	ck_assert_uint_eq(caps.offloads, 0);
	close_dev();
}
END_TEST

START_TEST(test_impair_tx_loss_rate_and_seed)
{
	static uint32_t a[20000], b[20000];
	struct weir_impair_config c = { .loss = 0.1, .seed = 7 };
	struct weir_impair_stats st;
	size_t na, nb;

	open_with(&c);
	na = send_ids(0, 20000, a, 20000);
	ck_assert_int_eq(weir_impair_get_stats(dev, &st), 0);
	ck_assert_uint_eq(st.frames[0], 20000);
	ck_assert_uint_eq(st.dropped[0], 20000 - na);
	/* 10% of 20,000: 2,000, sigma about 42. */
	ck_assert_msg(st.dropped[0] > 1800 && st.dropped[0] < 2200, "dropped %llu",
		      (unsigned long long)st.dropped[0]);
	for (size_t i = 1; i < na; i++)
		ck_assert_uint_gt(a[i], a[i - 1]); /* loss alone keeps the order */
	close_dev();
	/* The same seed: the same frames lost. */
	open_with(&c);
	nb = send_ids(0, 20000, b, 20000);
	ck_assert_uint_eq(na, nb);
	ck_assert(memcmp(a, b, na * sizeof(a[0])) == 0);
	close_dev();
	c.seed = 8;
	open_with(&c);
	nb = send_ids(0, 20000, b, 20000);
	ck_assert(na != nb || memcmp(a, b, na * sizeof(a[0])) != 0);
	close_dev();
}
END_TEST

START_TEST(test_impair_tx_reorder_dup_corrupt)
{
	static uint32_t ids[4000];
	static int seen[2000];
	struct weir_impair_config c = { .reorder = 0.2, .duplicate = 0.1, .seed = 3 };
	struct weir_impair_stats st;
	struct timespec ms2 = { 0, 2000000 };
	size_t n, inversions = 0;

	open_with(&c);
	n = send_ids(0, 2000, ids, 4000);
	/* The last frame may still be held for its successor: it goes after 1 ms. */
	nanosleep(&ms2, NULL);
	md.ntx = 0;
	weir_netdev_poll(dev);
	for (unsigned k = 0; k < md.ntx; k++)
		ids[n++] = frame_id(md.tx[k].data);
	ck_assert_int_eq(weir_impair_get_stats(dev, &st), 0);
	/* Every frame arrives, the duplicated ones twice, some out of order. */
	ck_assert_uint_eq(n, 2000 + st.duplicated[0]);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_lt(ids[i], 2000);
		seen[ids[i]]++;
		if (i > 0 && ids[i] < ids[i - 1])
			inversions++;
	}
	for (int i = 0; i < 2000; i++)
		ck_assert_int_ge(seen[i], 1);
	ck_assert_msg(st.reordered[0] > 300 && st.reordered[0] < 500, "reordered %llu",
		      (unsigned long long)st.reordered[0]);
	ck_assert_msg(st.duplicated[0] > 130 && st.duplicated[0] < 270, "duplicated %llu",
		      (unsigned long long)st.duplicated[0]);
	ck_assert_uint_gt(inversions, 100);
	close_dev();
	/* Corruption: exactly one byte differs from what was sent. */
	c = (struct weir_impair_config){ .corrupt = 1.0, .seed = 5 };
	open_with(&c);
	for (uint32_t i = 0; i < 200; i++) {
		uint8_t f[FRAME_LEN];
		struct weir_iovec iov = { f, FRAME_LEN };
		struct weir_tx_frame tf = { .iov = &iov, .iovcnt = 1, .len = FRAME_LEN };
		int diff = 0;

		make_frame(f, i);
		md.ntx = 0;
		ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
		ck_assert_uint_eq(md.ntx, 1);
		for (int k = 0; k < FRAME_LEN; k++)
			diff += md.tx[0].data[k] != f[k];
		ck_assert_int_eq(diff, 1);
	}
	close_dev();
}
END_TEST

START_TEST(test_impair_tx_delay_and_backpressure)
{
	struct weir_impair_config c = { .delay_ns = 20 * WEIR_NS_PER_MS };
	struct timespec ms25 = { 0, 25000000 };
	uint8_t f[FRAME_LEN];
	struct weir_iovec iov = { f, FRAME_LEN };
	struct weir_tx_frame tf = { .iov = &iov, .iovcnt = 1, .len = FRAME_LEN };
	uint64_t t0 = weir_clock_now_ns(), d;
	struct weir_impair_stats st;

	open_with(&c);
	make_frame(f, 1);
	md.ntx = 0;
	ck_assert_int_eq(weir_netdev_tx_burst(dev, &tf, 1), 1);
	ck_assert_uint_eq(md.ntx, 0); /* held for 20 ms */
	d = weir_netdev_next_deadline_ns(dev);
	ck_assert_uint_ge(d, t0 + 20 * WEIR_NS_PER_MS);
	ck_assert_uint_le(d, weir_clock_now_ns() + 20 * WEIR_NS_PER_MS);
	nanosleep(&ms25, NULL);
	/* The device is full: the frame stays queued, nothing is lost. */
	md.tx_fail = 1;
	weir_netdev_poll(dev);
	ck_assert_uint_eq(md.ntx, 0);
	md.tx_fail = 0;
	weir_netdev_poll(dev);
	ck_assert_uint_eq(md.ntx, 1);
	ck_assert_uint_eq(frame_id(md.tx[0].data), 1);
	ck_assert_int_eq(weir_impair_get_stats(dev, &st), 0);
	ck_assert_uint_eq(st.delayed[0], 1);
	/* A queue at its bound pushes back on the stack instead of growing. */
	c.delay_ns = 5 * WEIR_NS_PER_S;
	close_dev();
	open_with(&c);
	for (int i = 0; i < WEIR_IMPAIR_HOLD_MAX + 10; i++) {
		int took = weir_netdev_tx_burst(dev, &tf, 1);

		if (i < WEIR_IMPAIR_HOLD_MAX - 1)
			ck_assert_int_eq(took, 1);
		else if (took == 0)
			break;
		ck_assert_int_lt(i, WEIR_IMPAIR_HOLD_MAX + 5);
	}
	close_dev(); /* frees what is still held */
}
END_TEST

START_TEST(test_impair_rx_each_impairment)
{
	struct weir_impair_config c = { .loss = 0.5, .seed = 11 };
	struct weir_frame *fr[16];
	struct weir_impair_stats st;
	uint8_t f[FRAME_LEN];
	unsigned got = 0, dups = 0;
	struct timespec ms2 = { 0, 2000000 };

	open_with(&c);
	for (uint32_t i = 0; i < 400; i++) {
		int n;

		make_frame(f, i);
		ck_assert_int_ge(memdev_inject(&md, f, FRAME_LEN), 0);
		n = weir_netdev_rx_burst(dev, fr, 16);
		ck_assert_int_ge(n, 0);
		for (int k = 0; k < n; k++)
			weir_netdev_release(fr[k]);
		got += (unsigned)n;
	}
	ck_assert_int_eq(weir_impair_get_stats(dev, &st), 0);
	ck_assert_uint_eq(st.frames[1], 400);
	ck_assert_uint_eq(got + st.dropped[1], 400);
	ck_assert_msg(st.dropped[1] > 160 && st.dropped[1] < 240, "dropped %llu",
		      (unsigned long long)st.dropped[1]);
	ck_assert_uint_eq(memdev_outstanding(&md), 0); /* every lost frame went back */
	close_dev();
	/* Corrupted frames lose their checksum-verified flag; duplicates come twice; a delayed
	 * frame comes when due; every frame goes back to the device. */
	c = (struct weir_impair_config){
		.corrupt = 1.0, .duplicate = 1.0, .delay_ns = 10 * WEIR_NS_PER_MS, .seed = 2
	};
	open_with(&c);
	make_frame(f, 9);
	ck_assert_int_ge(memdev_inject(&md, f, FRAME_LEN), 0);
	md.frames[0].flags = WEIR_FRAME_L4_CSUM_OK;
	ck_assert_int_eq(weir_netdev_rx_burst(dev, fr, 16), 0); /* not yet */
	ck_assert_uint_eq(memdev_outstanding(&md), 0);		/* copied, given back */
	for (int t = 0; t < 20 && dups < 2; t++) {
		int n;

		nanosleep(&ms2, NULL);
		n = weir_netdev_rx_burst(dev, fr, 16);
		for (int k = 0; k < n; k++) {
			int diff = 0;

			for (int b = 0; b < FRAME_LEN; b++)
				diff += fr[k]->data[b] != f[b];
			ck_assert_int_eq(diff, 1);
			ck_assert_uint_eq(fr[k]->flags & WEIR_FRAME_L4_CSUM_OK, 0);
			weir_netdev_release(fr[k]);
			dups++;
		}
	}
	ck_assert_uint_eq(dups, 2);
	close_dev();
}
END_TEST

Suite *weir_test_impair_suite(void)
{
	Suite *s = suite_create("impair");
	TCase *tc = tcase_create("impair");

	tcase_add_test(tc, test_impair_spec_parse);
	tcase_add_test(tc, test_impair_wrap_checks_and_hides_offloads);
	tcase_add_test(tc, test_impair_tx_loss_rate_and_seed);
	tcase_add_test(tc, test_impair_tx_reorder_dup_corrupt);
	tcase_add_test(tc, test_impair_tx_delay_and_backpressure);
	tcase_add_test(tc, test_impair_rx_each_impairment);
	suite_add_tcase(s, tc);
	return s;
}
