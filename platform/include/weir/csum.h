/* csum.h - the Internet checksum (RFC 1071), 64 bytes per step where the CPU allows.
 *
 * Used by the stack (as lwIP's LWIP_CHKSUM) and by drivers that finish a checksum a device left
 * undone (TAP offload). Header-only and self-contained (<stdint.h>, <stddef.h>, <string.h>), so
 * any layer and lwIP's arch/cc.h can include it.
 *
 * lwIP's default (LWIP_CHKSUM_ALGORITHM 2) adds one 16-bit word per iteration. This adds 64 bytes
 * per iteration in 128-bit vectors where the CPU has them (SSE2, NEON), then 64-bit words with
 * end-around carry, four per iteration; both give the same one's-complement sum:
 * 2^16 = 1 (mod 0xffff), so folding the 64-bit sum down to 16 bits gives what adding 16-bit
 * words gives (RFC 1071 §2(B), "byte order independence" and "parallel summation"). The words
 * are native loads, as lwIP's are, so the result has lwIP's contract: the non-inverted sum in
 * the byte order of the data, for any alignment (unaligned loads go through memcpy, which is
 * one instruction where the CPU allows it).
 */
#ifndef WEIR_CSUM_H
#define WEIR_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t weir__csum_add64(uint64_t acc, uint64_t v)
{
	acc += v;
	return acc + (acc < v); /* end-around carry */
}

#if defined(__SSE2__) || defined(__ARM_NEON)
typedef uint32_t weir__csum_v4 __attribute__((vector_size(16)));

/* 64 bytes per step where the CPU has 128-bit vectors: each 32-bit lane adds the two 16-bit
 * words it holds separately (lane & 0xffff, lane >> 16), so no carry is lost. Blocks of at most
 * 256 KiB keep every lane below 2^32 (4096 steps x 2 x 0xffff). Returns the bytes consumed. */
static inline size_t weir__csum_vec(const uint8_t *p, size_t n, uint64_t *acc)
{
	size_t done = 0;

	while (n - done >= 64) {
		weir__csum_v4 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, w0, w1, w2, w3;
		size_t end = done + ((n - done) < (256u << 10) ? (n - done) : (256u << 10));

		for (; end - done >= 64; done += 64) {
			memcpy(&w0, p + done, 16);
			memcpy(&w1, p + done + 16, 16);
			memcpy(&w2, p + done + 32, 16);
			memcpy(&w3, p + done + 48, 16);
			a += w0 & 0xffff;
			b += w0 >> 16;
			c += w1 & 0xffff;
			d += w1 >> 16;
			a += w2 & 0xffff;
			b += w2 >> 16;
			c += w3 & 0xffff;
			d += w3 >> 16;
		}
		for (int i = 0; i < 4; i++)
			*acc = weir__csum_add64(*acc, (uint64_t)a[i] + b[i] + c[i] + d[i]);
	}
	return done;
}
#endif

/* The one's-complement sum of the len bytes at data (any alignment), folded to 16 bits and not
 * inverted, in the byte order of the data: store ~weir_csum(...) into a header as it is. */
static inline uint16_t weir_csum(const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *)data;
	uint64_t acc = 0, w[4];
	size_t n = len;
	uint32_t t32;
	uint16_t t16;

#if defined(__SSE2__) || defined(__ARM_NEON)
	{
		size_t done = weir__csum_vec(p, n, &acc);

		p += done;
		n -= done;
	}
#endif
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

#endif /* WEIR_CSUM_H */
