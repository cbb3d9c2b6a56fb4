/* chksum_check.c - weir's LWIP_CHKSUM (platform/lwip/chksum.h) gives exactly what a plain
 * RFC 1071 sum of 16-bit words gives, for every length 0..2100 at every alignment 0..7, on random
 * data and on the extremes (all zero, all 0xff), for long buffers (up to 4 MiB), plus the worked
 * example of RFC 1071 §3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chksum.h"

/* The reference: 16-bit native-order words, one at a time, as lwIP's algorithm 2 computes. */
static uint16_t ref_chksum(const uint8_t *p, int len)
{
	uint64_t sum = 0; /* no overflow below 2^48 bytes */
	uint16_t w;
	int i;

	for (i = 0; i + 1 < len; i += 2) {
		memcpy(&w, p + i, 2);
		sum += w;
	}
	if (i < len) {
		uint8_t last[2] = { p[i], 0 };

		memcpy(&w, last, 2);
		sum += w;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int main(void)
{
	static uint8_t buf[2100 + 8];
	/* RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (big-endian words). */
	static const uint8_t rfc[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	uint16_t got;
	unsigned seed = 12345, bad = 0, checked = 0;

	got = weir__lwip_chksum(rfc, 8);
	if (((got & 0xff) << 8 | got >> 8) != 0xddf2 && got != 0xddf2) {
		fprintf(stderr, "RFC 1071 example: got %04x, want ddf2 (in either byte order)\n", got);
		bad++;
	}
	for (int fill = 0; fill < 3; fill++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = fill == 0 ? (uint8_t)(seed >> 16) : fill == 1 ? 0 : 0xff;
		}
		for (int off = 0; off < 8; off++)
			for (int len = 0; len <= 2100; len++) {
				uint16_t want = ref_chksum(buf + off, len);

				got = weir__lwip_chksum(buf + off, len);
				checked++;
				if (got != want && bad++ < 10)
					fprintf(stderr, "fill %d offset %d length %d: got %04x, want %04x\n",
						fill, off, len, got, want);
			}
	}
	/* Long buffers cross the vector path's 256 KiB fold; all-0xff words fill its lanes most
	 * (without the fold a lane would overflow past 2 MiB). */
	{
		size_t big = (4 << 20) + 8;
		uint8_t *b = malloc(big);
		static const int lens[] = { 262143, 262144, 262145, 262208, 524288 + 63, 4 << 20 };

		if (b == NULL) {
			fprintf(stderr, "no memory for the long-buffer check\n");
			return 1;
		}
		for (int fill = 0; fill < 2; fill++) {
			for (size_t i = 0; i < big; i++) {
				seed = seed * 1103515245u + 12345u;
				b[i] = fill == 0 ? (uint8_t)(seed >> 16) : 0xff;
			}
			for (int off = 0; off < 4; off++)
				for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
					uint16_t want = ref_chksum(b + off, lens[k]);

					got = weir__lwip_chksum(b + off, lens[k]);
					checked++;
					if (got != want && bad++ < 10)
						fprintf(stderr,
							"long fill %d offset %d length %d: got %04x, want "
							"%04x\n",
							fill, off, lens[k], got, want);
				}
		}
		free(b);
	}
	if (weir__lwip_chksum(buf, -1) != 0 || weir__lwip_chksum(buf, 0) != 0) {
		fprintf(stderr, "a length <= 0 must sum to 0\n");
		bad++;
	}
	printf("%u sums checked, %u wrong\n", checked, bad);
	return bad != 0;
}
