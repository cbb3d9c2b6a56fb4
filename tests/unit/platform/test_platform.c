/* test_platform.c - errors, logging levels, clock, PRNG and SipHash. */
#include <string.h>
#include <time.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>

#include "weir_tests.h"

START_TEST(test_strerror_covers_every_code)
{
#define CHECK_CODE(name, num, str)                                                                 \
	ck_assert_str_eq(weir_strerror(WEIR_##name), str);                                         \
	ck_assert_str_eq(weir_err_name(WEIR_##name), "WEIR_" #name);                               \
	ck_assert_int_eq(WEIR_##name, -(num));
	WEIR_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
	ck_assert_str_eq(weir_strerror(0), "success");
	ck_assert_str_eq(weir_strerror(-9999), "unknown error");
	ck_assert_str_eq(weir_err_name(-9999), "WEIR_E?");
}
END_TEST

START_TEST(test_log_level_parse_rejects_unknown)
{
	enum weir_log_level l;

	ck_assert_int_eq(weir_log_parse_level("debug", &l), 0);
	ck_assert_int_eq(l, WEIR_LOG_DEBUG);
	ck_assert_int_eq(weir_log_parse_level("loud", &l), WEIR_EINVAL);
	ck_assert_int_eq(weir_log_parse_level(NULL, &l), WEIR_EINVAL);
	ck_assert_int_eq(weir_log_set_level((enum weir_log_level)7), WEIR_EINVAL);
	ck_assert_int_eq(weir_log_set_level(WEIR_LOG_WARN), 0);
	ck_assert_int_eq(weir__log_level, WEIR_LOG_WARN);
}
END_TEST

START_TEST(test_clock_is_monotonic_and_advances)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	uint64_t a = weir_clock_now_ns(), b;

	nanosleep(&ts, NULL);
	b = weir_clock_now_ns();
	ck_assert_uint_ge(b - a, 20 * WEIR_NS_PER_MS);
	ck_assert_uint_lt(b - a, 2 * WEIR_NS_PER_S);
	for (int i = 0; i < 1000; i++) {
		uint64_t c = weir_clock_now_ns();

		ck_assert_uint_ge(c, b);
		b = c;
	}
}
END_TEST

START_TEST(test_entropy_fills_and_rejects_null)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 };

	ck_assert_int_eq(weir_entropy_fill(a, sizeof(a)), 0);
	ck_assert_int_eq(weir_entropy_fill(b, sizeof(b)), 0);
	ck_assert(memcmp(a, b, sizeof(a)) != 0);
	ck_assert_int_eq(weir_entropy_fill(NULL, 4), WEIR_EINVAL);
}
END_TEST

START_TEST(test_prng_same_seed_same_sequence)
{
	struct weir_prng a, b, c;
	int differ = 0;

	weir_prng_seed(&a, 42);
	weir_prng_seed(&b, 42);
	weir_prng_seed(&c, 43);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = weir_prng_next(&a);

		ck_assert_uint_eq(x, weir_prng_next(&b));
		differ += x != weir_prng_next(&c);
	}
	ck_assert_int_gt(differ, 990);
	for (int i = 0; i < 1000; i++) {
		double u = weir_prng_unit(&a);

		ck_assert(u >= 0.0 && u < 1.0);
	}
}
END_TEST

START_TEST(test_siphash_reference_vector)
{
	/* The SipHash paper's appendix A: key 00..0f, message 00..0e, SipHash-2-4. */
	uint8_t key[16], msg[15];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(weir_siphash24(key, msg, sizeof(msg)), UINT64_C(0xa129ca6149be45e5));
	/* Empty message: first entry of the reference implementation's vectors. */
	ck_assert_uint_eq(weir_siphash24(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
}
END_TEST

Suite *weir_test_platform_suite(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_strerror_covers_every_code);
	tcase_add_test(tc, test_log_level_parse_rejects_unknown);
	tcase_add_test(tc, test_clock_is_monotonic_and_advances);
	tcase_add_test(tc, test_entropy_fills_and_rejects_null);
	tcase_add_test(tc, test_prng_same_seed_same_sequence);
	tcase_add_test(tc, test_siphash_reference_vector);
	suite_add_tcase(s, tc);
	return s;
}
