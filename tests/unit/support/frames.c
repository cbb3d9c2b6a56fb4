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

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

size_t frame_tcp(uint8_t *b, const struct frame_tcp_spec *s)
{
	uint8_t *ip = b + 14, *tcp = ip + 20;
	size_t tcplen = 20 + s->optlen + s->len;
	uint32_t sum = 0;

	memcpy(b, s->dmac, 6);
	memcpy(b + 6, s->smac, 6);
	put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + tcplen));
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &s->sip_be, 4);
	memcpy(ip + 16, &s->dip_be, 4);
	put16(ip + 10, frame_csum(ip, 20));
	memset(tcp, 0, 20);
	put16(tcp, s->sport);
	put16(tcp + 2, s->dport);
	put32(tcp + 4, s->seq);
	put32(tcp + 8, s->ack);
	tcp[12] = (uint8_t)(((20 + s->optlen) / 4) << 4);
	tcp[13] = s->flags;
	put16(tcp + 14, s->wnd);
	if (s->optlen)
		memcpy(tcp + 20, s->opts, s->optlen);
	if (s->len)
		memcpy(tcp + 20 + s->optlen, s->payload, s->len);
	/* Checksum: the pseudo header (addresses, protocol, length) summed by hand, then folded
	 * with the segment's own sum (both are ones' complement sums of 16-bit words). */
	for (int i = 0; i < 8; i += 2)
		sum += (uint32_t)(ip[12 + i] << 8 | ip[13 + i]);
	sum += 6 + (uint32_t)tcplen;
	sum += (uint16_t)~frame_csum(tcp, tcplen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(tcp + 16, (uint16_t)~sum);
	return 14 + 20 + tcplen;
}

int frame_tcp_parse(const uint8_t *f, size_t flen, struct frame_tcp_info *t)
{
	const uint8_t *ip = f + 14, *tcp;
	size_t ihl, iplen, thl;

	if (flen < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || (ip[0] >> 4) != 4 || ip[9] != 6)
		return -1;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	iplen = (size_t)(ip[2] << 8 | ip[3]);
	if (ihl < 20 || iplen < ihl + 20 || 14 + iplen > flen)
		return -1;
	tcp = ip + ihl;
	thl = (size_t)(tcp[12] >> 4) * 4;
	if (thl < 20 || ihl + thl > iplen)
		return -1;
	memcpy(&t->sip_be, ip + 12, 4);
	memcpy(&t->dip_be, ip + 16, 4);
	t->sport = (uint16_t)(tcp[0] << 8 | tcp[1]);
	t->dport = (uint16_t)(tcp[2] << 8 | tcp[3]);
	t->seq = get32(tcp + 4);
	t->ack = get32(tcp + 8);
	t->flags = tcp[13];
	t->wnd = (uint16_t)(tcp[14] << 8 | tcp[15]);
	t->opts = tcp + 20;
	t->optlen = thl - 20;
	t->payload = tcp + thl;
	t->len = iplen - ihl - thl;
	return 0;
}

const uint8_t *frame_tcp_option(const struct frame_tcp_info *t, uint8_t kind)
{
	size_t i = 0;

	while (i < t->optlen) {
		uint8_t k = t->opts[i];

		if (k == 0)
			break;
		if (k == 1) {
			i++;
			continue;
		}
		if (i + 1 >= t->optlen || t->opts[i + 1] < 2)
			break;
		if (k == kind)
			return t->opts + i;
		i += t->opts[i + 1];
	}
	return NULL;
}
