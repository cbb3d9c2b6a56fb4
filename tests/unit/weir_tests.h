/* weir_tests.h - the suites the unit-test runner knows (one per file, see main.c). */
#ifndef WEIR_TESTS_H
#define WEIR_TESTS_H

#include <check.h>

Suite *weir_test_platform_suite(void);
Suite *weir_test_csum_suite(void);
Suite *weir_test_loop_suite(void);
Suite *weir_test_config_suite(void);
Suite *weir_test_stack_suite(void);
Suite *weir_test_link_suite(void);
Suite *weir_test_netdev_suite(void);
Suite *weir_test_lan9118_suite(void); /* drivers/test_lan9118.c: against a register model */
Suite *weir_test_fiber_suite(void);
Suite *weir_test_tcp_suite(void);
Suite *weir_test_message_suite(void);
Suite *weir_test_server_suite(void);
Suite *weir_test_resolve_suite(void);
Suite *weir_test_addr_suite(void);
Suite *weir_test_udp_suite(void);
Suite *weir_test_lwipfix_suite(void); /* stack/test_lwip_fixes.c: stack/patches regressions */
Suite *weir_test_misuse_suite(void);  /* flow/test_misuse.c: every public call misused */
Suite *weir_test_impair_suite(void);  /* drivers/test_impair.c: the impairment wrapper */
Suite *weir_test_seeds_suite(void);   /* flow/test_seeds.c: what the seed interfaces promise */
Suite *weir_test_virtio_suite(void);  /* drivers/test_virtio_net.c: against a device model */
Suite *weir_test_shards_suite(void);  /* stack/test_shards.c: two stacks in two threads */

#endif
