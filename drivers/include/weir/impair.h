/* impair.h - loss, reordering, duplication, corruption and delay on any netdev, both directions,
 * seeded and counted: a weir host that is a lossy peer for the Linux program under test, over
 * TAP or any other device (netem for a userspace stack).
 *
 * The wrapper sits between the stack and the device. Each direction has its own generator,
 * seeded from `seed`, and draws for every frame, in this order: loss, corrupt, duplicate,
 * reorder (five weir_prng_unit() draws with one spare, then one weir_prng_next() for a corrupted
 * byte's position and its never-zero flip mask). A lost frame gets nothing else. A reordered
 * frame is held and goes after the next frame of its direction (or after 1 ms with none). A
 * duplicate goes twice. Every frame is delayed by delay_ns. The same seed and the same frames
 * give the same impairments.
 *
 * Offloads: the wrapper reports none on transmit, so the stack sends wire-sized frames with
 * complete checksums (a lost TSO super-frame would be 44 segments at once, a corrupted one
 * undetectable); a received frame it corrupts loses its checksum-verified flag, so the stack
 * checks it and drops it, as a NIC would. Frames the device coalesced on receive (TAP with
 * offload=1) are impaired whole: use offload=0 on the device for per-segment rates.
 *
 * Held and delayed frames are copies (at most WEIR_IMPAIR_HOLD_MAX per direction; past that
 * transmit pushes back and receive leaves frames in the device). Hosted and bare metal alike.
 */
#ifndef WEIR_IMPAIR_H
#define WEIR_IMPAIR_H

#include <stdint.h>

#include <weir/netdev.h>

#define WEIR_IMPAIR_HOLD_MAX 4096

struct weir_impair_config {
	double loss;	   /* probability a frame is dropped, in [0, 1], each direction */
	double reorder;	   /* probability a frame is held back and sent after the next one */
	double duplicate;  /* probability a frame is sent twice */
	double corrupt;	   /* probability one byte of the frame is flipped */
	uint64_t delay_ns; /* every frame, each direction (at most 10 s) */
	uint64_t seed;
};

/* Parses "loss=0.01,reorder=0.01,dup=0.005,corrupt=0.0005,delay=5ms,seed=N" (any subset, any
 * order; rates as fractions in [0,1] or percentages like "1%"; delay in ns, us, ms or s; "dup" or
 * "duplicate"). Returns 0, or WEIR_EINVAL with *why (may be NULL) pointing at what is wrong. */
int weir_impair_parse(const char *spec, struct weir_impair_config *out, const char **why);

/* Wraps inner. On success the wrapper owns inner (closing it closes inner). Returns 0 and sets
 * *out, or WEIR_EINVAL (NULL, a rate outside [0,1] or NaN, delay over 10 s), WEIR_ENOMEM. */
int weir_impair_wrap(struct weir_netdev *inner, const struct weir_impair_config *cfg,
		     struct weir_netdev **out);

/* Decisions taken per direction ([0]: transmit, frames the stack sent; [1]: receive). */
struct weir_impair_stats {
	uint64_t frames[2], dropped[2], corrupted[2], duplicated[2], reordered[2], delayed[2];
};
/* Fills *out for a device from weir_impair_wrap. Returns 0 or WEIR_EINVAL (NULL, another
 * driver's device). */
int weir_impair_get_stats(const struct weir_netdev *dev, struct weir_impair_stats *out);

#endif /* WEIR_IMPAIR_H */
