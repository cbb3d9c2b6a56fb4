/* chksum.h - weir's LWIP_CHKSUM: the Internet checksum (RFC 1071) eight bytes at a time.
 *
 * lwIP's default (LWIP_CHKSUM_ALGORITHM 2) adds one 16-bit word per iteration. This adds 64-bit
 * words with end-around carry, four per iteration, which is the same one's-complement sum:
 * 2^16 = 1 (mod 0xffff), so folding the 64-bit sum down to 16 bits gives what adding 16-bit
 * words gives (RFC 1071 §2(B), "byte order independence" and "parallel summation"). The words
 * are native loads, as lwIP's are, so the result has lwIP's contract: the non-inverted sum in
 * the byte order of the data, for any alignment (unaligned loads go through memcpy, which is
 * one instruction where the CPU allows it). Only <stdint.h>/<stddef.h> types: arch/cc.h includes
 * this before lwIP's typedefs.
 */
#ifndef WEIR_LWIP_CHKSUM_H
#define WEIR_LWIP_CHKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t weir__csum_add64(uint64_t acc, uint64_t v)
{
	acc += v;
	return acc + (acc < v); /* end-around carry */
}

static inline uint16_t weir__lwip_chksum(const void *data, int len)
{
	const uint8_t *p = (const uint8_t *)data;
	uint64_t acc = 0, w[4];
	size_t n = len > 0 ? (size_t)len : 0;
	uint32_t t32;
	uint16_t t16;

	while (n >= 32) {
		memcpy(w, p, 32);
		acc = weir__csum_add64(acc, w[0]);
		acc = weir__csum_add64(acc, w[1]);
		acc = weir__csum_add64(acc, w[2]);
		acc = weir__csum_add64(acc, w[3]);
		p += 32;
		n -= 32;
	}
	while (n >= 8) {
		memcpy(w, p, 8);
		acc = weir__csum_add64(acc, w[0]);
		p += 8;
		n -= 8;
	}
	if (n >= 4) {
		memcpy(&t32, p, 4);
		acc = weir__csum_add64(acc, t32);
		p += 4;
		n -= 4;
	}
	if (n >= 2) {
		memcpy(&t16, p, 2);
		acc = weir__csum_add64(acc, t16);
		p += 2;
		n -= 2;
	}
	if (n == 1) {
		/* The last byte is the first byte of a zero-padded word, in memory order. */
		uint8_t last[2] = { p[0], 0 };

		memcpy(&t16, last, 2);
		acc = weir__csum_add64(acc, t16);
	}
	/* Fold 64 -> 32 -> 16 bits, each with end-around carry. */
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffffu) + (acc >> 16);
	acc = (acc & 0xffffu) + (acc >> 16);
	return (uint16_t)acc;
}

#endif /* WEIR_LWIP_CHKSUM_H */
