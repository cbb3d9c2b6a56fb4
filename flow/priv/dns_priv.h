/* dns_priv.h - the DNS stub resolver (dns.c) as resolve.c and the tests use it. */
#ifndef WEIR_FLOW_DNS_PRIV_H
#define WEIR_FLOW_DNS_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <weir/resolve.h>

#define WEIR__DNS_ADDRS_MAX 16

struct weir__dns_result {
	int rcode;
	uint32_t ttl; /* the smallest of the records used (CNAMEs included), seconds */
	size_t n;     /* addresses (A), or 1 when name holds a PTR's target */
	struct weir_ipaddr addrs[WEIR__DNS_ADDRS_MAX];
	char name[WEIR_NAME_MAX + 1];
};

/* Parses a response to query id for qname/qtype: every A record under qname or a CNAME it leads
 * to, or the first PTR. Returns 0 (res filled; res->n may be 0), or -1 when msg is not a
 * well-formed answer to that question. For the fuzzer too: any bytes are safe. */
int weir__dns_parse(const uint8_t *msg, size_t len, uint16_t id, const char *qname, uint16_t qtype,
		    struct weir__dns_result *res);

/* Every address of host by DNS (the cache first), into addrs (up to max). May yield. Returns the
 * count (>= 1), WEIR_ENOADDR (NXDOMAIN, no address, no server), WEIR_ETIMEDOUT, WEIR_ECANCELED,
 * WEIR_EINVAL. */
int weir__dns_lookup_a(struct weir_stack *stack, const char *host, struct weir_ipaddr *addrs,
		       size_t max, uint64_t deadline);
/* The PTR name of addr. May yield. Returns 0, WEIR_ENOADDR, WEIR_ETIMEDOUT, WEIR_ECANCELED,
 * WEIR_EINVAL (name too small). */
int weir__dns_lookup_ptr(struct weir_stack *stack, struct weir_ipaddr addr, char *name, size_t cap,
			 uint64_t deadline);
/* Drops host's cached answer (its addresses all failed: it may have moved). */
void weir__dns_forget(const char *host);

#endif
