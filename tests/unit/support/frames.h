/* frames.h - building Ethernet/ARP/IPv4/ICMP frames by hand for unit tests. */
#ifndef WEIR_TEST_FRAMES_H
#define WEIR_TEST_FRAMES_H

#include <stddef.h>
#include <stdint.h>

/* Writes a 42-byte ARP request "who has tip? tell sip" from smac; returns its length. */
size_t frame_arp_request(uint8_t *buf, const uint8_t smac[6], uint32_t sip_be, uint32_t tip_be);
/* Writes an ICMP echo request (IPv4, valid checksums) from smac/sip to dmac/dip; returns length. */
size_t frame_icmp_echo(uint8_t *buf, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip_be,
		       uint32_t dip_be, uint16_t id, uint16_t seq, size_t payload);
/* Writes a TCP SYN (IPv4, valid checksums) carrying opts (optlen, a multiple of 4); returns the
 * frame length. */
size_t frame_tcp_syn(uint8_t *buf, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip_be,
		     uint32_t dip_be, uint16_t sport, uint16_t dport, uint32_t seq,
		     const uint8_t *opts, size_t optlen);
/* The Internet checksum (RFC 1071) of len bytes. */
uint16_t frame_csum(const void *data, size_t len);

/* TCP flag bits (RFC 793) for frame_tcp. */
#define FRAME_TCP_FIN 0x01
#define FRAME_TCP_SYN 0x02
#define FRAME_TCP_RST 0x04
#define FRAME_TCP_PSH 0x08
#define FRAME_TCP_ACK 0x10

/* One TCP segment to build: addresses (network order), ports, sequence and acknowledgment
 * numbers, flags, window, options (optlen a multiple of 4, at most 40) and payload. */
struct frame_tcp_spec {
	const uint8_t *smac, *dmac;
	uint32_t sip_be, dip_be;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;
	size_t optlen;
	const uint8_t *payload;
	size_t len;
};
/* Writes the segment as an Ethernet/IPv4/TCP frame with valid checksums, unpadded; returns the
 * frame length (14 + 20 + 20 + optlen + len). buf must hold that many bytes. */
size_t frame_tcp(uint8_t *buf, const struct frame_tcp_spec *s);

/* A TCP segment found in a frame by frame_tcp_parse; pointers point into the frame. */
struct frame_tcp_info {
	uint32_t sip_be, dip_be;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;
	size_t optlen;
	const uint8_t *payload;
	size_t len; /* payload bytes, from the IPv4 total length (not the padded frame length) */
};
/* Parses an Ethernet/IPv4/TCP frame of flen bytes. Returns 0 and fills *out, or -1 when the
 * frame is not IPv4/TCP or its lengths do not fit inside the frame. Checksums are not checked. */
int frame_tcp_parse(const uint8_t *f, size_t flen, struct frame_tcp_info *out);
/* Finds the TCP option kind in a parsed segment; returns a pointer to its kind byte or NULL. */
const uint8_t *frame_tcp_option(const struct frame_tcp_info *t, uint8_t kind);

#endif
