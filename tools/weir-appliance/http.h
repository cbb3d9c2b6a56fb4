/* http.h - the appliance's static-file HTTP/1.1 service (GET, HEAD, keep-alive). */
#ifndef WEIR_APPLIANCE_HTTP_H
#define WEIR_APPLIANCE_HTTP_H

#include <weir/flow.h>

/* A weir_flow_handler: arg is the struct service (kind SERVICE_HTTP; sv->dir is the resolved
 * document root). Serves requests on the flow until the client closes or errs, then returns. */
void http_handler(struct weir_flow *f, void *arg);

#endif
