/* http.c - the image's web server (see http.h): a request is read up to its blank line, answered
 * from memory, and the connection kept for the next one. No heap: the request lives on the
 * handler fiber's stack. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <weir/clock.h>
#include <weir/error.h>

#include "http.h"

#define REQ_MAX 1024
#define IDLE_NS (10 * WEIR_NS_PER_S)

static const char page[] =
	"<!doctype html>\n"
	"<html><head><title>weir on " WEIR_IMAGE_TITLE "</title></head>\n"
	"<body><h1>weir</h1>\n"
	"<p>A userspace TCP/IP stack on lwIP, here without an OS: " WEIR_IMAGE_TITLE
	", its\n" WEIR_IMAGE_NIC " network device, fibers and the flow API.</p>\n"
	"</body></html>\n";
static const char not_found[] = "not found\n";
unsigned long weir_image_http_requests;
static const char not_allowed[] = "only GET and HEAD\n";

/* Case-insensitive search for a header line "name: value" whose value contains token. */
static int header_has(const char *hdrs, const char *end, const char *name, const char *token)
{
	size_t nl = strlen(name), tl = strlen(token);

	for (const char *p = hdrs; p < end; p++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			for (const char *v = p + nl + 1; v + tl <= eol; v++)
				if (strncasecmp(v, token, tl) == 0)
					return 1;
		}
		p = eol;
	}
	return 0;
}

static int respond(struct weir_flow *f, int status, const char *reason, const char *body,
		   size_t len, int head, int keep)
{
	char hdr[200];
	struct weir_iov iov[2];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %u\r\n"
			 "Server: weir\r\n%s%s\r\n",
			 status, reason, (unsigned)len, status == 405 ? "Allow: GET, HEAD\r\n" : "",
			 keep ? "" : "Connection: close\r\n");

	weir_image_http_requests++;
	iov[0] = (struct weir_iov){ hdr, (size_t)n };
	iov[1] = (struct weir_iov){ body, head ? 0 : len };
	return weir_flow_writev(f, iov, 2);
}

void weir_image_http(struct weir_flow *f, void *arg)
{
	char req[REQ_MAX + 1];
	size_t have = 0;

	(void)arg;
	for (;;) {
		char *end, method[8], path[64], version[10];
		int keep, head, rc;
		size_t used;

		/* Read until the blank line that ends the headers. */
		req[have] = '\0';
		while ((end = strstr(req, "\r\n\r\n")) == NULL) {
			ssize_t n;

			if (have == REQ_MAX) {
				respond(f, 431, "Request Header Fields Too Large", "", 0, 0, 0);
				return;
			}
			n = weir_flow_read_into_until(f, req + have, REQ_MAX - have,
						      weir_clock_now_ns() + IDLE_NS);
			if (n <= 0)
				return; /* closed, reset, or idle too long */
			have += (size_t)n;
			req[have] = '\0';
		}
		used = (size_t)(end + 4 - req);
		if (sscanf(req, "%7s %63s %9s", method, path, version) != 3 ||
		    strncmp(version, "HTTP/1.", 7) != 0) {
			respond(f, 400, "Bad Request", "", 0, 0, 0);
			return;
		}
		keep = version[7] == '1' ? !header_has(req, end, "connection", "close")
					 : header_has(req, end, "connection", "keep-alive");
		head = strcmp(method, "HEAD") == 0;
		if (!head && strcmp(method, "GET") != 0) {
			/* A body we do not read would be taken for the next request: close. */
			respond(f, 405, "Method Not Allowed", not_allowed, sizeof(not_allowed) - 1,
				0, 0);
			return;
		}
		if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
			rc = respond(f, 200, "OK", page, sizeof(page) - 1, head, keep);
		else
			rc = respond(f, 404, "Not Found", not_found, sizeof(not_found) - 1, head,
				     keep);
		if (rc < 0 || !keep)
			return;
		/* Whatever follows the blank line is the next request (GET and HEAD have no body).
		 */
		memmove(req, req + used, have - used);
		have -= used;
	}
}
