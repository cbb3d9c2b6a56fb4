/* services.h - the appliance's TCP services, built only on weir's public flow API. */
#ifndef WEIR_APPLIANCE_SERVICES_H
#define WEIR_APPLIANCE_SERVICES_H

#include <weir/flow.h>

enum service_kind { SERVICE_ECHO, SERVICE_DISCARD };

struct service {
	enum service_kind kind;
	uint16_t port;
	struct weir_listener *listener;
};

/* Parses "echo:PORT" or "discard:PORT". Returns 0 or WEIR_EINVAL. */
int service_parse(const char *spec, struct service *out);
/* Starts listening. Returns 0 or a weir error. */
int service_start(struct service *sv, struct weir_stack *stack, const struct weir_flow_opts *fo);
const char *service_name(const struct service *sv);

#endif
