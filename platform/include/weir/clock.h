/* clock.h - the monotonic clock and entropy the platform must provide.
 *
 * Hosted Linux: CLOCK_MONOTONIC and getrandom(). A bare-metal image links its own definitions of
 * weir_clock_now_ns() and weir_entropy_fill().
 */
#ifndef WEIR_CLOCK_H
#define WEIR_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define WEIR_NS_PER_MS UINT64_C(1000000)
#define WEIR_NS_PER_S  UINT64_C(1000000000)
/* A deadline that never comes. */
#define WEIR_DEADLINE_NEVER UINT64_MAX

/* Time limits: the one convention of weir's API.
 *  - A parameter named deadline_ns, and every call named *_until, takes an instant on
 *    weir_clock_now_ns(); WEIR_DEADLINE_NEVER means none.
 *  - A parameter or field named *timeout_ns takes a duration from the call's start: 0 means the
 *    call's default, WEIR_TIMEOUT_NEVER means no limit (the call waits as long as the network
 *    does, or until its fiber is cancelled).
 * The defaults, each the one of the seed the call follows (docs/seed-map.md):
 *    weir_tcp_connect                  none: lwIP gives up after its SYN retransmissions, about
 *                                      two minutes, like Linux (Eio's connect has no timeout)
 *    weir_tcp_connect_host             5 s per address (Tezos's Socket.connect)
 *    weir_with_connection              10 s per address (Async's with_connection)
 *    weir_resolve, weir_getnameinfo    5 s (DNS over UDP needs a bound; Eio's has none)
 *    weir_flow_read_exact, weir_msg_recv, weir_flow_handshake, weir_udp_recv_from,
 *    weir_udp_recv                     none
 *    weir_server_opts.drain_timeout_ns none: handlers finish (Eio's run_server)
 * A timeout given is honoured exactly: it never reaches past WEIR_DEADLINE_NEVER. */
#define WEIR_TIMEOUT_NEVER UINT64_MAX

/* The deadline timeout_ns after now, by the convention above (default_ns for 0, itself maybe
 * WEIR_TIMEOUT_NEVER); WEIR_DEADLINE_NEVER for no limit. */
static inline uint64_t weir_deadline_after(uint64_t now, uint64_t timeout_ns, uint64_t default_ns)
{
	uint64_t t = timeout_ns != 0 ? timeout_ns : default_ns;

	return t >= WEIR_DEADLINE_NEVER - now ? WEIR_DEADLINE_NEVER : now + t;
}

/* Monotonic time in nanoseconds since an arbitrary origin; never goes backwards. */
uint64_t weir_clock_now_ns(void);

/* Fills buf with len bytes of unpredictable data (hosted: getrandom). Returns 0 or WEIR_EIO. */
int weir_entropy_fill(void *buf, size_t len);

/* Identifies the calling thread (hosted: pthread_self; bare metal: a constant). Used to assert
 * that lwIP is only entered from the loop's thread. */
uintptr_t weir_thread_id(void);

/* A small, fast, seedable generator (xoshiro256**) for everything that must be reproducible from
 * a seed (impairments, tests) or just cheap (lwIP's LWIP_RAND). Not for secrets. */
struct weir_prng {
	uint64_t s[4];
};
void weir_prng_seed(struct weir_prng *rng, uint64_t seed);
uint64_t weir_prng_next(struct weir_prng *rng);
/* Returns a uniformly distributed double in [0, 1). */
double weir_prng_unit(struct weir_prng *rng);

/* SipHash-2-4 of data under a 128-bit key: a keyed hash for RFC 6528 ISNs and similar. */
uint64_t weir_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif /* WEIR_CLOCK_H */
