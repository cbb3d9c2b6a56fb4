/* fuzz_tcp.c - libFuzzer harness: TCP segments built from the input, aimed at the listener, the
 * established flows and the connecting flow, so the fuzzer spends its time inside tcp_in.c rather
 * than rediscovering Ethernet and IPv4 checksums.
 *
 * The harness plays a peer that keeps books: for each of its connections it knows the next
 * sequence number it would send and the highest one the stack has sent (from the frames the stack
 * transmits), so an offset of 0 means "exactly in order" and "acknowledge everything". It answers
 * the stack's ARP requests itself.
 *
 * Input: the FZ_HDR_LEN-byte header of fuzz_host.h, then records of REC_LEN bytes
 *   [0]  time code (fz_delta_ms)
 *   [1]  bits 0-2 connection (see conns[] below; 7 is a fresh peer port for every pure SYN,
 *        so a flood can outrun the listener's backlog); bit 3: seq offset counts 64 KiB units;
 *        bit 4: ack offset counts 64 KiB units; bit 5: corrupt the TCP checksum;
 *        bit 6: send as two IPv4 fragments; bit 7: send twice
 *   [2]  TCP flags
 *   [3]  option bytes (mod 41; they follow the record, padded with EOL to a multiple of 4)
 *   [4]  s16 BE sequence offset from the peer's next sequence number
 *   [6]  s16 BE acknowledgement offset from the stack's highest sequence number sent
 *   [8]  u16 BE window      [10] u16 BE urgent pointer
 *   [12] u16 BE payload length (capped at what fits and what is left; bytes follow the options)
 *   [14] bits 0-3: raw data offset (0: computed); bits 4-6: first fragment carries (n+1)*8 bytes;
 *        bit 7: fragments in reverse order
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_host.h"

#define REC_LEN	    15
#define TH_FIN	    0x01
#define TH_SYN	    0x02
#define TH_RST	    0x04
#define TH_ACK	    0x10
#define FLOOD	    7
#define FLOOD_PORT0 51000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct conn {
	uint16_t lport, rport; /* the stack's port, the peer's port */
	uint32_t peer_isn;
	uint32_t peer_nxt;  /* next sequence number the peer sends */
	uint32_t stack_nxt; /* highest sequence number the stack has used, plus one */
};

static struct conn conns[8];

static void conns_reset(void)
{
	static const struct {
		uint16_t lport, rport;
		uint32_t isn;
		int synced; /* the set-up handshake already consumed the peer's SYN */
	} init[8] = {
		{ FZ_PORT_A_LOCAL, FZ_PORT_A_REMOTE, FZ_PEER_ISN_A, 1 },
		{ FZ_PORT_LISTEN, FZ_PORT_B_REMOTE, FZ_PEER_ISN_B, 1 },
		{ FZ_PORT_C_LOCAL, FZ_PORT_C_REMOTE, 0x0c000000u, 0 },
		{ FZ_PORT_LISTEN, 50001, 0x0d000000u, 0 }, /* new connections to the listener */
		{ FZ_PORT_LISTEN, 50002, 0x0e000000u, 0 },
		{ FZ_PORT_LISTEN, 50003, 0x7ffffff0u, 0 }, /* sequence space wraps soon */
		{ 81, 50010, 0x10000000u, 0 },		   /* a closed port */
		{ FZ_PORT_LISTEN, FLOOD_PORT0, 0, 0 },	   /* fresh peers (new_flood_peer) */
	};

	for (int i = 0; i < 8; i++) {
		conns[i].lport = init[i].lport;
		conns[i].rport = init[i].rport;
		conns[i].peer_isn = init[i].isn;
		conns[i].peer_nxt = init[i].isn + (uint32_t)init[i].synced;
		/* The stack's ISN is a known function of the ports (fuzz_host.h); its own SYN
		 * (A, C) carries ISN - 1. */
		conns[i].stack_nxt = fz_isn(init[i].lport, init[i].rport) +
				     (i == FZ_CONN_A || i == FZ_CONN_C ? 0 : 1);
	}
}

/* Connection 7 moves to the next peer port on every pure SYN. */
static void new_flood_peer(struct conn *c)
{
	c->rport++;
	c->peer_isn = 0x20000000u + ((uint32_t)c->rport << 8);
	c->peer_nxt = c->peer_isn;
	c->stack_nxt = fz_isn(c->lport, c->rport) + 1;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The peer's ears: track what the stack sent, answer ARP. */
static void on_tx(const uint8_t *fr, size_t len)
{
	/* fz_host checked the frame: headers and lengths are consistent. */
	WEIR_UNUSED(len);
	if (get16(fr + 12) == 0x0806) {
		if (get16(fr + 20) == 1 && get32(fr + 38) == FZ_PEER_IP) {
			uint8_t r[64];

			fz_queue(r, fz_build_arp(r, 2, fz_peer_mac, FZ_PEER_IP, fz_stack_mac,
						 FZ_STACK_IP));
		}
		return;
	}
	const uint8_t *ip = fr + 14;
	size_t hl = (size_t)(ip[0] & 15) * 4, tot = get16(ip + 2);

	if (ip[9] != 6 || (get16(ip + 6) & 0x3fff) != 0)
		return;
	const uint8_t *th = ip + hl;
	size_t thl = (size_t)(th[12] >> 4) * 4;
	uint32_t nxt = get32(th + 4) + (uint32_t)(tot - hl - thl) + ((th[13] & TH_SYN) != 0) +
		       ((th[13] & TH_FIN) != 0);

	for (int i = 0; i < 8; i++) {
		if (conns[i].lport != get16(th) || conns[i].rport != get16(th + 2))
			continue;
		/* A SYN-ACK states the stack's ISN, whatever we expected (a SYN cookie, say). */
		if ((th[13] & TH_SYN) || (int32_t)(nxt - conns[i].stack_nxt) > 0)
			conns[i].stack_nxt = nxt;
	}
}

static uint16_t csum_ip(const uint8_t *ip)
{
	return fz_csum(ip, 20, 0);
}

/* Sends frame (an IPv4 packet with a 20-byte header) as two fragments. */
static void send_fragments(const uint8_t *frame, size_t len, size_t first, int reverse)
{
	uint8_t a[1600], b[1600];
	size_t plen = len - 34, alen, blen;

	if (first >= plen) {
		fz_rx(frame, len);
		return;
	}
	memcpy(a, frame, 34 + first);
	memcpy(b, frame, 34);
	memcpy(b + 34, frame + 34 + first, plen - first);
	alen = 34 + first;
	blen = 34 + plen - first;
	a[16] = (uint8_t)((alen - 14) >> 8);
	a[17] = (uint8_t)(alen - 14);
	a[20] = 0x20; /* MF, offset 0 */
	a[21] = 0;
	b[16] = (uint8_t)((blen - 14) >> 8);
	b[17] = (uint8_t)(blen - 14);
	b[20] = (uint8_t)((first / 8) >> 8);
	b[21] = (uint8_t)(first / 8);
	a[24] = a[25] = b[24] = b[25] = 0;
	{
		uint16_t ca = csum_ip(a + 14), cb = csum_ip(b + 14);

		a[24] = (uint8_t)(ca >> 8);
		a[25] = (uint8_t)ca;
		b[24] = (uint8_t)(cb >> 8);
		b[25] = (uint8_t)cb;
	}
	fz_rx(reverse ? b : a, reverse ? blen : alen);
	fz_rx(reverse ? a : b, reverse ? alen : blen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = FZ_HDR_LEN;

	fz_begin(data, size);
	conns_reset();
	fz_set_tx_hook(on_tx);
	while (off + REC_LEN <= size) {
		const uint8_t *r = data + off;
		struct conn *c = &conns[r[1] & 7];
		struct fz_tcp_seg s = { 0 };
		uint8_t frame[1600];
		size_t optlen = r[3] % 41, optpad = (optlen + 3) & ~(size_t)3,
		       paylen = get16(r + 12);
		int32_t so = (int16_t)get16(r + 4), ao = (int16_t)get16(r + 6);
		size_t flen;

		off += REC_LEN;
		if (optlen > size - off)
			optlen = size - off;
		s.opts = data + off;
		s.optlen = optlen;
		off += optlen;
		if (paylen > 1460 - optpad)
			paylen = 1460 - optpad;
		if (paylen > size - off)
			paylen = size - off;
		s.payload = data + off;
		s.paylen = paylen;
		off += paylen;

		if (c == &conns[FLOOD] && (r[2] & (TH_SYN | TH_ACK)) == TH_SYN)
			new_flood_peer(c);
		s.sport = c->rport;
		s.dport = c->lport;
		s.seq = c->peer_nxt + (uint32_t)((r[1] & 0x08) ? so * 65536 : so);
		s.ack = c->stack_nxt + (uint32_t)((r[1] & 0x10) ? ao * 65536 : ao);
		s.flags = r[2];
		s.wnd = get16(r + 8);
		s.urp = get16(r + 10);
		s.doff_raw = r[14] & 15;
		s.bad_csum = (r[1] & 0x20) != 0;
		/* A SYN starts the peer's sequence space afresh from its ISN. */
		if ((s.flags & (TH_SYN | TH_ACK)) == TH_SYN && so == 0 && !(r[1] & 0x08))
			s.seq = c->peer_isn;

		fz_advance_ms(fz_delta_ms(r[0]));
		flen = fz_build_tcp(frame, &s);
		for (int n = 0; n < ((r[1] & 0x80) ? 2 : 1); n++) {
			if (r[1] & 0x40)
				send_fragments(frame, flen, (size_t)(((r[14] >> 4) & 7) + 1) * 8,
					       (r[14] & 0x80) != 0);
			else
				fz_rx(frame, flen);
		}
		/* In order and not corrupted: the peer's next sequence number moves on. */
		if (s.seq == c->peer_nxt || (s.flags & TH_SYN)) {
			if (!s.bad_csum && !(s.flags & TH_RST) && s.doff_raw == 0)
				c->peer_nxt = s.seq + (uint32_t)paylen + ((s.flags & TH_SYN) != 0) +
					      ((s.flags & TH_FIN) != 0);
		}
	}
	fz_end();
	return 0;
}
