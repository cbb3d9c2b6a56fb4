/* fuzz_host.h - the world every weir fuzz harness runs in: a virtual clock, deterministic ISNs, an
 * in-memory NIC, and a real weir stack with a listener, established flows and a connecting flow.
 *
 * One input is one life of the stack: fz_begin() brings it up and plays the peer's side of the
 * set-up handshakes, the harness feeds frames (fz_rx) and advances time (fz_advance), and fz_end()
 * tears everything down and checks that nothing leaked (pools, frames, flows, fibers). A broken
 * invariant is reported with fz_fatal(), which aborts so libFuzzer records the input as a crash.
 *
 * The addresses, ports and initial sequence numbers below are the contract with gen_corpus.py:
 * change them together.
 */
#ifndef WEIR_FUZZ_HOST_H
#define WEIR_FUZZ_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <weir/compiler.h>

/* The peer (Linux's role in the integration tests) and the stack, on 192.0.2.0/24. */
#define FZ_PEER_IP  0xc0000201u /* 192.0.2.1, host order */
#define FZ_STACK_IP 0xc0000202u /* 192.0.2.2 */
extern const uint8_t fz_peer_mac[6], fz_stack_mac[6];

/* Connections made during set-up (ports are host order). */
enum fz_conn {
	FZ_CONN_A = 0, /* the stack connected to the peer: established, client side */
	FZ_CONN_B = 1, /* the peer connected to the listener: established, server side */
	FZ_CONN_C = 2, /* the stack connecting to the peer: SYN sent, never answered */
	FZ_NCONN_SETUP = 3,
};
#define FZ_PORT_A_LOCAL	 40000
#define FZ_PORT_A_REMOTE 7
#define FZ_PORT_B_REMOTE 50000
#define FZ_PORT_LISTEN	 80 /* the echo listener (backlog FZ_BACKLOG) */
#define FZ_PORT_C_LOCAL	 40001
#define FZ_PORT_C_REMOTE 9
#define FZ_PORT_UDP_ECHO 7 /* a UDP echo socket */
#define FZ_BACKLOG	 4
/* The peer's initial sequence numbers for A and B. */
#define FZ_PEER_ISN_A 0x0a000000u
#define FZ_PEER_ISN_B 0x0b000000u
/* The peer's timestamp value in the set-up handshakes. */
#define FZ_PEER_TSVAL 0x00001000u

/* The stack's ISN for a connection (the harness overrides lwIP's RFC 6528 hook so that a corpus
 * can carry valid acknowledgement numbers): isn_base + (local_port << 16) + remote_port. lwIP 2.1.3
 * puts it on the SYN-ACK of a passive open as is, but sends an active open's SYN with ISN - 1
 * (tcp_connect sets snd_lbb = iss - 1 and the SYN takes snd_lbb). */
uint32_t fz_isn(uint16_t local_port, uint16_t remote_port);

/* Every input starts with this header. */
#define FZ_HDR_LEN 8
/* config bits (byte 4 of the header) */
enum fz_config {
	FZ_CFG_KEEPALIVE = 1 << 0,    /* flows: keepalive after 5 s, every 1 s, 3 probes */
	FZ_CFG_USER_TIMEOUT = 1 << 1, /* flows: RFC 5482 user timeout 3 s */
	FZ_CFG_NODELAY = 1 << 2,      /* flows: Nagle off */
	FZ_CFG_MAXCONN = 1 << 3,      /* listener: max_connections 1 (B holds it) */
	FZ_CFG_HALFCLOSE = 1 << 4,    /* echo handlers shut down writing after the first read */
	FZ_CFG_PLAIN = 1 << 5,	      /* set-up handshakes carry only MSS (no WS, SACK, TS) */
	FZ_CFG_ZEROCOPY = 1 << 6,     /* echo handlers read zero-copy (weir_flow_read) */
};

/* Virtual time: the clock starts at this sys_now() value (ms) for every input. */
#define FZ_START_MS 2000000u
/* An input may move the clock at most this far (ms); later advances are ignored. */
#define FZ_MAX_VIRTUAL_MS (300u * 1000u)

/* The echo gain (byte 5 of the header): the echo handlers write back what they read
 * 2^(gain & 7) times (at most 64 KiB per read), so a short segment from the peer puts many of the
 * stack's segments in flight (loss recovery and SACK need a window's worth). Bits 3-7 are
 * reserved. */
#define FZ_GAIN_MAX_BYTES (64 * 1024)

/* Brings the world up for one input. hdr is FZ_HDR_LEN bytes (shorter is zero-filled):
 * u32 LE isn_base, u8 config, u8 echo gain, two reserved bytes. */
void fz_begin(const uint8_t *hdr, size_t len);
/* Tears the world down and checks for leaks (fz_fatal on any). */
void fz_end(void);

/* Delivers one received frame (copied into its own exact-size buffer, as a bare-metal NIC
 * descriptor would be), then runs the stack and fibers until idle. Frames shorter than an
 * Ethernet header are dropped and shorter than 60 bytes zero-padded, as every weir driver does. */
void fz_rx(const uint8_t *frame, size_t len);
/* Queues a received frame without running anything (safe inside the transmit hook). */
void fz_queue(const uint8_t *frame, size_t len);
/* Advances the virtual clock by ms in steps of lwIP's TCP timer, running everything each step. */
void fz_advance_ms(uint64_t ms);
/* The time-advance code of a record: 0..127 -> code x 10 ms, 128..191 -> (code - 127) s,
 * 192..255 -> (code - 191) x 10 s. Returns milliseconds. */
uint64_t fz_delta_ms(uint8_t code);

/* Called for every frame the stack sends (after it passed the well-formedness checks). */
typedef void (*fz_tx_hook)(const uint8_t *frame, size_t len);
void fz_set_tx_hook(fz_tx_hook hook);

/* Frame builders (checksums valid). Return the frame length. buf must hold 14 + 60 + 40 + len. */
size_t fz_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t sip,
		    const uint8_t tha[6], uint32_t tip);
struct fz_tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags; /* TH_* */
	uint16_t wnd, urp;
	const uint8_t *opts;
	size_t optlen;	  /* bytes of opts; padded with EOL to a multiple of 4 */
	uint8_t doff_raw; /* 0: computed; else the 4-bit data offset to write */
	const uint8_t *payload;
	size_t paylen;
	int bad_csum; /* 1: corrupt the TCP checksum */
};
size_t fz_build_tcp(uint8_t *buf, const struct fz_tcp_seg *s);

/* Internet checksum helpers. */
uint16_t fz_csum(const void *data, size_t len, uint32_t sum);

/* Reports a broken invariant and aborts. */
void fz_fatal(const char *fmt, ...) WEIR_PRINTF(1, 2) __attribute__((noreturn));

/* Overrides linked with -Wl,--wrap (production code is not changed). */
uint64_t __wrap_weir_clock_now_ns(void);

#endif /* WEIR_FUZZ_HOST_H */
