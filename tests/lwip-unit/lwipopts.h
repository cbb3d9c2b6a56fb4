/* lwipopts.h - the test twin of our lwIP profile, for lwIP's own test/unit suites.
 *
 * It starts from the lwipopts.h that tools/genconfig.py generated for this build (hosted_defconfig
 * unless WEIR_CONFIG says otherwise), so every feature switch is the one production uses: NO_SYS,
 * window scaling, SACK, timestamps, keepalive, SO_REUSE, listen backlog, the OOSEQ queue, custom
 * pbufs, per-netif checksum control, MSS, send buffer and queue lengths, our hooks. Below it are
 * only the overrides lwIP's tests need, each with the reason. Two variants add a little more (at
 * the end): WEIR_LWIP_UNIT_HEAP for the mem and pbuf suites, WEIR_LWIP_UNIT_OOSEQ_UNLIMITED for
 * the tcp_oos tests that need the out-of-order queue without limits.
 */
#ifndef WEIR_LWIP_UNIT_LWIPOPTS_H
#define WEIR_LWIP_UNIT_LWIPOPTS_H

/* The generated profile, by absolute path (CMake passes it): this file shadows its name. */
#include WEIR_LWIP_UNIT_PROFILE

/* The suites rely on lwIP's assertions. lwIP's debug.h tests "#ifndef LWIP_NOASSERT", so any
 * definition, even 0, turns every LWIP_ASSERT off (genconfig.py emitted "0" before ff8f55d):
 * make sure, whatever the profile says. */
#undef LWIP_NOASSERT

/* Unit-test hooks in lwIP itself: sys_timeouts_get_next_timeout() and a non-static
 * lwip_cyclic_timer() (timers suite). No behaviour changes. */
#undef LWIP_TESTMODE
#define LWIP_TESTMODE 1

/* lwIP's self-check that the checksum it carries with copied data (LWIP_CHECKSUM_ON_COPY, which
 * the profile enables) equals a fresh one; a mismatch is an assertion, so a test fails. */
#undef TCP_CHECKSUM_ON_COPY_SANITY_CHECK
#define TCP_CHECKSUM_ON_COPY_SANITY_CHECK 1
#undef TCP_CHECKSUM_ON_COPY_SANITY_CHECK_FAIL
#define TCP_CHECKSUM_ON_COPY_SANITY_CHECK_FAIL(msg) LWIP_ASSERT("checksum-on-copy mismatch", 0)

/* The suites steer the initial sequence number through tcp_ticks, which only lwIP's built-in
 * tcp_next_iss() follows (e.g. test_tcp_rto_rexmit_wraparound places it just below the 2^32
 * wrap). Our RFC 6528 ISN hook is platform glue and is tested by weir's own unit tests. */
#undef LWIP_HOOK_TCP_ISN

/* Every suite checks for leaks with lwip_stats.mem.used, and MEM_STATS exists only for lwIP's
 * own heap: the profile's MEM_LIBC_MALLOC=1 must go. The heap must hold the profile's 2 MiB send
 * buffer: test_tcp_fast_retx_recover fills it (2.2 MB at its peak). */
#undef MEM_LIBC_MALLOC
#define MEM_LIBC_MALLOC 0
#undef MEM_STATS
#define MEM_STATS 1
#undef MEM_SIZE
#define MEM_SIZE (4 * 1024 * 1024)

/* The profile's pools grow from the heap (MEMP_MEM_MALLOC): the suites' leak checks count the
 * heap and expect lwIP's cyclic timers, which hold pool items for good, outside it. Static pools
 * here; the pcb hash and run-time limits (TCP_PCB_HASH, stack/patches/0015) stay on. */
#undef MEMP_MEM_MALLOC
#define MEMP_MEM_MALLOC 0

/* Static pools and lwIP's heap are shared by every thread, so the profile's one lwIP per thread
 * (LWIP_PER_THREAD_STATE, stack/patches/0024) goes too: the suites run in one thread, and the
 * per-thread state has a test of its own (tests/unit/stack/test_shards.c). */
#undef LWIP_PER_THREAD_STATE
#define LWIP_PER_THREAD_STATE 0

/* The suites build their input segments and datagrams from PBUF_POOL; the profile has no pool
 * (our drivers bring their own buffers as custom pbufs). 400 is what upstream's test config uses;
 * the buffer size stays the profile's default (one MSS-sized frame). */
#undef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE 400

/* tcp_helper.c passes windows as u16_t: the profile's 1 MiB TCP_WND would arrive as 0. 40 MSS is
 * the largest round figure below 0xFFFF; the profile's send buffer (2 MiB) stays above it, as
 * test_tcp.c requires. The OOSEQ byte limit follows the profile's rule "one window". */
#undef TCP_WND
#define TCP_WND (40 * TCP_MSS)
#undef TCP_OOSEQ_MAX_BYTES
#define TCP_OOSEQ_MAX_BYTES TCP_WND

/* The retransmission tests count calls to tcp_tmr() in lwIP's default 250 ms ticks; the profile's
 * 20 ms (finer RTO timing for a fast LAN) would make them count 12 times too few. */
#undef TCP_TMR_INTERVAL
#define TCP_TMR_INTERVAL 250

/* test_tcp_rto_rexmit_wraparound counts 11 tcp_tmr() calls to the first retransmission: lwIP's
 * original 3 s initial RTO (RFC 2988). stack/patches/0011 makes it 1 s (RFC 6298) for weir and
 * lets a build choose; the suites get the value they were written for. */
#define TCP_INITIAL_RTO_MS 3000

/* Features the suites test or need to compile (#error in the suite otherwise), off in the
 * profile: IPv4 reassembly results through MIB2 counters (ip4), the netif status callback
 * (netif), static ARP entries (etharp), and a loopback netif: the ip4 suite feeds "any netif" from
 * netif_list and drains its loop queue, the udp suite uses it when present. */
#undef MIB2_STATS
#define MIB2_STATS 1
#undef LWIP_NETIF_EXT_STATUS_CALLBACK
#define LWIP_NETIF_EXT_STATUS_CALLBACK 1
#undef ETHARP_SUPPORT_STATIC_ENTRIES
#define ETHARP_SUPPORT_STATIC_ENTRIES 1
#undef LWIP_HAVE_LOOPIF
#define LWIP_HAVE_LOOPIF 1

/* The timers suite adds its own timeouts next to lwIP's cyclic ones. */
#undef MEMP_NUM_SYS_TIMEOUT
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)

#if WEIR_LWIP_UNIT_HEAP
/* The mem and pbuf suites refuse LWIP_DNS (#error: "DNS mallocs on init", which their exact heap
 * accounting would see). DNS is an application module; no other suite runs in this variant. */
#undef LWIP_DNS
#define LWIP_DNS 0
/* The mem suite frees bad pointers on purpose and checks lwip_stats.mem.illegal instead of
 * lwIP's default reaction, an assertion. */
#undef LWIP_MEM_ILLEGAL_FREE
#define LWIP_MEM_ILLEGAL_FREE(msg)
/* The pbuf suite's chain-edge tests allocate 1024 bytes from PBUF_POOL and need a chain of two
 * buffers (upstream's tests run with TCP_MSS 536). The pool exists only for the tests (the profile
 * has none), so its buffer size is ours to pick: what lwIP computes for an MSS of 536. */
#undef PBUF_POOL_BUFSIZE
#define PBUF_POOL_BUFSIZE                                                                          \
	LWIP_MEM_ALIGN_SIZE(536 + PBUF_IP_HLEN + PBUF_TRANSPORT_HLEN +                             \
			    PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)
#endif

#if WEIR_LWIP_UNIT_OOSEQ_UNLIMITED
/* tcp_oos's two receive-window overrun tests (out-of-order data beyond the window must be trimmed,
 * one of the bug classes issue 8 names) run only with no OOSEQ limits; the profile has both
 * limits, which change what the queue may hold but not the trimming code. This variant runs the
 * tcp_oos suite again with the limits off. */
#undef TCP_OOSEQ_MAX_BYTES
#define TCP_OOSEQ_MAX_BYTES 0
#undef TCP_OOSEQ_MAX_PBUFS
#define TCP_OOSEQ_MAX_PBUFS 0
#endif

#endif /* WEIR_LWIP_UNIT_LWIPOPTS_H */
