/* runner.c - runs one of lwIP's own test/unit suites against our lwIP twin (tests/lwip-unit).
 *
 * usage: weir-lwip-unit SUITE TESTS [-o TEST]... [-x TEST]...
 *        weir-lwip-unit --list
 *   TESTS    how many tests lwIP's suite holds (lwIP 2.1.3)
 *   -o TEST  TEST's body is #if'd out under our options: it must run and make no assertion
 *   -x TEST  TEST needs an option our profile deliberately lacks: it is not run
 *
 * lwIP's lwip_unittests.c cannot be reused: it names all fifteen suites (IPv6, mDNS, MQTT,
 * sockets among them), so this runner provides the two helpers the suites call (create_suite,
 * lwip_check_ensure_no_alloc) and lists only the suites that apply to this variant of the twin.
 *
 * lwIP's test files drop tests silently when an option does not suit them: some tests vanish
 * from a suite, others keep running with an #if'd-out, empty body and pass. So the runner checks
 * both: exactly TESTS tests exist, and every test that runs makes at least one passing assertion
 * (Check's _mark_point, wrapped at link time, counts them) unless it is listed with -o, and then
 * it must make none. A changed option shows up as a failure naming the test, never as a quietly
 * smaller suite. Exit codes: 0 all passed, 1 a test failed or the count differs, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip_check.h"

#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/priv/tcp_priv.h"

#include "core/test_def.h"
#include "core/test_mem.h"
#include "core/test_netif.h"
#include "core/test_pbuf.h"
#include "core/test_timers.h"
#include "dhcp/test_dhcp.h"
#include "etharp/test_etharp.h"
#include "ip4/test_ip4.h"
#include "tcp/test_tcp.h"
#include "tcp/test_tcp_oos.h"
#include "udp/test_udp.h"

struct lwip_unit_suite {
	const char *name;
	Suite *(*create)(void);
};

/* The suites each variant holds (tests/lwip-unit/CMakeLists.txt compiles their files). */
static const struct lwip_unit_suite suites[] = {
#if WEIR_LWIP_UNIT_HEAP
	{ "mem", mem_suite },
	{ "pbuf", pbuf_suite },
#elif WEIR_LWIP_UNIT_OOSEQ_UNLIMITED
	{ "tcp_oos", tcp_oos_suite },
#else
	{ "def", def_suite },	{ "netif", netif_suite },     { "timers", timers_suite },
	{ "dhcp", dhcp_suite }, { "etharp", etharp_suite },   { "ip4", ip4_suite },
	{ "tcp", tcp_suite },	{ "tcp_oos", tcp_oos_suite }, { "udp", udp_suite },
#endif
};

/* The pools' names, for leak messages (lwIP keeps them only in debug builds). */
static const char *const pool_names[] = {
#define LWIP_MEMPOOL(name, num, size, desc) #name,
#include "lwip/priv/memp_std.h"
};
_Static_assert(sizeof(pool_names) / sizeof(pool_names[0]) == MEMP_MAX, "one name per pool");
_Static_assert(MEMP_MAX < 31, "lwip_check.h's SKIP_POOL() is an int bit mask");

/* Tests named on the command line: -o (compiled out) and -x (excluded). found counts how many
 * of the names the suite really holds, so that a stale name is an error too. */
struct test_list {
	const char *names[64];
	int n;
	int found;
};
static struct test_list compiled_out, excluded;

static int listed(const struct test_list *l, const char *test)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->names[i], test) == 0)
			return 1;
	return 0;
}

/* Assertions that passed in this process since the last reset; Check calls _mark_point for
 * each (linked with --wrap=_mark_point). Tests run in forked children, so this is per test. */
static unsigned long assertions;

void __real__mark_point(const char *file, int line);
void __wrap__mark_point(const char *file, int line);

void __wrap__mark_point(const char *file, int line)
{
	assertions++;
	__real__mark_point(file, line);
}

/* Added after the suite's own fixture: its setup runs after the suite's, its teardown before the
 * suite's, so the count covers the test body alone. (A listed -o test checks that order: the
 * suites' fixtures assert.) */
static void count_setup(void)
{
	assertions = 0;
}

static void count_teardown(void)
{
	unsigned long n = assertions;
	const char *test = tcase_name();

	if (listed(&compiled_out, test))
		ck_assert_msg(n == 0,
			      "%s is listed as compiled out under our options but made %lu "
			      "assertions: take it off the list in tests/lwip-unit/CMakeLists.txt",
			      test, n);
	else
		ck_assert_msg(n > 0,
			      "%s made no assertion: its body is #if'd out under these options; "
			      "find the option and list the test as compiled out, with the reason",
			      test);
}

static int suite_tests;

/* Called by every suite: one test case per test, named after it, with the suite's fixture. */
Suite *create_suite(const char *name, testfunc *tests, size_t num_tests, SFun setup, SFun teardown)
{
	Suite *s = suite_create(name);

	for (size_t i = 0; i < num_tests; i++) {
		const char *test = tests[i]->name;
		TCase *tc;

		suite_tests++;
		compiled_out.found += listed(&compiled_out, test);
		if (listed(&excluded, test)) {
			excluded.found++;
			continue;
		}
		tc = tcase_create(test);
		if (setup != NULL || teardown != NULL)
			tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_checked_fixture(tc, count_setup, count_teardown);
		tcase_add_named_test(tc, tests[i]);
		suite_add_tcase(s, tc);
	}
	return s;
}

/* Called by the suites' fixtures: lwIP's heap and every pool not in skip are empty. */
void lwip_check_ensure_no_alloc(unsigned int skip)
{
	if (!(skip & SKIP_HEAP))
		ck_assert_msg(lwip_stats.mem.used == 0, "lwIP heap: %lu bytes still in use",
			      (unsigned long)lwip_stats.mem.used);
	for (unsigned int i = 0; i < MEMP_MAX; i++) {
		if (skip & (1u << i))
			continue;
		ck_assert_msg(lwip_stats.memp[i]->used == 0, "lwIP pool %s: %lu still in use",
			      pool_names[i], (unsigned long)lwip_stats.memp[i]->used);
	}
}

/* Two functions the 2.1.3 test files call without a declaration in our configuration (so they
 * must have external linkage here):
 * - ip4's teardown calls tcpip_thread_poll_one() to let the tcpip thread free what it holds.
 *   With NO_SYS=1 there is no such thread and nothing is ever queued: 0 means "nothing done".
 * - test_tcp_recv_ooseq_max_bytes calls tcp_oos_pbuf_count(), which test_tcp_oos.c defines
 *   (static) only under the #if of the max_pbufs test; it is still so in lwIP 2.2.1. */
#if !WEIR_LWIP_UNIT_HEAP
int tcpip_thread_poll_one(void);
int tcp_oos_pbuf_count(struct tcp_pcb *pcb);

int tcpip_thread_poll_one(void)
{
	return 0;
}

int tcp_oos_pbuf_count(struct tcp_pcb *pcb)
{
	int n = 0;

	for (struct tcp_seg *seg = pcb->ooseq; seg != NULL; seg = seg->next)
		n += pbuf_clen(seg->p);
	return n;
}
#endif

static int usage(void)
{
	fprintf(stderr, "usage: weir-lwip-unit SUITE TESTS [-o TEST]... [-x TEST]...\n"
			"       weir-lwip-unit --list\nsuites:");
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		fprintf(stderr, " %s", suites[i].name);
	fprintf(stderr, "\n");
	return 2;
}

static void print_list(const char *what, const struct test_list *l)
{
	if (l->n == 0)
		return;
	printf("; %s:", what);
	for (int i = 0; i < l->n; i++)
		printf(" %s", l->names[i]);
}

int main(int argc, char **argv)
{
	const struct lwip_unit_suite *suite = NULL;
	SRunner *sr;
	char *end;
	long expected;
	int ran, failed;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
			printf("%s\n", suites[i].name);
		return 0;
	}
	if (argc < 3)
		return usage();
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (strcmp(argv[1], suites[i].name) == 0)
			suite = &suites[i];
	if (suite == NULL) {
		fprintf(stderr, "weir-lwip-unit: no suite '%s' in this variant\n", argv[1]);
		return usage();
	}
	expected = strtol(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end != '\0' || expected < 1 || expected > 1000) {
		fprintf(stderr, "weir-lwip-unit: bad test count '%s'\n", argv[2]);
		return usage();
	}
	for (int i = 3; i < argc; i++) {
		struct test_list *l = strcmp(argv[i], "-o") == 0   ? &compiled_out
				      : strcmp(argv[i], "-x") == 0 ? &excluded
								   : NULL;

		if (l == NULL || i + 1 == argc ||
		    l->n == (int)(sizeof(l->names) / sizeof(l->names[0])))
			return usage();
		l->names[l->n++] = argv[++i];
	}

	printf("weir-lwip-unit: lwIP %s from %s, patches: %s\n", LWIP_VERSION_STRING,
	       WEIR_LWIP_UNIT_SRC, WEIR_LWIP_UNIT_PATCHES);

	/* Like upstream's runner with NO_SYS=1: lwIP is initialised once, before the fork of
	 * each test, and every fixture starts from that state. */
	lwip_init();
	sr = srunner_create(suite->create());
	if (suite_tests != expected || compiled_out.found != compiled_out.n ||
	    excluded.found != excluded.n) {
		fprintf(stderr,
			"weir-lwip-unit: suite %s holds %d tests (expected %ld), %d of the %d "
			"listed with -o and %d of the %d listed with -x: an option of the twin "
			"(tests/lwip-unit/lwipopts.h) or of the profile now #if's tests in or out, "
			"or a name is stale; update tests/lwip-unit/CMakeLists.txt\n",
			suite->name, suite_tests, expected, compiled_out.found, compiled_out.n,
			excluded.found, excluded.n);
		srunner_free(sr);
		return 1;
	}
	srunner_run_all(sr, CK_NORMAL);
	ran = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	printf("weir-lwip-unit: %s: %d of %d tests ran", suite->name, ran, suite_tests);
	print_list("compiled out under our options", &compiled_out);
	print_list("not run (need options our profile lacks)", &excluded);
	printf("\n");
	/* CK_RUN_CASE=test_name (Check's own filter) runs fewer on purpose. */
	if (getenv("CK_RUN_CASE") == NULL && ran != suite_tests - excluded.n) {
		fprintf(stderr, "weir-lwip-unit: Check ran %d tests, %d were added\n", ran,
			suite_tests - excluded.n);
		return 1;
	}
	return failed == 0 ? 0 : 1;
}
