/* fuzz_tcp.c - libFuzzer harness: TCP segments built from the input, aimed at the listener, the
 * established flows and the connecting flow, so the fuzzer spends its time inside tcp_in.c rather
 * than rediscovering Ethernet and IPv4 checksums.
 *
 * The harness plays a peer that keeps books: for each of its connections it knows the next
 * sequence number it would send and the highest one the stack has sent (from the frames the stack
 * transmits), so an offset of 0 means "exactly in order" and "acknowledge everything". It also
 * knows the highest acknowledgement it sent (its estimate of the stack's snd_una), where the
 * stack's recent segments began, and the stack's last timestamp: enough to cook SACK blocks that
 * land on the stack's own segment boundaries (see "Recipes" below). It answers the stack's ARP
 * requests itself.
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
 * The stack only has data in flight when it echoes; the header's echo gain (fuzz_host.h) makes one
 * short segment from the peer come back as up to 128 copies: a window's worth of segments.
 *
 * Recipes: option bytes that start with RECIPE (0xa5, an unassigned option kind) are not sent as
 * they are. The harness cooks the options from them and its books, and for a segment without SYN
 * the acknowledgement number too; the payload is then capped at 1460 - 40 bytes. Recipe bytes
 * past the record's option bytes read as 0.
 *   [0]  0xa5
 *   [1]  control. Bits 0-1, the SACK option's length byte: 0 true (2 + 8n), 1 one block more than
 *        written, 2 half a block less (2 + 8n - 4), 3 no blocks (2: the blocks that follow read
 *        as options). Bit 2: a timestamp option first (TSval the peer's clock, TSecr the stack's
 *        last TSval). Bit 3: no SACK option (on a SYN: no SACK-permitted). Bits 4-5: the segment
 *        is sent 1 + this times (times 2 with bit 7 of the record's [1]). Bits 6-7: n - 1, for n
 *        SACK blocks.
 *   Without SYN:
 *   [2]  edge code of the acknowledgement, to which the record's acknowledgement offset is added
 *        (0 and 0: a duplicate ACK)
 *   [3]  n pairs of edge codes: each block's left and right edge, in the order sent
 *   With SYN: the options are MSS 1460, window scale 7, SACK-permitted (unless bit 3) and a
 *   timestamp (bit 2); the acknowledgement is as without a recipe, and no edge codes are read.
 *   Then raw option bytes, sent after the cooked ones.
 * Cooked options are cut at 40 bytes: a timestamp and 4 blocks do not fit, and the length byte
 * then says more than the header holds. Edge codes: una is the highest acknowledgement the peer
 * sent that the stack could accept, nxt the highest sequence number the stack sent plus one, and
 * the boundaries are una, the starts of the stack's recent segments inside (una, nxt) in
 * sequence order, then nxt; n is the code minus the first code of its range:
 *   0x00-0x3f  boundary n (past the last one: nxt): small codes fall on the data in flight
 *   0x40-0x7f  una + (nxt - una) * n / 64: inside the data in flight, between boundaries
 *   0x80-0x9f  boundary (n & 15), plus 1 (0x80-0x8f) or minus 1 (0x90-0x9f)
 *   0xa0-0xbf  nxt + (n + 1) * 512: beyond what the stack sent
 *   0xc0-0xdf  una - (n + 1) * 512: below the acknowledgement (D-SACK, RFC 2883)
 *   0xe0-0xef  nxt + (n + 1) * 64 KiB    0xf0-0xfe  una - (n + 1) * 64 KiB
 *   0xff       una + 2^31: neither before nor after anything
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
#define RECIPE	    0xa5 /* option bytes that start with it are a recipe (header comment) */
#define NSTARTS	    32	 /* segment starts the peer remembers per connection */
#define MAX_OPTLEN  40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct conn {
	uint16_t lport, rport; /* the stack's port, the peer's port */
	uint32_t peer_isn;
	uint32_t peer_nxt;  /* next sequence number the peer sends */
	uint32_t stack_nxt; /* highest sequence number the stack has used, plus one */
	uint32_t stack_una; /* the peer's highest acceptable ACK: the stack's snd_una, roughly */
	uint32_t stack_ts;  /* the stack's last TSval (our TSecr) */
	uint32_t starts[NSTARTS]; /* where the stack's recent segments began: a ring, no repeats */
	unsigned nstarts;	  /* how many were recorded; the next goes to nstarts % NSTARTS */
};

static struct conn conns[8];
static uint32_t peer_ms; /* the peer's clock: virtual ms since the input started */

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
		/* A and B are established with nothing in flight; C's SYN is. */
		conns[i].stack_una = conns[i].stack_nxt - (i == FZ_CONN_C ? 1 : 0);
		conns[i].stack_ts = 0;
		conns[i].nstarts = 0;
	}
	peer_ms = 0;
}

/* Connection 7 moves to the next peer port on every pure SYN. */
static void new_flood_peer(struct conn *c)
{
	c->rport++;
	c->peer_isn = 0x20000000u + ((uint32_t)c->rport << 8);
	c->peer_nxt = c->peer_isn;
	c->stack_nxt = fz_isn(c->lport, c->rport) + 1;
	c->stack_una = c->stack_nxt;
	c->nstarts = 0;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The TSval of a segment's timestamp option, if it has a well-formed one. */
static int find_tsval(const uint8_t *opt, size_t len, uint32_t *tsval)
{
	for (size_t i = 0; i < len;) {
		if (opt[i] == 0)
			return 0;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || opt[i + 1] > len - i)
			return 0;
		if (opt[i] == 8 && opt[i + 1] == 10) {
			*tsval = get32(opt + i + 2);
			return 1;
		}
		i += opt[i + 1];
	}
	return 0;
}

/* Remembers where a segment of the stack began (a retransmission repeats a start: kept once). */
static void add_start(struct conn *c, uint32_t seq)
{
	unsigned n = c->nstarts < NSTARTS ? c->nstarts : NSTARTS;

	for (unsigned i = 0; i < n; i++) {
		if (c->starts[i] == seq)
			return;
	}
	c->starts[c->nstarts++ % NSTARTS] = seq;
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
		struct conn *c = &conns[i];
		uint32_t ts;

		if (c->lport != get16(th) || c->rport != get16(th + 2))
			continue;
		/* A SYN-ACK states the stack's ISN, whatever we expected (a SYN cookie, say): a new
		 * sequence space, with the SYN itself in flight. */
		if (th[13] & TH_SYN) {
			c->stack_una = get32(th + 4);
			c->nstarts = 0;
		} else if (nxt != get32(th + 4)) {
			add_start(c, get32(th + 4));
		}
		if ((th[13] & TH_SYN) || (int32_t)(nxt - c->stack_nxt) > 0)
			c->stack_nxt = nxt;
		if (find_tsval(th + 20, thl - 20, &ts))
			c->stack_ts = ts;
	}
}

/* The boundaries of the data in flight as the peer sees it (header comment): una, the recorded
 * segment starts strictly between una and nxt in sequence order, nxt. Returns how many. */
static unsigned boundaries(const struct conn *c, uint32_t *b)
{
	uint32_t una = c->stack_una, flight = c->stack_nxt - una;
	unsigned n = 1, have = c->nstarts < NSTARTS ? c->nstarts : NSTARTS;

	b[0] = 0;
	for (unsigned i = 0; i < have; i++) {
		uint32_t o = c->starts[i] - una;
		unsigned j = n;

		if (o == 0 || o >= flight)
			continue;
		while (b[j - 1] > o) { /* insertion sort; the ring holds no repeats */
			b[j] = b[j - 1];
			j--;
		}
		b[j] = o;
		n++;
	}
	b[n++] = flight;
	for (unsigned i = 0; i < n; i++)
		b[i] += una;
	return n;
}

/* One edge code (header comment) as a sequence number. b: nb boundaries. */
static uint32_t edge(const struct conn *c, const uint32_t *b, unsigned nb, uint8_t e)
{
	uint32_t una = c->stack_una, nxt = c->stack_nxt;

	if (e < 0x40)
		return b[e < nb ? e : nb - 1];
	if (e < 0x80)
		return una + (uint32_t)((uint64_t)(nxt - una) * (e - 0x40u) / 64);
	if (e < 0xa0)
		return b[(e & 15u) < nb ? (e & 15u) : nb - 1] + ((e & 0x10) ? (uint32_t)-1 : 1u);
	if (e < 0xc0)
		return nxt + (e - 0x9fu) * 512;
	if (e < 0xe0)
		return una - (e - 0xbfu) * 512;
	if (e < 0xf0)
		return nxt + ((e & 15u) + 1) * 65536;
	if (e < 0xff)
		return una - ((e & 15u) + 1) * 65536;
	return una + 0x80000000u;
}

/* Byte i of a recipe of len bytes: past its end, 0. */
static uint8_t recipe_byte(const uint8_t *rc, size_t len, size_t i)
{
	return i < len ? rc[i] : 0;
}

/* Cooks a recipe (header comment) of rlen bytes into out (MAX_OPTLEN bytes): returns the option
 * length; *ack becomes the acknowledgement number (the recipe's edge plus ack_off) unless the
 * segment is a SYN, and *copies how many times to send it. */
static size_t cook(const struct conn *c, const uint8_t *rc, size_t rlen, uint8_t flags,
		   uint32_t ack_off, uint32_t *ack, int *copies, uint8_t *out)
{
	uint8_t o[MAX_OPTLEN + 64];
	uint32_t b[NSTARTS + 2];
	unsigned nb = boundaries(c, b);
	uint8_t ctl = recipe_byte(rc, rlen, 1);
	unsigned nblk = 1 + (ctl >> 6u), at = 2;
	size_t n = 0;

	*copies = 1 + ((ctl >> 4) & 3);
	if (flags & TH_SYN) {
		static const uint8_t syn[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };

		memcpy(o, syn, sizeof(syn));
		n = sizeof(syn);
		if (!(ctl & 0x08)) {
			memcpy(o + n, (const uint8_t[]){ 1, 1, 4, 2 }, 4);
			n += 4;
		}
	} else {
		*ack = edge(c, b, nb, recipe_byte(rc, rlen, 2)) + ack_off;
		at = 3;
	}
	if (ctl & 0x04) {
		memcpy(o + n, (const uint8_t[]){ 1, 1, 8, 10 }, 4);
		put32(o + n + 4, FZ_PEER_TSVAL + 2 + peer_ms);
		put32(o + n + 8, c->stack_ts);
		n += 12;
	}
	if (!(flags & TH_SYN) && !(ctl & 0x08)) {
		static const int len_lie[4] = { 0, 8, -4, 0 };

		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 5;
		o[n++] = (ctl & 3) == 3 ? 2 : (uint8_t)(2 + 8 * (int)nblk + len_lie[ctl & 3]);
		for (unsigned i = 0; i < nblk; i++, at += 2) {
			put32(o + n, edge(c, b, nb, recipe_byte(rc, rlen, at)));
			put32(o + n + 4, edge(c, b, nb, recipe_byte(rc, rlen, at + 1)));
			n += 8;
		}
	}
	/* The rest of the recipe follows as raw options. */
	if (at < rlen) {
		size_t raw = rlen - at < MAX_OPTLEN ? rlen - at : MAX_OPTLEN;

		memcpy(o + n, rc + at, raw);
		n += raw;
	}
	if (n > MAX_OPTLEN)
		n = MAX_OPTLEN;
	memcpy(out, o, n);
	return n;
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
		uint8_t frame[1600], cooked[MAX_OPTLEN];
		size_t optlen = r[3] % 41, optpad = (optlen + 3) & ~(size_t)3,
		       paylen = get16(r + 12);
		int32_t so = (int16_t)get16(r + 4), ao = (int16_t)get16(r + 6);
		uint32_t ack_off = (uint32_t)((r[1] & 0x10) ? ao * 65536 : ao), sent_nxt;
		uint64_t dt = fz_delta_ms(r[0]);
		size_t flen;
		int recipe, copies = (r[1] & 0x80) ? 2 : 1;

		off += REC_LEN;
		if (optlen > size - off)
			optlen = size - off;
		s.opts = data + off;
		s.optlen = optlen;
		off += optlen;
		recipe = optlen > 0 && s.opts[0] == RECIPE;
		if (recipe)
			optpad = MAX_OPTLEN; /* whatever it cooks to */
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
		s.ack = c->stack_nxt + ack_off;
		s.flags = r[2];
		s.wnd = get16(r + 8);
		s.urp = get16(r + 10);
		s.doff_raw = r[14] & 15;
		s.bad_csum = (r[1] & 0x20) != 0;
		/* A SYN starts the peer's sequence space afresh from its ISN. */
		if ((s.flags & (TH_SYN | TH_ACK)) == TH_SYN && so == 0 && !(r[1] & 0x08))
			s.seq = c->peer_isn;

		fz_advance_ms(dt);
		peer_ms += (uint32_t)dt;
		/* A recipe reads the books as they are now, after the clock moved (retransmissions,
		 * say); the raw acknowledgement above keeps the meaning it always had. */
		if (recipe) {
			int reps;

			s.optlen = cook(c, s.opts, optlen, s.flags, ack_off, &s.ack, &reps, cooked);
			s.opts = cooked;
			copies *= reps;
		}
		sent_nxt = c->stack_nxt;
		flen = fz_build_tcp(frame, &s);
		for (int n = 0; n < copies; n++) {
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
		/* An acceptable ACK that moves snd_una (as far as the peer can tell: the stack may
		 * still have dropped the segment for its sequence number) moves the books' una. */
		if ((s.flags & TH_ACK) && !(s.flags & TH_RST) && !s.bad_csum && s.doff_raw == 0 &&
		    (int32_t)(s.ack - c->stack_una) > 0 && (int32_t)(sent_nxt - s.ack) >= 0)
			c->stack_una = s.ack;
	}
	fz_end();
	return 0;
}
