/* main.c - the unit-test runner: every suite, or only the one named by CK_RUN_SUITE. */
#include <stdlib.h>

#include "weir_tests.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
		weir_test_platform_suite, weir_test_csum_suite,	  weir_test_loop_suite,
		weir_test_config_suite,	  weir_test_stack_suite,  weir_test_netdev_suite,
		weir_test_lan9118_suite,  weir_test_link_suite,	  weir_test_tcp_suite,
		weir_test_message_suite,  weir_test_server_suite, weir_test_resolve_suite,
		weir_test_addr_suite,	  weir_test_udp_suite,	  weir_test_fiber_suite,
		weir_test_lwipfix_suite,  weir_test_misuse_suite, weir_test_seeds_suite,
		weir_test_impair_suite,	  weir_test_virtio_suite, weir_test_shards_suite,
	};
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
