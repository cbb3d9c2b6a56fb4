/* frames.c - hand-built frames for unit tests (independent of lwIP's own code). */
#include <string.h>

#include "frames.h"

uint16_t frame_csum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

size_t frame_arp_request(uint8_t *b, const uint8_t smac[6], uint32_t sip_be, uint32_t tip_be)
{
	memset(b, 0xff, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, 0x0806);
	put16(b + 14, 1);      /* Ethernet */
	put16(b + 16, 0x0800); /* IPv4 */
	b[18] = 6;
	b[19] = 4;
	put16(b + 20, 1); /* request */
	memcpy(b + 22, smac, 6);
	memcpy(b + 28, &sip_be, 4);
	memset(b + 32, 0, 6);
	memcpy(b + 38, &tip_be, 4);
	return 42;
}

size_t frame_icmp_echo(uint8_t *b, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip_be,
		       uint32_t dip_be, uint16_t id, uint16_t seq, size_t payload)
{
	uint8_t *ip = b + 14, *icmp = ip + 20;
	size_t iplen = 20 + 8 + payload;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)iplen);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = 1;
	memcpy(ip + 12, &sip_be, 4);
	memcpy(ip + 16, &dip_be, 4);
	put16(ip + 10, frame_csum(ip, 20));
	icmp[0] = 8;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, id);
	put16(icmp + 6, seq);
	for (size_t i = 0; i < payload; i++)
		icmp[8 + i] = (uint8_t)(i * 7);
	put16(icmp + 2, frame_csum(icmp, 8 + payload));
	return 14 + iplen;
}

size_t frame_tcp_syn(uint8_t *b, const uint8_t smac[6], const uint8_t dmac[6], uint32_t sip_be,
		     uint32_t dip_be, uint16_t sport, uint16_t dport, uint32_t seq,
		     const uint8_t *opts, size_t optlen)
{
	uint8_t *ip = b + 14, *tcp = ip + 20, pseudo[12 + 60 + 40];
	size_t tcplen = 20 + optlen;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tcplen));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &sip_be, 4);
	memcpy(ip + 16, &dip_be, 4);
	put16(ip + 10, frame_csum(ip, 20));
	memset(tcp, 0, 20);
	put16(tcp, sport);
	put16(tcp + 2, dport);
	tcp[4] = (uint8_t)(seq >> 24);
	tcp[5] = (uint8_t)(seq >> 16);
	tcp[6] = (uint8_t)(seq >> 8);
	tcp[7] = (uint8_t)seq;
	tcp[12] = (uint8_t)((tcplen / 4) << 4);
	tcp[13] = 0x02; /* SYN */
	put16(tcp + 14, 65535);
	memcpy(tcp + 20, opts, optlen);
	/* Checksum over the pseudo header (addresses, protocol, length) and the segment. */
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (uint16_t)tcplen);
	memcpy(pseudo + 12, tcp, tcplen);
	put16(tcp + 16, frame_csum(pseudo, 12 + tcplen));
	return 14 + 20 + tcplen;
}
