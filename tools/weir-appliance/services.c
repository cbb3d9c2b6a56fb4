/* services.c - echo (RFC 862) and discard (RFC 863) over weir flows. */
#include <stdlib.h>
#include <string.h>

#define WEIR_LOG_COMPONENT "service"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>

#include "services.h"

static const char *const kind_names[] = { [SERVICE_ECHO] = "echo", [SERVICE_DISCARD] = "discard" };

const char *service_name(const struct service *sv)
{
	return kind_names[sv->kind];
}

int service_parse(const char *spec, struct service *out)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	char *end;
	unsigned long port;

	if (colon == NULL)
		return WEIR_EINVAL;
	memset(out, 0, sizeof(*out));
	if ((size_t)(colon - spec) == 4 && strncmp(spec, "echo", 4) == 0)
		out->kind = SERVICE_ECHO;
	else if ((size_t)(colon - spec) == 7 && strncmp(spec, "discard", 7) == 0)
		out->kind = SERVICE_DISCARD;
	else
		return WEIR_EINVAL;
	if (colon[1] < '0' || colon[1] > '9')
		return WEIR_EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return WEIR_EINVAL;
	out->port = (uint16_t)port;
	return 0;
}

static void log_end(const struct service *sv, struct weir_flow *f, uint64_t t0)
{
	struct weir_flow_stats st;
	struct weir_ipaddr ip;
	uint16_t port;
	char a[WEIR_IPADDR_STRLEN];

	weir_flow_get_stats(f, &st);
	weir_flow_dst(f, &ip, &port);
	weir_log_info("%s: flow %llu from %s:%u ended after %llu ms: %s (in %llu B, out %llu B, "
		      "retransmitted %llu)",
		      service_name(sv), (unsigned long long)weir_flow_id(f),
		      weir_ipaddr_format(ip, a), port,
		      (unsigned long long)((weir_clock_now_ns() - t0) / WEIR_NS_PER_MS),
		      weir_close_reason_str(weir_flow_close_reason(f)),
		      (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out,
		      (unsigned long long)st.retransmissions);
}

static void echo_handler(struct weir_flow *f, void *arg)
{
	struct weir_buf b;
	uint64_t t0 = weir_clock_now_ns();
	ssize_t n;

	weir_log_debug("echo: flow %llu accepted", (unsigned long long)weir_flow_id(f));
	while ((n = weir_flow_read(f, &b)) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			break;
	}
	/* The client finished sending: finish ours (half-close), then the listener closes. */
	if (n == WEIR_EOF)
		weir_flow_shutdown(f, WEIR_SHUT_WR);
	if (weir_flow_close_reason(f) == WEIR_CLOSE_NONE)
		weir_flow_close(f);
	log_end(arg, f, t0);
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
	if (weir_flow_close_reason(f) == WEIR_CLOSE_NONE)
		weir_flow_close(f);
	log_end(arg, f, t0);
}

int service_start(struct service *sv, struct weir_stack *stack, const struct weir_flow_opts *fo)
{
	struct weir_tcp_listen_opts o = { .port = sv->port, .reuse_addr = 1 };

	if (fo != NULL)
		o.flow = *fo;
	return weir_tcp_listen(stack, &o, sv->kind == SERVICE_ECHO ? echo_handler : discard_handler,
			       sv, &sv->listener);
}
