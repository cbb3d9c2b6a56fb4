/* resolve.h - names to addresses and back, services to ports and back, and connecting by name
 * (Tezos Socket's connect with per-attempt timeouts, Async's with_connection, getnameinfo).
 *
 * Lookups go, in order: numeric dotted quads, the hosts table (settable, no /etc on a bare-metal
 * image), then DNS (weir's stub resolver, flow/dns.c) against the configured servers: every A
 * record of the name (CNAMEs followed), cached for their TTL (at most an hour). Blocking calls run
 * in a fiber ("May yield"); table calls do not block.
 */
#ifndef WEIR_RESOLVE_H
#define WEIR_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include <weir/flow.h>

#define WEIR_NAME_MAX 255

/* --- services --------------------------------------------------------------------------------- */
/* "http" -> 80, "80" -> 80, from a built-in table of common IANA TCP services. Returns 0,
 * WEIR_ENOADDR (unknown name) or WEIR_EINVAL (NULL, bad number). */
int weir_service_port(const char *service, uint16_t *port);
/* 80 -> "http"; NULL if the port has no name in the table. */
const char *weir_service_name(uint16_t port);

/* --- hosts table ------------------------------------------------------------------------------ */
/* Adds name -> addr (a name may have several addresses, tried in the order added). Returns 0,
 * WEIR_EINVAL (NULL, empty or over-long name, 0.0.0.0), WEIR_ENOMEM (table full: 64 entries). */
int weir_hosts_add(const char *name, struct weir_ipaddr addr);
/* Empties the table. */
void weir_hosts_clear(void);

/* --- DNS -------------------------------------------------------------------------------------- */
/* Sets DNS server i (0 or 1). Returns 0 or WEIR_EINVAL. */
int weir_dns_set_server(unsigned i, struct weir_ipaddr server);

/* Resolves host into up to max addresses. May yield (DNS), bounded by timeout_ns (0: 5 s).
 * Returns how many (>= 1), or WEIR_ENOADDR (nothing: unknown name, NXDOMAIN, no server),
 * WEIR_ETIMEDOUT, WEIR_ECANCELED, WEIR_EINVAL. */
int weir_resolve(struct weir_stack *stack, const char *host, struct weir_ipaddr *addrs, size_t max,
		 uint64_t timeout_ns);

/* Reverse lookup without the network: the first hosts-table name for addr, else its dotted quad.
 * Writes into name (cap bytes); returns 0 or WEIR_EINVAL. Does not block. */
int weir_name_of(struct weir_ipaddr addr, char *name, size_t cap);
/* getnameinfo (Eio's): the hosts-table name for addr, else its DNS PTR name, else its dotted
 * quad. DNS is asked only from a fiber, bounded by timeout_ns (0: 5 s). May yield. Returns 0,
 * WEIR_EINVAL (NULL, a name longer than cap), WEIR_ECANCELED. */
int weir_getnameinfo(struct weir_stack *stack, struct weir_ipaddr addr, char *name, size_t cap,
		     uint64_t timeout_ns);
/* Forgets every cached DNS answer. */
void weir_dns_cache_clear(void);

/* --- connecting by name ----------------------------------------------------------------------- */
struct weir_connect_attempt {
	struct weir_ipaddr addr;
	int rc; /* 0 or the attempt's error */
};

struct weir_connect_host_opts {
	/* tcp.timeout_ns is per attempt (0: 5 s, as Tezos's connect; 10 s for
	 * weir_with_connection, as Async's) */
	struct weir_tcp_connect_opts tcp;
	uint64_t resolve_timeout_ns; /* 0: 5 s */
	/* Filled with every attempt made (may be NULL): for the error message. */
	struct weir_connect_attempt *attempts;
	size_t max_attempts, n_attempts;
};

/* Resolves host and service, then tries each address in order, each with its own timeout (Tezos's
 * connect). When all fail, the name is looked up again once (a cached answer may be stale) and
 * any new address is tried. May yield. Returns 0 and sets *out, or WEIR_ENOADDR (nothing
 * resolved), or the last attempt's error (WEIR_EREFUSED, WEIR_ETIMEDOUT, ...), WEIR_ECANCELED,
 * WEIR_EINVAL. */
int weir_tcp_connect_host(struct weir_stack *stack, const char *host, const char *service,
			  struct weir_connect_host_opts *opts, struct weir_flow **out);

/* Connects by name (each attempt 10 s unless opts->tcp.timeout_ns says otherwise), runs
 * fn(flow, arg) and closes and frees the flow on every path (Async's with_connection). Returns
 * fn's return value, or the connect error. May yield. */
int weir_with_connection(struct weir_stack *stack, const char *host, const char *service,
			 struct weir_connect_host_opts *opts,
			 int (*fn)(struct weir_flow *flow, void *arg), void *arg);

#endif /* WEIR_RESOLVE_H */
