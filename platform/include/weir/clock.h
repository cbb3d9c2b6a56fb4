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
