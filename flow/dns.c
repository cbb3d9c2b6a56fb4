/* dns.c - a DNS stub resolver (RFC 1035) on weir's UDP sockets: every A record of a name, CNAMEs
 * followed, PTR for reverse lookups, and a small cache that honours TTLs.
 *
 * lwIP 2.1.3's client keeps one address per name and has no PTR; its server list (set by
 * weir_dns_set_server or by DHCP) is the one used here. Each lookup has its own socket on a random
 * port and a random query id; an answer counts only from the server asked, from port 53, with the
 * same id and question. Servers are asked in turn, one second each, until the deadline.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lwip/dns.h"
#include "lwip/ip_addr.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/udp.h>

#include "dns_priv.h"

#if LWIP_DNS

#define DNS_PORT	  53
#define DNS_TRY_NS	  (1 * WEIR_NS_PER_S)
#define DNS_MSG_MAX	  1500 /* no EDNS0: answers come in one datagram of at most 512 */
#define DNS_CHAIN_MAX	  8    /* CNAME hops followed */
#define DNS_CACHE_ENTRIES 16
#define DNS_TTL_MAX_S	  3600u

#define TYPE_A	       1
#define TYPE_CNAME     5
#define TYPE_PTR       12
#define CLASS_IN       1
#define RCODE_NXDOMAIN 3

/* --- names on the wire ------------------------------------------------------------------------ */

/* Encodes a dotted name (a trailing dot allowed) as labels at q; returns the bytes written, or 0
 * if the name is not a valid DNS name or does not fit cap. */
static size_t name_encode(uint8_t *q, size_t cap, const char *name)
{
	size_t o = 0, len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && name[j] != '.')
			j++;
		if (j == i || j - i > 63 || o + 1 + (j - i) + 1 > cap)
			return 0;
		q[o++] = (uint8_t)(j - i);
		memcpy(q + o, name + i, j - i);
		o += j - i;
		i = j + 1;
	}
	q[o++] = 0;
	return o;
}

/* Decodes the name at msg[off] (compression pointers followed, at most 64 of them, each pointing
 * backwards) into out as dotted text without a trailing dot. *next is the offset just past the
 * name where it started. Returns 0, or -1 for a name that is malformed or does not fit. */
static int name_decode(const uint8_t *msg, size_t len, size_t off, char *out, size_t cap,
		       size_t *next)
{
	size_t o = 0, pos = off;
	int jumps = 0;

	*next = 0;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= len || ++jumps > 64)
				return -1;
			to = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
			if (*next == 0)
				*next = pos + 2;
			if (to >= pos)
				return -1; /* only backwards: no loops */
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -1; /* reserved label types */
		if (l == 0) {
			if (*next == 0)
				*next = pos + 1;
			if (o == 0) {
				if (cap < 1)
					return -1;
			} else {
				o--; /* the last dot */
			}
			out[o] = '\0';
			return 0;
		}
		if (pos + 1 + l > len || o + l + 1 >= cap)
			return -1;
		memcpy(out + o, msg + pos + 1, l);
		o += l;
		out[o++] = '.';
		pos += 1 + (size_t)l;
	}
}

static int same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* --- answers ---------------------------------------------------------------------------------- */

struct rr {
	char owner[WEIR_NAME_MAX + 1];
	uint16_t type, class;
	uint32_t ttl;
	size_t rdata, rdlen; /* offset and length in the message */
};

/* Reads the resource record at *off into r and moves *off past it. Returns 0 or -1. */
static int rr_read(const uint8_t *msg, size_t len, size_t *off, struct rr *r)
{
	size_t p;

	if (name_decode(msg, len, *off, r->owner, sizeof(r->owner), &p) < 0 || p + 10 > len)
		return -1;
	r->type = rd16(msg + p);
	r->class = rd16(msg + p + 2);
	r->ttl = rd32(msg + p + 4);
	r->rdlen = rd16(msg + p + 8);
	r->rdata = p + 10;
	if (r->rdata + r->rdlen > len)
		return -1;
	*off = r->rdata + r->rdlen;
	return 0;
}

int weir__dns_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname, uint16_t qtype,
		    struct weir__dns_result *res)
{
	/* The names the question's answers may be under: qname, then each CNAME's target. */
	static WEIR_PER_SHARD char chain[DNS_CHAIN_MAX + 1][WEIR_NAME_MAX + 1];
	size_t nchain = 1, off, first_rr, an;
	char qn[WEIR_NAME_MAX + 1];
	struct rr r;

	memset(res, 0, sizeof(*res));
	res->ttl = DNS_TTL_MAX_S;
	if (len < 12 || rd16(msg) != id || !(msg[2] & 0x80) || (msg[2] & 0x78) != 0 ||
	    rd16(msg + 4) != 1)
		return -1; /* not an answer to our standard query */
	if (name_decode(msg, len, 12, qn, sizeof(qn), &off) < 0 || off + 4 > len ||
	    !same_name(qn, qname) || rd16(msg + off) != qtype || rd16(msg + off + 2) != CLASS_IN)
		return -1; /* an answer to another question */
	res->rcode = msg[3] & 0x0f;
	an = rd16(msg + 6);
	first_rr = off + 4;
	strcpy(chain[0], qname);
	/* Follow the CNAME chain, in whatever order the records come. */
	for (int hop = 0; hop < DNS_CHAIN_MAX; hop++) {
		int found = 0;

		off = first_rr;
		for (size_t i = 0; i < an && !found; i++) {
			size_t end;

			if (rr_read(msg, len, &off, &r) < 0)
				return -1;
			if (r.type != TYPE_CNAME || r.class != CLASS_IN ||
			    !same_name(r.owner, chain[nchain - 1]))
				continue;
			if (name_decode(msg, len, r.rdata, chain[nchain], sizeof(chain[0]), &end) <
			    0)
				return -1;
			if (r.ttl < res->ttl)
				res->ttl = r.ttl;
			nchain++;
			found = 1;
		}
		if (!found)
			break;
	}
	off = first_rr;
	for (size_t i = 0; i < an; i++) {
		int ours = 0;

		if (rr_read(msg, len, &off, &r) < 0)
			return -1;
		if (r.class != CLASS_IN || r.type != qtype)
			continue;
		for (size_t c = 0; c < nchain && !ours; c++)
			ours = same_name(r.owner, chain[c]);
		if (!ours)
			continue;
		if (qtype == TYPE_A && r.rdlen == 4 && res->n < WEIR__DNS_ADDRS_MAX) {
			memcpy(&res->addrs[res->n].v4, msg + r.rdata, 4); /* network order */
			res->n++;
		} else if (qtype == TYPE_PTR && res->n == 0) {
			size_t end;

			if (name_decode(msg, len, r.rdata, res->name, sizeof(res->name), &end) <
				    0 ||
			    res->name[0] == '\0')
				continue;
			res->n = 1;
		} else {
			continue;
		}
		if (r.ttl < res->ttl)
			res->ttl = r.ttl;
	}
	return 0;
}

/* --- the exchange ----------------------------------------------------------------------------- */

/* Asks the configured servers qname/qtype until one answers or the deadline passes. Returns 0
 * with *res filled (res->rcode may say NXDOMAIN), or WEIR_ENOADDR (no server), WEIR_ETIMEDOUT,
 * WEIR_ECANCELED, WEIR_ENOMEM, WEIR_EINVAL (a name that cannot be asked). */
static int dns_ask(struct weir_stack *stack, const char *qname, uint16_t qtype,
		   struct weir__dns_result *res, uint64_t deadline)
{
	static WEIR_PER_SHARD uint8_t q[512], a[DNS_MSG_MAX];
	struct weir_ipaddr servers[DNS_MAX_SERVERS];
	struct weir_udp_opts uo = { 0 };
	struct weir_udp *u = NULL;
	size_t ns = 0, qlen, nlen;
	uint16_t id, rnd[2];
	int rc = WEIR_ETIMEDOUT;

	for (u8_t i = 0; i < DNS_MAX_SERVERS; i++) {
		const ip_addr_t *s = dns_getserver(i);

		if (s != NULL && !ip_addr_isany(s))
			servers[ns++].v4 = ip_2_ip4(s)->addr;
	}
	if (ns == 0)
		return WEIR_ENOADDR;
	if (weir_entropy_fill(rnd, sizeof(rnd)) < 0)
		return WEIR_EIO;
	id = rnd[0];
	/* Header: id, RD, one question. */
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01;
	q[5] = 1;
	nlen = name_encode(q + 12, sizeof(q) - 12 - 4, qname);
	if (nlen == 0)
		return WEIR_EINVAL;
	qlen = 12 + nlen;
	q[qlen++] = (uint8_t)(qtype >> 8);
	q[qlen++] = (uint8_t)qtype;
	q[qlen++] = 0;
	q[qlen++] = CLASS_IN;
	/* A random source port (RFC 5452), else any. */
	for (int t = 0; t < 4 && u == NULL; t++) {
		uo.local_port = (uint16_t)(49152u + (uint16_t)(rnd[1] + t * 7919u) % 16384u);
		if (weir_udp_open(stack, &uo, &u) < 0)
			u = NULL;
	}
	if (u == NULL) {
		uo.local_port = 0;
		rc = weir_udp_open(stack, &uo, &u);
		if (rc < 0)
			return rc;
		rc = WEIR_ETIMEDOUT;
	}
	for (unsigned t = 0; weir_clock_now_ns() < deadline; t++) {
		struct weir_ipaddr server = servers[t % ns];
		uint64_t try_end = weir_clock_now_ns() + DNS_TRY_NS;

		if (try_end > deadline)
			try_end = deadline;
		rc = weir_udp_send_to(u, server, DNS_PORT, q, qlen);
		if (rc < 0 && rc != WEIR_EUNREACH && rc != WEIR_ENOMEM)
			break;
		rc = WEIR_ETIMEDOUT;
		for (;;) {
			struct weir_ipaddr src;
			uint16_t sport;
			uint64_t now = weir_clock_now_ns();
			ssize_t n;

			if (now >= try_end)
				break;
			n = weir_udp_recv_from(u, a, sizeof(a), &src, &sport, try_end - now);
			if (n == WEIR_ETIMEDOUT)
				break;
			if (n == WEIR_EMSGSIZE)
				continue;
			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			/* Only the server asked, from its port, answering our question. */
			if (src.v4 != server.v4 || sport != DNS_PORT ||
			    weir__dns_parse(a, (size_t)n, id, qname, qtype, res) < 0)
				continue;
			rc = 0;
			goto out;
		}
	}
out:
	weir_udp_close(u);
	return rc;
}

/* --- the cache -------------------------------------------------------------------------------- */

static WEIR_PER_SHARD struct {
	char name[WEIR_NAME_MAX + 1];
	struct weir_ipaddr addrs[WEIR__DNS_ADDRS_MAX];
	size_t n;
	uint64_t expires;
} cache[DNS_CACHE_ENTRIES];

void weir_dns_cache_clear(void)
{
	memset(cache, 0, sizeof(cache));
}

void weir__dns_forget(const char *host)
{
	for (size_t i = 0; i < DNS_CACHE_ENTRIES; i++)
		if (cache[i].n > 0 && same_name(cache[i].name, host))
			cache[i].n = 0;
}

static void cache_put(const char *host, const struct weir__dns_result *res)
{
	uint64_t now = weir_clock_now_ns();
	size_t slot = 0;

	if (res->ttl == 0 || strlen(host) > WEIR_NAME_MAX)
		return;
	for (size_t i = 0; i < DNS_CACHE_ENTRIES; i++) {
		if (cache[i].n > 0 && same_name(cache[i].name, host)) {
			slot = i;
			break;
		}
		/* else the first free or expired slot, else the one that expires first */
		if (cache[i].n == 0 || cache[i].expires <= now ||
		    cache[i].expires < cache[slot].expires)
			slot = i;
	}
	strcpy(cache[slot].name, host);
	memcpy(cache[slot].addrs, res->addrs, res->n * sizeof(res->addrs[0]));
	cache[slot].n = res->n;
	cache[slot].expires = now + (uint64_t)WEIR_MIN(res->ttl, DNS_TTL_MAX_S) * WEIR_NS_PER_S;
}

int weir__dns_lookup_a(struct weir_stack *stack, const char *host, struct weir_ipaddr *addrs,
		       size_t max, uint64_t deadline)
{
	struct weir__dns_result res;
	uint64_t now = weir_clock_now_ns();
	int rc;

	for (size_t i = 0; i < DNS_CACHE_ENTRIES; i++) {
		if (cache[i].n > 0 && cache[i].expires > now && same_name(cache[i].name, host)) {
			size_t n = WEIR_MIN(max, cache[i].n);

			memcpy(addrs, cache[i].addrs, n * sizeof(addrs[0]));
			return (int)n;
		}
	}
	rc = dns_ask(stack, host, TYPE_A, &res, deadline);
	if (rc < 0)
		return rc;
	if (res.n == 0)
		return WEIR_ENOADDR; /* NXDOMAIN, or no address under that name */
	cache_put(host, &res);
	memcpy(addrs, res.addrs, WEIR_MIN(max, res.n) * sizeof(addrs[0]));
	return (int)WEIR_MIN(max, res.n);
}

int weir__dns_lookup_ptr(struct weir_stack *stack, struct weir_ipaddr addr, char *name, size_t cap,
			 uint64_t deadline)
{
	struct weir__dns_result res;
	const uint8_t *b = (const uint8_t *)&addr.v4; /* network order: b[0] is the first octet */
	char q[32];
	int rc;

	snprintf(q, sizeof(q), "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	rc = dns_ask(stack, q, TYPE_PTR, &res, deadline);
	if (rc < 0)
		return rc;
	if (res.n == 0)
		return WEIR_ENOADDR;
	if (strlen(res.name) >= cap)
		return WEIR_EINVAL;
	strcpy(name, res.name);
	return 0;
}

#else /* !LWIP_DNS */

void weir_dns_cache_clear(void)
{
}

void weir__dns_forget(const char *host)
{
	WEIR_UNUSED(host);
}

#endif
