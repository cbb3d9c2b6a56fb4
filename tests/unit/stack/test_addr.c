/* test_addr.c - stack/addr.c: IPv4 addresses, prefixes and MAC addresses parsed and formatted. */
#include <stdint.h>

#include <weir/error.h>
#include <weir/stack.h>

#include "weir_tests.h"

START_TEST(test_address_parsing)
{
	struct weir_ipaddr a;
	uint8_t plen, mac[6];
	char buf[WEIR_IPADDR_STRLEN];

	ck_assert_int_eq(weir_ipaddr_parse("192.0.2.255", &a), 0);
	ck_assert_str_eq(weir_ipaddr_format(a, buf), "192.0.2.255");
	ck_assert_int_eq(weir_ipaddr_parse_cidr("192.0.2.2/24", &a, &plen), 0);
	ck_assert_uint_eq(plen, 24);
	ck_assert_int_eq(weir_ipaddr_parse_cidr("192.0.2.2", &a, &plen), 0);
	ck_assert_uint_eq(plen, 32);
	const char *bad[] = { "",	 "1.2.3",  "1.2.3.4.5",	 "256.1.1.1", "1.2.3.4 ",
			      "a.b.c.d", "1..2.3", "1.2.3.0004", "-1.2.3.4" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(weir_ipaddr_parse(bad[i], &a) == WEIR_EINVAL, "accepted '%s'",
			      bad[i]);
	const char *badc[] = { "1.2.3.4/", "1.2.3.4/0", "1.2.3.4/33", "1.2.3.4/2x", "/24" };
	for (unsigned i = 0; i < sizeof(badc) / sizeof(badc[0]); i++)
		ck_assert_msg(weir_ipaddr_parse_cidr(badc[i], &a, &plen) == WEIR_EINVAL,
			      "accepted '%s'", badc[i]);
	ck_assert_int_eq(weir_ipaddr_parse(NULL, &a), WEIR_EINVAL);
	ck_assert_int_eq(weir_mac_parse("02:00:5e:00:53:0A", mac), 0);
	ck_assert_uint_eq(mac[5], 0x0a);
	ck_assert_int_eq(weir_mac_parse("02:00:5e:00:53", mac), WEIR_EINVAL);
	ck_assert_int_eq(weir_mac_parse("02:00:5e:00:53:0g", mac), WEIR_EINVAL);
	ck_assert_int_eq(weir_mac_parse("02-00-5e-00-53-01", mac), WEIR_EINVAL);
}
END_TEST

Suite *weir_test_addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_test(tc, test_address_parsing);
	suite_add_tcase(s, tc);
	return s;
}
