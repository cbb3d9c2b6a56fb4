/* fuzz_rx.c - libFuzzer harness: raw Ethernet frame sequences into a live weir stack.
 *
 * Input: the FZ_HDR_LEN-byte header of fuzz_host.h, then records
 *   u8 time code (fz_delta_ms: how far the clock moves before the frame)
 *   u16 big-endian frame length, then that many bytes of frame (a short last one is cut)
 * Each frame goes through the same netdev -> custom pbuf -> lwIP path as a TAP frame; anything is
 * fair game (ARP, ICMP, IPv4 fragments, UDP, TCP). A zero-length record only moves the clock.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = FZ_HDR_LEN;

	fz_begin(data, size);
	while (off + 3 <= size) {
		uint8_t dt = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];

		off += 3;
		if (len > size - off)
			len = size - off;
		fz_advance_ms(fz_delta_ms(dt));
		if (len > 0)
			fz_rx(data + off, len);
		off += len;
	}
	fz_end();
	return 0;
}
