/* http.h - the image's web server: one page compiled in, HTTP/1.1 with keep-alive. */
#ifndef WEIR_IMAGE_HTTP_H
#define WEIR_IMAGE_HTTP_H

#include <weir/flow.h>

/* A listener's handler: answers GET and HEAD of / (the page) and anything else with 404 (other
 * methods: 405), keeping the connection for the next request unless the client says close or
 * speaks HTTP/1.0 without keep-alive. A client silent for 10 s is closed. */
void weir_image_http(struct weir_flow *f, void *arg);
/* Requests answered so far. */
extern unsigned long weir_image_http_requests;

#endif
