/* addr.c - parsing and printing IPv4 and MAC addresses (no lwIP, no libc network headers). */
#include <stdio.h>
#include <string.h>

#include <weir/error.h>
#include <weir/stack.h>

static const char *parse_dec(const char *p, unsigned max, unsigned *out)
{
	unsigned v = 0;
	int digits = 0;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max || ++digits > 3)
			return NULL;
		p++;
	}
	if (digits == 0)
		return NULL;
	*out = v;
	return p;
}

static const char *parse_quad(const char *p, struct weir_ipaddr *out)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++) {
		unsigned v;

		p = parse_dec(p, 255, &v);
		if (p == NULL)
			return NULL;
		b[i] = (uint8_t)v;
		if (i < 3 && *p++ != '.')
			return NULL;
	}
	memcpy(&out->v4, b, 4);
	return p;
}

int weir_ipaddr_parse(const char *text, struct weir_ipaddr *out)
{
	struct weir_ipaddr a;
	const char *end;

	WEIR_EINVAL_IF(text == NULL || out == NULL);
	end = parse_quad(text, &a);
	WEIR_EINVAL_IF(end == NULL || *end != '\0');
	*out = a;
	return 0;
}

int weir_ipaddr_parse_cidr(const char *text, struct weir_ipaddr *out, uint8_t *prefix_len)
{
	struct weir_ipaddr a;
	unsigned plen = 32;
	const char *end;

	WEIR_EINVAL_IF(text == NULL || out == NULL || prefix_len == NULL);
	end = parse_quad(text, &a);
	WEIR_EINVAL_IF(end == NULL);
	if (*end == '/') {
		end = parse_dec(end + 1, 32, &plen);
		if (end == NULL || plen == 0)
			return WEIR_EINVAL;
	}
	WEIR_EINVAL_IF(*end != '\0');
	*out = a;
	*prefix_len = (uint8_t)plen;
	return 0;
}

char *weir_ipaddr_format(struct weir_ipaddr addr, char *buf)
{
	uint8_t b[4];

	memcpy(b, &addr.v4, 4);
	snprintf(buf, WEIR_IPADDR_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int weir_mac_parse(const char *text, uint8_t mac[WEIR_ETH_ALEN])
{
	uint8_t m[WEIR_ETH_ALEN];

	WEIR_EINVAL_IF(text == NULL || mac == NULL || strlen(text) != 17);
	for (int i = 0; i < WEIR_ETH_ALEN; i++) {
		int hi = hexval(text[i * 3]), lo = hexval(text[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
			return WEIR_EINVAL;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, WEIR_ETH_ALEN);
	return 0;
}
