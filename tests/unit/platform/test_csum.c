/* test_csum.c - weir_csum (weir/csum.h) gives exactly what a plain RFC 1071 sum of 16-bit words
 * gives: every length 0..2100 at every alignment 0..7, on random data and on the extremes (all
 * zero, all 0xff), long buffers up to 4 MiB (the vector path's lane fold), and RFC 1071's worked
 * example. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weir/csum.h>

#include "weir_tests.h"

/* The reference: 16-bit native-order words, one at a time, as lwIP's algorithm 2 computes. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint64_t sum = 0; /* no overflow below 2^48 bytes */
	uint16_t w;
	size_t i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (i < len) {
		uint8_t last[2] = { p[i], 0 };

		memcpy(&w, last, 2);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static unsigned lcg = 12345;

static void fill(uint8_t *b, size_t n, int kind)
{
	for (size_t i = 0; i < n; i++) {
		lcg = lcg * 1103515245u + 12345u;
		b[i] = kind == 0 ? (uint8_t)(lcg >> 16) : kind == 1 ? 0 : 0xff;
	}
}

START_TEST(test_csum_rfc1071_example)
{
	/* RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 as big-endian words; the sum is
	 * in the data's byte order, so a little-endian CPU sees f2dd. */
	static const uint8_t rfc[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t got = weir_csum(rfc, sizeof(rfc));

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	ck_assert_uint_eq(got, 0xddf2);
#else
	ck_assert_uint_eq(got, 0xf2dd);
#endif
	ck_assert_uint_eq(weir_csum(rfc, 0), 0);
}
END_TEST

START_TEST(test_csum_every_length_and_alignment)
{
	static uint8_t buf[2100 + 8];
	unsigned checked = 0;

	for (int kind = 0; kind < 3; kind++) {
		fill(buf, sizeof(buf), kind);
		for (size_t off = 0; off < 8; off++)
			for (size_t len = 0; len <= 2100; len++) {
				uint16_t want = ref_csum(buf + off, len),
					 got = weir_csum(buf + off, len);

				if (got != want)
					ck_abort_msg("fill %d offset %zu length %zu: got %04x, "
						     "want %04x",
						     kind, off, len, got, want);
				checked++;
			}
	}
	ck_assert_uint_eq(checked, 3 * 8 * 2101);
}
END_TEST

START_TEST(test_csum_long_buffers)
{
	/* Long buffers cross the vector path's 256 KiB fold; all-0xff words fill its lanes most
	 * (without the fold a lane would overflow past 2 MiB). */
	static const size_t lens[] = { 262143, 262144, 262145, 262208, 524288 + 63, 4 << 20 };
	size_t big = (4 << 20) + 8;
	uint8_t *b = malloc(big);

	ck_assert_ptr_nonnull(b);
	for (int kind = 0; kind < 3; kind += 2) {
		fill(b, big, kind);
		for (size_t off = 0; off < 4; off++)
			for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
				uint16_t want = ref_csum(b + off, lens[k]),
					 got = weir_csum(b + off, lens[k]);

				if (got != want)
					ck_abort_msg("fill %d offset %zu length %zu: got %04x, "
						     "want %04x",
						     kind, off, lens[k], got, want);
			}
	}
	free(b);
}
END_TEST

Suite *weir_test_csum_suite(void)
{
	Suite *s = suite_create("csum");
	TCase *tc = tcase_create("csum");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_csum_rfc1071_example);
	tcase_add_test(tc, test_csum_every_length_and_alignment);
	tcase_add_test(tc, test_csum_long_buffers);
	suite_add_tcase(s, tc);
	return s;
}
