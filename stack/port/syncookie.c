/* syncookie.c - the keyed hash behind lwIP's SYN cookies (LWIP_HOOK_TCP_SYNCOOKIE, patch 0010). */
#include <string.h>

#include "lwip/ip_addr.h"

#include <weir/clock.h>

#include "weir_lwip_hooks.h"

static WEIR_PER_SHARD uint8_t cookie_key[16];
static WEIR_PER_SHARD int cookie_key_ready;

u32_t weir__lwip_syncookie_hash(const ip_addr_t *local_ip, u16_t local_port,
				const ip_addr_t *remote_ip, u16_t remote_port, u32_t peer_isn,
				u32_t slot_mss)
{
	uint8_t msg[20];

	/* Drawn on first use, kept for the process: a cookie must validate across 2 time slots.
	 * Without an entropy source the key stays zero-based but mixed with the clock, which only
	 * makes cookies guessable, never wrong. */
	if (!cookie_key_ready) {
		if (weir_entropy_fill(cookie_key, sizeof(cookie_key)) != 0) {
			uint64_t t = weir_clock_now_ns();

			memcpy(cookie_key, &t, sizeof(t));
		}
		cookie_key_ready = 1;
	}
	memcpy(msg, &ip_2_ip4(local_ip)->addr, 4);
	memcpy(msg + 4, &ip_2_ip4(remote_ip)->addr, 4);
	memcpy(msg + 8, &local_port, 2);
	memcpy(msg + 10, &remote_port, 2);
	memcpy(msg + 12, &peer_isn, 4);
	memcpy(msg + 16, &slot_mss, 4);
	return (u32_t)weir_siphash24(cookie_key, msg, sizeof(msg));
}
