/* port.c - the lwIP port functions our arch/cc.h and hooks name, for the lwIP unit-test twin.
 *
 * Production's platform/lwip/port.c cannot be linked here: it owns sys_now(), and lwIP's suites
 * drive time themselves through lwIP's test/unit/arch/sys_arch.c (lwip_sys_now). These are the
 * test versions: an lwIP assertion fails the running Check test with its message, and LWIP_RAND
 * is a fixed-seed generator so that runs repeat exactly.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include <check.h>

#include "lwip/opt.h"

#include "weir_lwip_hooks.h"
#include "lwip_port.h"

/* No flow layer here: the TCP segment hooks stay compiled in (as in production) and do nothing. */
WEIR_PER_SHARD const struct weir__lwip_tcp_hooks *weir__lwip_tcp_hooks;
WEIR_PER_SHARD weir__lwip_port_ok_fn weir__lwip_connect_port_ok; /* NULL: any port */

static pthread_t core_owner;
static int core_owned;

void weir__lwip_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void weir__lwip_assert_failed(const char *msg, const char *file, int line)
{
	ck_abort_msg("lwIP assertion \"%s\" failed at %s:%d", msg, file, line);
}

uint32_t weir__lwip_rand(void)
{
	/* xorshift32 (Marsaglia), fixed seed: reproducible DHCP xids and ephemeral ports. */
	static uint32_t x = 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* LWIP_ASSERT_CORE_LOCKED: the first thread to enter lwIP owns it, as in production. */
void weir__lwip_assert_core_locked(void)
{
	if (!core_owned) {
		core_owner = pthread_self();
		core_owned = 1;
	}
	/* Not ck_assert_msg: a passing check would count as an assertion of the running test. */
	if (!pthread_equal(core_owner, pthread_self()))
		ck_abort_msg("lwIP entered from a thread that does not own it");
}
