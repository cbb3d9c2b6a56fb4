/* port.c - the lwIP NO_SYS port: sys_now, LWIP_RAND, the RFC 6528 ISN hook, the core-lock check.
 *
 * Built into the lwIP library itself (it needs lwipopts.h), so that lwIP links on its own.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lwip/opt.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"

#define WEIR_LOG_COMPONENT "lwip"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>

#include "weir_lwip_hooks.h"
#include "lwip_port.h"

WEIR_PER_SHARD const struct weir__lwip_tcp_hooks *weir__lwip_tcp_hooks;
WEIR_PER_SHARD weir__lwip_port_ok_fn weir__lwip_connect_port_ok;
static WEIR_PER_SHARD struct weir_prng port_rng;
static WEIR_PER_SHARD uint8_t isn_key[16];
static WEIR_PER_SHARD uintptr_t core_owner;
static WEIR_PER_SHARD int core_owned;
#if defined(__linux__) && WEIR_SHARDS
/* Shards: each thread has an lwIP of its own (stack/patches/0024), so the mistake to catch is a
 * thread without one entering lwIP while another thread has one (it meant that one). */
static atomic_int shards_open;
#elif defined(__linux__)
/* Hosted: lwIP is entered at every API call and segment, so the check is a thread-local compare,
 * not a call into the C library: the owner thread holds the current generation. */
static unsigned core_gen;
static __thread unsigned core_gen_here;
#endif

int weir__lwip_port_init(void)
{
	uint64_t seed;

	if (weir_entropy_fill(&seed, sizeof(seed)) != 0 ||
	    weir_entropy_fill(isn_key, sizeof(isn_key)) != 0)
		return WEIR_EIO;
	weir_prng_seed(&port_rng, seed);
	core_owner = weir_thread_id();
#if defined(__linux__) && WEIR_SHARDS
	if (!core_owned)
		atomic_fetch_add(&shards_open, 1);
#elif defined(__linux__)
	core_gen_here = ++core_gen;
#endif
	core_owned = 1;
	return 0;
}

void weir__lwip_port_fini(void)
{
#if defined(__linux__) && WEIR_SHARDS
	if (core_owned)
		atomic_fetch_sub(&shards_open, 1);
#endif
	core_owned = 0;
}

void weir__lwip_assert_core_locked(void)
{
#if defined(__linux__) && WEIR_SHARDS
	if (WEIR_UNLIKELY(!core_owned && atomic_load_explicit(&shards_open, memory_order_relaxed)))
#elif defined(__linux__)
	if (WEIR_UNLIKELY(core_owned && core_gen_here != core_gen))
#else
	if (WEIR_UNLIKELY(core_owned && weir_thread_id() != core_owner))
#endif
		weir_panic(__FILE__, __LINE__, "lwIP entered from a thread that is not the loop's");
}

u32_t sys_now(void)
{
	/* Milliseconds; lwIP handles the 32-bit wrap. */
	return (u32_t)(weir_clock_now_ns() / WEIR_NS_PER_MS);
}

uint32_t weir__lwip_rand(void)
{
	return (uint32_t)(weir_prng_next(&port_rng) >> 32);
}

u32_t weir__lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
			 u16_t remote_port)
{
	/* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a timer
	 * ticking every 4 µs, F a keyed pseudo-random function (SipHash-2-4 here). */
	uint8_t tuple[12];
	uint32_t m = (uint32_t)(weir_clock_now_ns() / 4000);

	memcpy(tuple, &ip_2_ip4(local_ip)->addr, 4);
	memcpy(tuple + 4, &ip_2_ip4(remote_ip)->addr, 4);
	memcpy(tuple + 8, &local_port, 2);
	memcpy(tuple + 10, &remote_port, 2);
	return m + (uint32_t)weir_siphash24(isn_key, tuple, sizeof(tuple));
}

void weir__lwip_diag(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	weir_log_debug("%s", buf);
}

void weir__lwip_assert_failed(const char *msg, const char *file, int line)
{
	weir_panic(file, line, "lwIP assertion: %s", msg);
}
