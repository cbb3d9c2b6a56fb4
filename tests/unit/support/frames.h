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

#endif
