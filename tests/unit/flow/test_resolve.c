/* test_resolve.c - resolve.h without a network: IANA service names, the hosts table, reverse
 * lookups, and the arguments weir_resolve refuses (DNS itself: tests/integration/tap_resolve.sh).
 */
#include <weir/error.h>
#include <weir/resolve.h>

#include "host.h"
#include "weir_tests.h"

static struct host_fixture h;

static void setup(void)
{
	host_fixture_up(&h);
}

static void teardown(void)
{
	host_fixture_down(&h);
}

START_TEST(test_service_table)
{
	uint16_t port;

	ck_assert_int_eq(weir_service_port("http", &port), 0);
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(weir_service_port("ssh", &port), 0);
	ck_assert_uint_eq(port, 22);
	ck_assert_int_eq(weir_service_port("8080", &port), 0);
	ck_assert_uint_eq(port, 8080);
	ck_assert_int_eq(weir_service_port("no-such-service", &port), WEIR_ENOADDR);
	ck_assert_int_eq(weir_service_port("0", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port("65536", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port("80x", &port), WEIR_EINVAL);
	ck_assert_int_eq(weir_service_port(NULL, &port), WEIR_EINVAL);
	ck_assert_str_eq(weir_service_name(443), "https");
	ck_assert_str_eq(weir_service_name(53), "domain");
	ck_assert_ptr_null(weir_service_name(1));
}
END_TEST

START_TEST(test_hosts_table_and_reverse_lookup)
{
	struct weir_ipaddr a, b, got[4];
	char name[64];

	weir_ipaddr_parse("192.0.2.10", &a);
	weir_ipaddr_parse("192.0.2.11", &b);
	weir_hosts_clear();
	ck_assert_int_eq(weir_hosts_add("db", a), 0);
	ck_assert_int_eq(weir_hosts_add("db", b), 0);
	/* Numeric names need no table; hosts-table names give every address, in order. */
	ck_assert_int_eq(weir_resolve(h.st, "192.0.2.77", got, 4, 0), 1);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 4, 0), 2);
	ck_assert_uint_eq(got[0].v4, a.v4);
	ck_assert_uint_eq(got[1].v4, b.v4);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 1, 0), 1);
	ck_assert_int_eq(weir_name_of(b, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "db");
	ck_assert_int_eq(weir_name_of(h.our_ip, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "192.0.2.2");
	ck_assert_int_eq(weir_name_of(h.our_ip, name, 4), WEIR_EINVAL);
	ck_assert_int_eq(weir_hosts_add("", a), WEIR_EINVAL);
	ck_assert_int_eq(weir_hosts_add("x", (struct weir_ipaddr){ 0 }), WEIR_EINVAL);
	ck_assert_int_eq(weir_resolve(h.st, "", got, 4, 0), WEIR_EINVAL);
	ck_assert_int_eq(weir_resolve(h.st, "db", got, 0, 0), WEIR_EINVAL);
	/* DNS is for fibers only. */
	ck_assert_int_eq(weir_resolve(h.st, "not-in-table", got, 4, 0), WEIR_EINVAL);
	weir_hosts_clear();
	ck_assert_int_eq(weir_name_of(b, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "192.0.2.11");
}
END_TEST

Suite *weir_test_resolve_suite(void)
{
	Suite *s = suite_create("resolve");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_service_table);
	suite_add_tcase(s, tc);

	TCase *th = tcase_create("hosts");
	tcase_add_checked_fixture(th, setup, teardown);
	tcase_add_test(th, test_hosts_table_and_reverse_lookup);
	suite_add_tcase(s, th);
	return s;
}
