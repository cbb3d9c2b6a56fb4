/* resolve.c - service and hosts tables, names through DNS (dns.c), connecting by name. */
#include <stdlib.h>
#include <string.h>

#include "lwip/dns.h"
#include "lwip/ip_addr.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/resolve.h>

#include "dns_priv.h"

/* The defaults of weir/clock.h's table. */
#define RESOLVE_TIMEOUT_DEFAULT_NS	(5 * WEIR_NS_PER_S)
#define CONNECT_HOST_TIMEOUT_DEFAULT_NS (5 * WEIR_NS_PER_S)  /* Tezos's Socket.connect */
#define WITH_CONNECTION_TIMEOUT_NS	(10 * WEIR_NS_PER_S) /* Async's with_connection */

/* Common IANA TCP services (RFC 6335 registry), for images without /etc/services. */
static const struct {
	const char *name;
	uint16_t port;
} services[] = {
	{ "echo", 7 },	       { "discard", 9 },       { "daytime", 13 }, { "chargen", 19 },
	{ "ftp-data", 20 },    { "ftp", 21 },	       { "ssh", 22 },	  { "telnet", 23 },
	{ "smtp", 25 },	       { "time", 37 },	       { "domain", 53 },  { "dns", 53 },
	{ "gopher", 70 },      { "finger", 79 },       { "http", 80 },	  { "www", 80 },
	{ "kerberos", 88 },    { "pop3", 110 },	       { "sunrpc", 111 }, { "ident", 113 },
	{ "nntp", 119 },       { "ntp", 123 },	       { "imap", 143 },	  { "snmp", 161 },
	{ "bgp", 179 },	       { "ldap", 389 },	       { "https", 443 },  { "smtps", 465 },
	{ "submission", 587 }, { "ldaps", 636 },       { "rsync", 873 },  { "imaps", 993 },
	{ "pop3s", 995 },      { "mqtt", 1883 },       { "nfs", 2049 },	  { "mysql", 3306 },
	{ "rdp", 3389 },       { "postgresql", 5432 }, { "amqp", 5672 },  { "redis", 6379 },
	{ "http-alt", 8080 },  { "mqtts", 8883 },
};

int weir_service_port(const char *service, uint16_t *port)
{
	WEIR_EINVAL_IF(service == NULL || port == NULL || *service == '\0');
	if (*service >= '0' && *service <= '9') {
		char *end;
		unsigned long v = strtoul(service, &end, 10);

		if (*end != '\0' || v == 0 || v > 65535)
			return WEIR_EINVAL;
		*port = (uint16_t)v;
		return 0;
	}
	for (size_t i = 0; i < WEIR_ARRAY_SIZE(services); i++) {
		if (strcmp(services[i].name, service) == 0) {
			*port = services[i].port;
			return 0;
		}
	}
	return WEIR_ENOADDR;
}

const char *weir_service_name(uint16_t port)
{
	for (size_t i = 0; i < WEIR_ARRAY_SIZE(services); i++)
		if (services[i].port == port)
			return services[i].name;
	return NULL;
}

/* --- hosts table ------------------------------------------------------------------------------ */

static WEIR_PER_SHARD struct {
	char name[WEIR_NAME_MAX + 1];
	struct weir_ipaddr addr;
} hosts[64];
static WEIR_PER_SHARD size_t nhosts;

int weir_hosts_add(const char *name, struct weir_ipaddr addr)
{
	size_t len;

	WEIR_EINVAL_IF(name == NULL || addr.v4 == 0);
	len = strlen(name);
	WEIR_EINVAL_IF(len == 0 || len > WEIR_NAME_MAX);
	if (nhosts == WEIR_ARRAY_SIZE(hosts))
		return WEIR_ENOMEM;
	memcpy(hosts[nhosts].name, name, len + 1);
	hosts[nhosts].addr = addr;
	nhosts++;
	return 0;
}

void weir_hosts_clear(void)
{
	nhosts = 0;
}

int weir_name_of(struct weir_ipaddr addr, char *name, size_t cap)
{
	char quad[WEIR_IPADDR_STRLEN];
	const char *src = NULL;

	WEIR_EINVAL_IF(name == NULL || cap == 0);
	for (size_t i = 0; i < nhosts && src == NULL; i++)
		if (hosts[i].addr.v4 == addr.v4)
			src = hosts[i].name;
	if (src == NULL)
		src = weir_ipaddr_format(addr, quad);
	WEIR_EINVAL_IF(strlen(src) >= cap);
	strcpy(name, src);
	return 0;
}

/* --- DNS -------------------------------------------------------------------------------------- */

int weir_dns_set_server(unsigned i, struct weir_ipaddr server)
{
#if LWIP_DNS
	ip_addr_t a;

	WEIR_EINVAL_IF(i >= DNS_MAX_SERVERS);
	ip_addr_set_ip4_u32(&a, server.v4);
	dns_setserver((u8_t)i, &a);
	return 0;
#else
	WEIR_UNUSED(i);
	WEIR_UNUSED(server);
	return WEIR_ENOTSUP;
#endif
}

int weir_resolve(struct weir_stack *stack, const char *host, struct weir_ipaddr *addrs, size_t max,
		 uint64_t timeout_ns)
{
	size_t n = 0, len;

	WEIR_EINVAL_IF(stack == NULL || host == NULL || addrs == NULL || max == 0);
	len = strlen(host);
	WEIR_EINVAL_IF(len == 0 || len > WEIR_NAME_MAX);
	if (weir_ipaddr_parse(host, &addrs[0]) == 0)
		return 1;
	for (size_t i = 0; i < nhosts && n < max; i++)
		if (strcmp(hosts[i].name, host) == 0)
			addrs[n++] = hosts[i].addr;
	if (n > 0)
		return (int)n;
#if LWIP_DNS
	WEIR_EINVAL_IF(weir_fiber_self() == NULL);
	return weir__dns_lookup_a(
		stack, host, addrs, max,
		weir_deadline_after(weir_clock_now_ns(), timeout_ns, RESOLVE_TIMEOUT_DEFAULT_NS));
#else
	WEIR_UNUSED(timeout_ns);
	return WEIR_ENOADDR;
#endif
}

int weir_getnameinfo(struct weir_stack *stack, struct weir_ipaddr addr, char *name, size_t cap,
		     uint64_t timeout_ns)
{
	WEIR_EINVAL_IF(stack == NULL || name == NULL || cap == 0);
	for (size_t i = 0; i < nhosts; i++)
		if (hosts[i].addr.v4 == addr.v4)
			return weir_name_of(addr, name, cap);
#if LWIP_DNS
	if (weir_fiber_self() != NULL) {
		int rc = weir__dns_lookup_ptr(stack, addr, name, cap,
					      weir_deadline_after(weir_clock_now_ns(), timeout_ns,
								  RESOLVE_TIMEOUT_DEFAULT_NS));

		if (rc == 0 || rc == WEIR_ECANCELED)
			return rc;
	}
#else
	WEIR_UNUSED(timeout_ns);
#endif
	/* No name: the numeric form, as getnameinfo() without NI_NAMEREQD. */
	return weir_name_of(addr, name, cap);
}

/* --- connecting by name ----------------------------------------------------------------------- */

/* Tries addrs in order (Tezos's connect), recording each attempt; returns the first success or
 * the last error. */
static int try_each(struct weir_stack *stack, const struct weir_ipaddr *addrs, int n, uint16_t port,
		    const struct weir_tcp_connect_opts *tcp, struct weir_connect_host_opts *opts,
		    struct weir_flow **out)
{
	int rc = WEIR_ENOADDR;

	for (int i = 0; i < n; i++) {
		rc = weir_tcp_connect(stack, addrs[i], port, tcp, out);
		if (opts->attempts != NULL && opts->n_attempts < opts->max_attempts) {
			opts->attempts[opts->n_attempts].addr = addrs[i];
			opts->attempts[opts->n_attempts].rc = rc;
			opts->n_attempts++;
		}
		if (rc == 0 || rc == WEIR_ECANCELED || rc == WEIR_EINVAL)
			break;
	}
	return rc;
}

int weir_tcp_connect_host(struct weir_stack *stack, const char *host, const char *service,
			  struct weir_connect_host_opts *opts, struct weir_flow **out)
{
	struct weir_connect_host_opts none = { 0 };
	struct weir_ipaddr addrs[8], fresh[8], one;
	struct weir_tcp_connect_opts tcp;
	uint16_t port;
	int n, m, k = 0, rc = WEIR_ENOADDR;

	WEIR_EINVAL_IF(out == NULL);
	*out = NULL;
	if (opts == NULL)
		opts = &none;
	opts->n_attempts = 0;
	WEIR_EINVAL_IF(stack == NULL || host == NULL || service == NULL);
	rc = weir_service_port(service, &port);
	if (rc < 0)
		return rc;
	n = weir_resolve(stack, host, addrs, WEIR_ARRAY_SIZE(addrs), opts->resolve_timeout_ns);
	if (n < 0)
		return n == WEIR_ETIMEDOUT ? WEIR_ENOADDR : n;
	tcp = opts->tcp;
	if (tcp.timeout_ns == 0)
		tcp.timeout_ns = CONNECT_HOST_TIMEOUT_DEFAULT_NS;
	rc = try_each(stack, addrs, n, port, &tcp, opts, out);
	if (rc < 0 && rc != WEIR_ECANCELED && rc != WEIR_EINVAL &&
	    weir_ipaddr_parse(host, &one) < 0) {
		/* Every address failed: a cached answer may be stale (the service moved). Ask again
		 * once and try what is new. */
		weir__dns_forget(host);
		m = weir_resolve(stack, host, fresh, WEIR_ARRAY_SIZE(fresh),
				 opts->resolve_timeout_ns);
		for (int i = 0; i < m; i++) {
			int tried = 0;

			for (int j = 0; j < n && !tried; j++)
				tried = fresh[i].v4 == addrs[j].v4;
			if (!tried)
				addrs[k++] = fresh[i];
		}
		if (k > 0)
			rc = try_each(stack, addrs, k, port, &tcp, opts, out);
	}
	return rc;
}

int weir_with_connection(struct weir_stack *stack, const char *host, const char *service,
			 struct weir_connect_host_opts *opts,
			 int (*fn)(struct weir_flow *flow, void *arg), void *arg)
{
	struct weir_connect_host_opts o = { 0 };
	struct weir_flow *f;
	int rc;

	WEIR_EINVAL_IF(fn == NULL);
	if (opts != NULL)
		o = *opts;
	if (o.tcp.timeout_ns == 0)
		o.tcp.timeout_ns = WITH_CONNECTION_TIMEOUT_NS;
	rc = weir_tcp_connect_host(stack, host, service, &o, &f);
	if (opts != NULL)
		opts->n_attempts = o.n_attempts; /* the attempts array is the caller's */
	if (rc < 0)
		return rc;
	rc = fn(f, arg);
	weir_flow_close(f);
	weir_flow_free(f);
	return rc;
}
