/* test_config.c - Kconfig values reach lwipopts.h and the compiled lwIP library. */
#include <weir/config.h>

#include "lwip/init.h"
#include "lwip/opt.h"
#include "lwip/tcp.h"

#include "weir_tests.h"

START_TEST(test_tcp_options_reach_lwipopts)
{
	/* What the preprocessor sees once lwIP's opt.h has applied its defaults. */
	ck_assert_int_eq(TCP_MSS, CONFIG_LWIP_TCP_MSS);
	ck_assert_int_eq(TCP_WND, CONFIG_LWIP_TCP_WND);
	ck_assert_int_eq(TCP_SND_BUF, CONFIG_LWIP_TCP_SND_BUF);
	ck_assert_int_eq(TCP_TMR_INTERVAL, CONFIG_LWIP_TCP_TMR_INTERVAL);
	ck_assert_int_eq(MEMP_NUM_TCP_PCB, CONFIG_LWIP_MEMP_NUM_TCP_PCB);
	ck_assert_int_eq(MEMP_NUM_TCP_SEG, CONFIG_LWIP_MEMP_NUM_TCP_SEG);
	ck_assert_int_eq(LWIP_WND_SCALE, IS_ENABLED(CONFIG_LWIP_WND_SCALE));
	ck_assert_int_eq(LWIP_TCP_TIMESTAMPS, IS_ENABLED(CONFIG_LWIP_TCP_TIMESTAMPS));
	ck_assert_int_eq(LWIP_TCP_KEEPALIVE, IS_ENABLED(CONFIG_LWIP_TCP_KEEPALIVE));
	ck_assert_int_eq(SO_REUSE, IS_ENABLED(CONFIG_LWIP_SO_REUSE));
	ck_assert_int_eq(TCP_LISTEN_BACKLOG, IS_ENABLED(CONFIG_LWIP_TCP_LISTEN_BACKLOG));
	ck_assert_int_eq(LWIP_TCP_SACK_OUT, IS_ENABLED(CONFIG_LWIP_TCP_SACK_OUT) &&
						    IS_ENABLED(CONFIG_LWIP_TCP_QUEUE_OOSEQ));
	/* Fixed by design, whatever the profile. */
	ck_assert_int_eq(NO_SYS, 1);
	ck_assert_int_eq(LWIP_SUPPORT_CUSTOM_PBUF, 1);
	ck_assert_int_eq(LWIP_TCP_PCB_NUM_EXT_ARGS, 1);
	ck_assert_int_eq(LWIP_CHECKSUM_CTRL_PER_NETIF, 1);
	ck_assert_int_eq(SYS_LIGHTWEIGHT_PROT, 0);
}
END_TEST

START_TEST(test_compiled_lwip_uses_the_options)
{
	/* A pcb made by the library itself carries the configured buffer and window: the library
	 * was compiled with the same lwipopts.h as this test. */
	struct tcp_pcb *pcb;

	lwip_init();
	pcb = tcp_new();
	ck_assert_ptr_nonnull(pcb);
	ck_assert_uint_eq(pcb->snd_buf, CONFIG_LWIP_TCP_SND_BUF);
	ck_assert_uint_eq(pcb->rcv_wnd,
			  CONFIG_LWIP_TCP_WND > 0xffff ? 0xffff : CONFIG_LWIP_TCP_WND);
#if LWIP_WND_SCALE
	ck_assert_uint_eq(TCP_RCV_SCALE, CONFIG_LWIP_TCP_RCV_SCALE);
#endif
	tcp_abort(pcb);
}
END_TEST

Suite *weir_test_config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("lwipopts");

	tcase_add_test(tc, test_tcp_options_reach_lwipopts);
	tcase_add_test(tc, test_compiled_lwip_uses_the_options);
	suite_add_tcase(s, tc);
	return s;
}
