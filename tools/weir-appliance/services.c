/* services.c - echo (RFC 862), discard (RFC 863), chargen (RFC 864), HTTP and a TCP proxy, each a
 * weir_flow_handler on the public flow API. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WEIR_LOG_COMPONENT "service"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>

#include "http.h"
#include "services.h"

static const char *const kind_names[] = {
	[SERVICE_ECHO] = "echo",       [SERVICE_DISCARD] = "discard",
	[SERVICE_CHARGEN] = "chargen", [SERVICE_HTTP] = "http",
	[SERVICE_PROXY] = "proxy",     [SERVICE_UDP_ECHO] = "udp-echo",
	[SERVICE_METRICS] = "metrics",
};

const char *service_name(const struct service *sv)
{
	return kind_names[sv->kind];
}

/* Parses a decimal port 1..65535 ending at *end (NUL or the given terminator). */
static int parse_port(const char *s, char term, uint16_t *out, const char **end)
{
	char *e;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return WEIR_EINVAL;
	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno != 0 || v == 0 || v > 65535 || *e != term)
		return WEIR_EINVAL;
	*out = (uint16_t)v;
	if (end != NULL)
		*end = e;
	return 0;
}

/* Letters, digits, '-' and '.', labels of 1..63 that do not start or end with '-'. */
static int is_host_name(const char *h)
{
	size_t label = 0;

	for (const char *p = h;; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63 || p[-1] == '-')
				return 0;
			if (*p == '\0')
				return 1;
			label = 0;
		} else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
			label++;
		} else {
			return 0;
		}
	}
}

int service_parse(const char *spec, struct service *out, const char **why)
{
	const char *colon = spec ? strchr(spec, ':') : NULL, *rest;
	size_t klen;

	*why = "expected KIND:PORT (echo, discard, chargen, metrics), http:PORT:DIR or "
	       "proxy:PORT=HOST:PORT";
	if (colon == NULL)
		return WEIR_EINVAL;
	memset(out, 0, sizeof(*out));
	klen = (size_t)(colon - spec);
	for (unsigned k = 0; k < sizeof(kind_names) / sizeof(kind_names[0]); k++) {
		if (strlen(kind_names[k]) == klen && strncmp(spec, kind_names[k], klen) == 0) {
			out->kind = (enum service_kind)k;
			goto known;
		}
	}
	*why = "unknown service kind (echo, discard, chargen, http, proxy, udp-echo, metrics)";
	return WEIR_EINVAL;
known:
	switch (out->kind) {
	case SERVICE_HTTP: {
		struct stat st;

		if (parse_port(colon + 1, ':', &out->port, &rest) < 0) {
			*why = "http wants http:PORT:DIR";
			return WEIR_EINVAL;
		}
		if (realpath(rest + 1, out->dir) == NULL || stat(out->dir, &st) != 0 ||
		    !S_ISDIR(st.st_mode)) {
			*why = "http: DIR is not an existing directory";
			return WEIR_EINVAL;
		}
		return 0;
	}
	case SERVICE_PROXY: {
		const char *c2;
		size_t hlen;
		struct weir_ipaddr ip;

		if (parse_port(colon + 1, '=', &out->port, &rest) < 0) {
			*why = "proxy wants proxy:PORT=HOST:PORT";
			return WEIR_EINVAL;
		}
		c2 = strrchr(rest + 1, ':');
		hlen = c2 ? (size_t)(c2 - (rest + 1)) : 0;
		if (c2 == NULL || hlen == 0 || hlen >= sizeof(out->backend_host)) {
			*why = "proxy wants proxy:PORT=HOST:PORT";
			return WEIR_EINVAL;
		}
		memcpy(out->backend_host, rest + 1, hlen);
		out->backend_host[hlen] = '\0';
		/* An IPv4 address, or a host name (letters, digits, '-', '.'), resolved per
		 * connection through the hosts table and DNS (--dns, or DHCP's servers). */
		if (weir_ipaddr_parse(out->backend_host, &ip) == 0
			    ? ip.v4 == 0
			    : !is_host_name(out->backend_host)) {
			*why = "proxy: HOST must be an IPv4 address or a host name";
			return WEIR_EINVAL;
		}
		if (parse_port(c2 + 1, '\0', &out->backend_port, NULL) < 0) {
			*why = "proxy: backend PORT must be 1..65535";
			return WEIR_EINVAL;
		}
		return 0;
	}
	default:
		if (parse_port(colon + 1, '\0', &out->port, NULL) < 0) {
			*why = "PORT must be 1..65535";
			return WEIR_EINVAL;
		}
		return 0;
	}
}

void service_log_end(struct service *sv, struct weir_flow *f, uint64_t t0)
{
	struct weir_flow_stats st;
	struct weir_ipaddr ip;
	uint16_t port;
	char a[WEIR_IPADDR_STRLEN];

	weir_flow_get_stats(f, &st);
	weir_flow_dst(f, &ip, &port);
	sv->bytes_in += st.bytes_in;
	sv->bytes_out += st.bytes_out;
	weir_log_info(
		"%s: flow %llu from %s:%u ended after %llu ms: %s (in %llu B, out %llu B, "
		"retransmitted %llu)",
		service_name(sv), (unsigned long long)weir_flow_id(f), weir_ipaddr_format(ip, a),
		port, (unsigned long long)((weir_clock_now_ns() - t0) / WEIR_NS_PER_MS),
		weir_close_reason_str(weir_flow_close_reason(f)), (unsigned long long)st.bytes_in,
		(unsigned long long)st.bytes_out, (unsigned long long)st.retransmissions);
}

/* Ends a served flow: close unless something already ended it, then log. */
static void finish(struct service *sv, struct weir_flow *f, uint64_t t0)
{
	if (weir_flow_close_reason(f) == WEIR_CLOSE_NONE)
		weir_flow_close(f);
	service_log_end(sv, f, t0);
}

static void echo_handler(struct weir_flow *f, void *arg)
{
	struct weir_buf b;
	uint64_t t0 = weir_clock_now_ns();
	ssize_t n;

	while ((n = weir_flow_read(f, &b)) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			break;
	}
	/* The client finished sending: finish ours (half-close), then close. */
	if (n == WEIR_EOF)
		weir_flow_shutdown(f, WEIR_SHUT_WR);
	finish(arg, f, t0);
}

static void discard_handler(struct weir_flow *f, void *arg)
{
	struct weir_buf b;
	uint64_t t0 = weir_clock_now_ns();

	/* Discard never sends: finish our direction at once (the client sees EOF) and keep
	 * taking its data. */
	weir_flow_shutdown(f, WEIR_SHUT_WR);
	while (weir_flow_read(f, &b) > 0)
		weir_buf_release(&b);
	finish(arg, f, t0);
}

/* RFC 864's pattern: 72-character lines of printable ASCII, each starting one character further
 * along the 95-character ring. */
static void chargen_line(char *line, unsigned start)
{
	for (unsigned i = 0; i < 72; i++)
		line[i] = (char)(' ' + (start + i) % 95);
	line[72] = '\r';
	line[73] = '\n';
}

struct chargen_reader {
	struct weir_flow *f;
	int done;
};

static void chargen_drain(void *arg)
{
	struct chargen_reader *r = arg;
	struct weir_buf b;

	/* Anything the client sends is discarded (RFC 864); its FIN ends the session. */
	while (weir_flow_read(r->f, &b) > 0)
		weir_buf_release(&b);
	r->done = 1;
	weir_flow_shutdown(r->f, WEIR_SHUT_WR);
}

static void chargen_handler(struct weir_flow *f, void *arg)
{
	char block[74 * 95];
	struct chargen_reader r = { .f = f };
	struct weir_fiber *reader;
	uint64_t t0 = weir_clock_now_ns();

	for (unsigned i = 0; i < 95; i++)
		chargen_line(block + 74 * i, i);
	if (weir_fiber_spawn(NULL, chargen_drain, &r, NULL, &reader) < 0) {
		finish(arg, f, t0);
		return;
	}
	while (!r.done && weir_flow_write(f, block, sizeof(block)) == 0)
		;
	/* Make the reader return (it may be blocked in a read), then collect it. */
	weir_fiber_cancel(reader);
	weir_fiber_join(reader);
	finish(arg, f, t0);
}

/* --- proxy ------------------------------------------------------------------------------------ */

struct pump {
	struct weir_flow *from, *to;
	int rc;
};

/* Copies from one flow to the other until EOF, then propagates the half-close. */
static void pump_run(struct pump *p)
{
	struct weir_buf b;
	ssize_t n;

	while ((n = weir_flow_read(p->from, &b)) > 0) {
		int rc = weir_flow_write(p->to, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0) {
			p->rc = rc;
			return;
		}
	}
	p->rc = n == WEIR_EOF ? 0 : (int)n;
	if (n == WEIR_EOF)
		weir_flow_shutdown(p->to, WEIR_SHUT_WR); /* one side's FIN becomes the other's */
}

static void pump_fiber(void *arg)
{
	pump_run(arg);
}

static void proxy_handler(struct weir_flow *client, void *arg)
{
	struct service *sv = arg;
	struct weir_tcp_connect_opts o = { .timeout_ns = 5 * WEIR_NS_PER_S };
	struct weir_connect_host_opts co = { 0 };
	char port[8];
	struct weir_flow *backend;
	struct weir_fiber *up;
	uint64_t t0 = weir_clock_now_ns();
	struct pump a, b;
	int rc;

	/* The backend flow lives in a scope of its own: however this handler ends (cancelled
	 * included), closing the scope closes the backend too. */
	struct weir_scope *scope;

	if (weir_scope_open(NULL, &scope) < 0) {
		weir_flow_abort(client);
		finish(sv, client, t0);
		return;
	}
	o.scope = scope;
	/* By name or address: each of the name's addresses in turn, looked up again when they all
	 * fail (weir_tcp_connect_host). */
	co.tcp = o;
	snprintf(port, sizeof(port), "%u", sv->backend_port);
	rc = weir_tcp_connect_host(sv->stack, sv->backend_host, port, &co, &backend);
	if (rc < 0) {
		/* Backend down: close the client cleanly (FIN), keep serving others. */
		weir_log_warn("proxy: flow %llu: backend %s:%u: %s",
			      (unsigned long long)weir_flow_id(client), sv->backend_host,
			      sv->backend_port, weir_strerror(rc));
		weir_scope_close(scope);
		finish(sv, client, t0);
		return;
	}
	a = (struct pump){ .from = client, .to = backend };
	b = (struct pump){ .from = backend, .to = client };
	if (weir_fiber_spawn(scope, pump_fiber, &a, NULL, &up) == 0) {
		pump_run(&b);
		if (b.rc < 0)
			weir_fiber_cancel(
				up); /* the backend failed: stop the other direction too */
		weir_fiber_join(up);
	}
	if (a.rc < 0 || b.rc < 0) {
		weir_flow_abort(backend);
	} else {
		weir_flow_close(backend);
	}
	weir_scope_close(scope);
	finish(sv, client, t0);
}

/* RFC 862 over UDP: every datagram goes back to where it came from. */
static void udp_echo_fiber(void *arg)
{
	struct service *sv = arg;
	struct weir_buf b;
	struct weir_ipaddr src;
	uint16_t sport;
	ssize_t n;

	while ((n = weir_udp_recv(sv->udp, &b, &src, &sport, 0)) >= 0) {
		int rc = weir_udp_send_to(sv->udp, src, sport, b.data, b.len);

		sv->bytes_in += (uint64_t)n;
		if (rc == 0)
			sv->bytes_out += (uint64_t)n;
		weir_buf_release(&b);
	}
}

void service_stop_udp(struct service *sv)
{
	if (sv->udp_fiber != NULL) {
		weir_fiber_cancel(sv->udp_fiber);
		weir_fiber_join(sv->udp_fiber);
		sv->udp_fiber = NULL;
	}
	weir_udp_close(sv->udp);
	sv->udp = NULL;
}

/* The counters for a scraper (Prometheus and the tools that read its text format): each request
 * (GET or HEAD, any path) is answered with the page and the connection closed, HTTP/1.0 style. */
#define METRICS_REQ_MAX	 4096
#define METRICS_PAGE_MAX (256 * 1024)

static void metrics_handler(struct weir_flow *f, void *arg)
{
	struct service *sv = arg;
	uint64_t t0 = weir_clock_now_ns();
	char req[METRICS_REQ_MAX + 1], hdr[160];
	size_t got = 0, len;
	char *page = NULL;
	int head, n;

	/* The request up to its blank line (what it asks does not matter: there is one page). */
	while (got < METRICS_REQ_MAX) {
		struct weir_buf b;
		ssize_t r = weir_flow_read(f, &b);
		size_t take;

		if (r <= 0)
			break;
		take = WEIR_MIN(b.len, METRICS_REQ_MAX - got);
		memcpy(req + got, b.data, take);
		got += take;
		weir_buf_release(&b);
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	req[got] = '\0';
	if (got < 4 || (strncmp(req, "GET ", 4) != 0 && strncmp(req, "HEAD ", 5) != 0)) {
		static const char bad[] = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n"
					  "Connection: close\r\n\r\n";

		if (got > 0)
			weir_flow_write(f, bad, sizeof(bad) - 1);
		goto out;
	}
	head = strncmp(req, "HEAD ", 5) == 0;
	page = malloc(METRICS_PAGE_MAX);
	len = page != NULL && sv->metrics != NULL ? sv->metrics(page, METRICS_PAGE_MAX) : 0;
	if (page == NULL || len >= METRICS_PAGE_MAX) {
		static const char busy[] =
			"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n";

		weir_log_warn("metrics: %s", page == NULL ? "no memory for the page"
							  : "the page is larger than its buffer");
		weir_flow_write(f, busy, sizeof(busy) - 1);
		goto out;
	}
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     len);
	if (weir_flow_write(f, hdr, (size_t)n) == 0 && !head)
		weir_flow_write(f, page, len);
out:
	free(page);
	if (weir_flow_close_reason(f) == WEIR_CLOSE_NONE)
		weir_flow_close(f);
	service_log_end(sv, f, t0);
}

int service_start(struct service *sv, struct weir_stack *stack, const struct weir_flow_opts *fo)
{
	static const weir_flow_handler handlers[] = {
		[SERVICE_ECHO] = echo_handler,	     [SERVICE_DISCARD] = discard_handler,
		[SERVICE_CHARGEN] = chargen_handler, [SERVICE_HTTP] = http_handler,
		[SERVICE_PROXY] = proxy_handler,     [SERVICE_METRICS] = metrics_handler,
	};
	struct weir_tcp_listen_opts o = {
		.port = sv->port,
		.reuse_addr = 1,
		.max_connections = sv->max_connections,
		/* --service-max-connections: closed at once, not queued */
		.refuse_over_max = sv->max_connections != 0
	};

	if (fo != NULL)
		o.flow = *fo;
	sv->stack = stack;
	if (sv->kind == SERVICE_UDP_ECHO) {
		struct weir_udp_opts uo = { .local_port = sv->port };
		int rc = weir_udp_open(stack, &uo, &sv->udp);

		if (rc < 0)
			return rc;
		rc = weir_fiber_spawn(NULL, udp_echo_fiber, sv, NULL, &sv->udp_fiber);
		if (rc < 0)
			service_stop_udp(sv);
		return rc;
	}
	return weir_tcp_listen(stack, &o, handlers[sv->kind], sv, &sv->listener);
}
