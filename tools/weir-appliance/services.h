/* services.h - the appliance's TCP services, built only on weir's public flow API. */
#ifndef WEIR_APPLIANCE_SERVICES_H
#define WEIR_APPLIANCE_SERVICES_H

#include <limits.h>

#include <weir/flow.h>
#include <weir/resolve.h>
#include <weir/udp.h>

enum service_kind {
	SERVICE_ECHO,
	SERVICE_DISCARD,
	SERVICE_CHARGEN,
	SERVICE_HTTP,
	SERVICE_PROXY,
	SERVICE_UDP_ECHO,
	SERVICE_METRICS,
};

/* Renders every counter in the Prometheus text format (version 0.0.4) into buf, at most cap
 * bytes; returns the length, or more than cap when it did not fit (main.c). */
typedef size_t (*service_metrics_fn)(char *buf, size_t cap);

struct service {
	enum service_kind kind;
	uint16_t port;
	char dir[PATH_MAX];		      /* http: the document root, resolved (realpath) */
	char backend_host[WEIR_NAME_MAX + 1]; /* proxy: an IPv4 address or a host name */
	uint16_t backend_port;		      /* proxy */
	unsigned max_connections;	      /* 0: no limit */
	struct weir_stack *stack;
	struct weir_listener *listener; /* TCP services */
	struct weir_udp *udp;		/* udp-echo */
	struct weir_fiber *udp_fiber;
	uint64_t bytes_in, bytes_out; /* over all flows, for the stats line */
	service_metrics_fn metrics;   /* metrics: what the page holds */
};

/* Parses echo:PORT, discard:PORT, chargen:PORT, metrics:PORT, http:PORT:DIR or
 * proxy:PORT=HOST:PORT. On
 * failure returns WEIR_EINVAL and points *why at a static explanation. */
int service_parse(const char *spec, struct service *out, const char **why);
/* Stops a UDP service (TCP services close through their listener). */
void service_stop_udp(struct service *sv);
/* Starts listening. Returns 0 or a weir error. */
int service_start(struct service *sv, struct weir_stack *stack, const struct weir_flow_opts *fo);
const char *service_name(const struct service *sv);
/* Logs how a flow of this service ended (component "service", with the flow id). */
void service_log_end(struct service *sv, struct weir_flow *f, uint64_t started_ns);

#endif
