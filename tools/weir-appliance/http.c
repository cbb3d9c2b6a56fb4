/* http.c - the appliance's static-file HTTP/1.1 service: GET and HEAD from one directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "http"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/log.h>

#include "filecache.h"
#include "http.h"
#include "services.h"

/* A request's line and headers together; more is 400 and the connection closes. */
#define HTTP_HEAD_MAX 8192
/* The longest request target taken; longer is 400 (with the root in front, a path this long
 * could not name a file anyway: PATH_MAX). */
#define HTTP_URL_MAX 4096
/* Bytes taken from the flow per read: requests are small, and pipelined ones wait here. */
#define HTTP_IN_SIZE 4096
/* File bytes per pread and write: large files stream through one buffer this size. */
#define HTTP_CHUNK (64 * 1024)
/* A client that sends nothing for this long is let go (an idle keep-alive connection, or a head
 * trickling in): otherwise it holds a handler fiber forever and delays a drain to its end. */
#define HTTP_IDLE_TIMEOUT_NS (10 * WEIR_NS_PER_S)

struct http_conn {
	http_parser parser;
	struct weir_flow *flow;
	struct service *sv;
	size_t in_pos, in_len;
	/* The request being parsed: its target, and what its headers told us. */
	size_t url_len;
	unsigned host_count; /* Host headers seen (RFC 9112 §3.2: exactly one) */
	unsigned field_len;  /* bytes of the current header name so far */
	int field_is_host;   /* the current header name is still "host" */
	int in_value;	     /* the last header callback was a value */
	int url_too_long;
	int keep_alive;
	char url[HTTP_URL_MAX];
	char in[HTTP_IN_SIZE];
};

/* The hosted filesystem calls below (open, pread) block the loop's thread; that is acceptable
 * for an appliance serving files from local disk, mostly from the page cache. */

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->url_len = 0;
	c->url_too_long = 0;
	c->host_count = 0;
	c->field_len = 0;
	c->field_is_host = 0;
	c->in_value = 1; /* so the first header name starts a new field */
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	/* The parser may hand the target over in pieces: gather them. */
	if (len > sizeof(c->url) - c->url_len) {
		c->url_too_long = 1;
		return 1; /* stops the parser: answered with 400 */
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	static const char host[] = "host";
	struct http_conn *c = p->data;

	/* A name may also arrive in pieces; a value callback in between means a new name. */
	if (c->in_value) {
		c->in_value = 0;
		c->field_len = 0;
		c->field_is_host = 1;
	}
	if (c->field_is_host && (c->field_len + len > sizeof(host) - 1 ||
				 strncasecmp(at, host + c->field_len, len) != 0))
		c->field_is_host = 0;
	c->field_len += (unsigned)len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	(void)at;
	(void)len;
	if (!c->in_value && c->field_is_host && c->field_len == sizeof("host") - 1)
		c->host_count++;
	c->in_value = 1;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	/* Valid here and only here for this request (the parser resets its flags on the next). */
	c->keep_alive = http_should_keep_alive(p);
	/* Pausing makes http_parser_execute() return just after this request's last byte, so the
	 * answer goes out before the next pipelined request is parsed (and overwrites c->url). */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_message_complete = on_message_complete,
};

static const struct {
	const char *ext, *type;
} content_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "css", "text/css" },
	{ "js", "text/javascript" }, /* RFC 9239 */
	{ "json", "application/json" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "svg", "image/svg+xml" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "pdf", "application/pdf" },
	{ "wasm", "application/wasm" },
};

/* From the name the client asked for (not what a symlink resolves to), like other servers. */
static const char *content_type(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *dot = strrchr(slash ? slash : name, '.');

	if (dot != NULL)
		for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
			if (strcasecmp(dot + 1, content_types[i].ext) == 0)
				return content_types[i].type;
	return "application/octet-stream";
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes %XX in the path (RFC 3986 §2.1) into out (cap bytes, NUL-terminated) and checks it
 * names something below the root: it starts with '/', holds no NUL and no ".." segment (an
 * encoded "%2e%2e" or "..%2f" is caught because the check runs after decoding). Returns 0 or -1
 * (bad request). */
static int decode_path(const char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	if (len == 0 || in[0] != '/')
		return -1;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '%') {
			int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(in[i + 2]) : -1;

			if (lo < 0)
				return -1;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ch == '\0' || n + 1 >= cap)
			return -1;
		out[n++] = ch;
	}
	out[n] = '\0';
	for (const char *s = out; s != NULL; s = strchr(s + 1, '/'))
		if (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0'))
			return -1;
	return 0;
}

/* Whether the resolved path is the root or below it. */
static int inside_root(const char *root, const char *path)
{
	size_t n = strlen(root);

	/* A root of "/" keeps its slash after realpath(); every absolute path is below it. */
	if (n > 0 && root[n - 1] == '/')
		return strncmp(path, root, n) == 0;
	return strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* Opens a regular file at path (PATH_MAX bytes) if, once symlinks are resolved, it lies inside
 * the root; a directory yields its index.html under the same rule (path then names it, for the
 * content type). Returns the descriptor (its metadata in *st) or -1: not found. */
static int open_inside(const char *root, char *path, struct stat *st)
{
	char real[PATH_MAX];
	int fd;

	for (int tries = 0; tries < 2; tries++) {
		if (realpath(path, real) == NULL || !inside_root(root, real))
			return -1;
		/* O_NOFOLLOW: a symlink swapped in after realpath() is not followed (a renamed
		 * parent directory still could be: the document root is trusted to be the
		 * operator's). O_NONBLOCK: a FIFO must not block the loop; it is refused below. */
		fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			return -1;
		if (fstat(fd, st) < 0) {
			close(fd);
			return -1;
		}
		if (S_ISREG(st->st_mode))
			return fd;
		close(fd);
		/* No listings: a directory serves its index.html or nothing. */
		if (!S_ISDIR(st->st_mode) || tries > 0)
			return -1;
		if (strlen(path) + sizeof("/index.html") > PATH_MAX)
			return -1;
		strcat(path, path[strlen(path) - 1] == '/' ? "index.html" : "/index.html");
	}
	return -1;
}

/* Writes the status line and headers into buf (cap bytes). Returns their length. */
static size_t format_head(char *buf, size_t cap, int status, const char *type, uint64_t length,
			  int keep_alive, const char *extra)
{
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	/* RFC 9110 §6.6.1: an origin server with a clock sends Date. */
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
		date[0] = '\0';
	n = snprintf(buf, cap,
		     "HTTP/1.1 %d %s\r\n"
		     "Server: weir\r\n"
		     "Date: %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %llu\r\n"
		     "%s"
		     /* HTTP/1.0 clients (ab -k) keep the connection only when told so. */
		     "Connection: %s\r\n"
		     "\r\n",
		     status, http_status_str((enum http_status)status), date, type,
		     (unsigned long long)length, extra, keep_alive ? "keep-alive" : "close");
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Answers with a short text body (none for HEAD). Returns 0 or a weir error. */
static int send_status(struct http_conn *c, int status, int head_only, int keep_alive)
{
	char hdr[512], body[64];
	struct weir_iov iov[2];
	int blen = snprintf(body, sizeof(body), "%d %s\n", status,
			    http_status_str((enum http_status)status));

	iov[0].base = hdr;
	iov[0].len =
		format_head(hdr, sizeof(hdr), status, "text/plain; charset=utf-8", (uint64_t)blen,
			    keep_alive, status == 405 ? "Allow: GET, HEAD\r\n" : "");
	iov[1].base = body;
	iov[1].len = (size_t)blen;
	return weir_flow_writev(c->flow, iov, head_only ? 1 : 2);
}

/* Sends an open file: the first chunk leaves with the head, the rest one chunk at a time. Only
 * st_size bytes go out, as promised in Content-Length; a file that shrinks meanwhile leaves no
 * honest way to finish, so the flow is reset. Returns 0 or a weir error (*status is what was
 * sent). */
static int send_file(struct http_conn *c, int fd, const struct stat *st, const char *type,
		     int head_only, int *status)
{
	uint64_t size = (uint64_t)st->st_size, off = 0;
	size_t cap = size < HTTP_CHUNK ? (size_t)size : HTTP_CHUNK;
	char hdr[512], *buf = NULL;
	struct weir_iov iov[2];
	ssize_t n = 0;
	int rc;

	*status = 200;
	if (!head_only && size >= FILECACHE_MIN_SIZE) {
		/* A large file from memory the cache keeps: sent without a copy. */
		struct filecache_entry *e = filecache_get(fd, st);

		if (e != NULL) {
			iov[0].base = hdr;
			iov[0].len =
				format_head(hdr, sizeof(hdr), 200, type, size, c->keep_alive, "");
			rc = weir_flow_writev(c->flow, iov, 1);
			if (rc == 0)
				rc = weir_flow_write_nocopy(c->flow, e->data, e->size);
			filecache_put(e);
			return rc;
		}
	}
	if (!head_only && size > 0) {
		buf = malloc(cap);
		n = buf != NULL ? pread(fd, buf, cap, 0) : -1;
		if (n <= 0) {
			const char *why = buf == NULL ? "no memory"
					  : n == 0    ? "it is empty now"
						      : strerror(errno);

			weir_log_warn("flow %llu: cannot read a file: %s",
				      (unsigned long long)weir_flow_id(c->flow), why);
			free(buf);
			*status = 500;
			return send_status(c, 500, 0, c->keep_alive);
		}
	}
	iov[0].base = hdr;
	iov[0].len = format_head(hdr, sizeof(hdr), 200, type, size, c->keep_alive, "");
	iov[1].base = buf;
	iov[1].len = (size_t)n;
	rc = weir_flow_writev(c->flow, iov, n > 0 ? 2 : 1);
	off = head_only ? size : (uint64_t)n;
	while (rc == 0 && off < size) {
		size_t want = size - off < cap ? (size_t)(size - off) : cap;

		n = pread(fd, buf, want, (off_t)off);
		if (n <= 0) {
			weir_log_warn("flow %llu: file changed while sent (%llu of %llu B): reset",
				      (unsigned long long)weir_flow_id(c->flow),
				      (unsigned long long)off, (unsigned long long)size);
			weir_flow_abort(c->flow);
			rc = WEIR_EIO;
			break;
		}
		rc = weir_flow_write(c->flow, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return rc;
}

/* Answers the request the parser just completed. Returns 0 or a weir error. */
static int respond(struct http_conn *c)
{
	const http_parser *p = &c->parser;
	int head_only = p->method == HTTP_HEAD;
	unsigned long long flow_id = (unsigned long long)weir_flow_id(c->flow);
	struct http_parser_url u;
	char path[PATH_MAX];
	uint64_t body = 0;
	struct stat st;
	int status, fd, rc;

	if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
		status = 405;
	} else if ((p->http_major == 1 && p->http_minor >= 1 && c->host_count != 1) ||
		   c->host_count > 1) {
		status = 400;
	} else {
		/* The target may be origin-form ("/a?q") or absolute-form ("http://h/a"). */
		http_parser_url_init(&u);
		if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0) {
			status = 400;
		} else {
			size_t root_len = strlen(c->sv->dir);
			const char *up = "/";
			size_t ulen = 1;

			if (u.field_set & (1 << UF_PATH)) {
				up = c->url + u.field_data[UF_PATH].off;
				ulen = u.field_data[UF_PATH].len;
			}
			memcpy(path, c->sv->dir, root_len);
			status = decode_path(up, ulen, path + root_len, sizeof(path) - root_len) < 0
					 ? 400
					 : 0;
		}
	}
	if (status == 400)
		c->keep_alive = 0;
	if (status != 0) {
		rc = send_status(c, status, head_only, c->keep_alive);
	} else if ((fd = open_inside(c->sv->dir, path, &st)) < 0) {
		status = 404;
		rc = send_status(c, status, head_only, c->keep_alive);
	} else {
		rc = send_file(c, fd, &st, content_type(path), head_only, &status);
		close(fd);
		if (status == 200 && !head_only)
			body = (uint64_t)st.st_size;
	}
	/* The target as sent, cut short: it is the client's text, not ours. */
	weir_log_debug("flow %llu: %s %.*s %d %llu B%s", flow_id,
		       http_method_str((enum http_method)p->method),
		       (int)(c->url_len > 200 ? 200 : c->url_len), c->url, status,
		       (unsigned long long)body, rc < 0 ? " (failed)" : "");
	return rc;
}

void http_handler(struct weir_flow *f, void *arg)
{
	struct service *sv = arg;
	uint64_t t0 = weir_clock_now_ns();
	struct http_conn *c;

	/* Process-wide in this library; every HTTP flow of the appliance wants the same limit. */
	http_parser_set_max_header_size(HTTP_HEAD_MAX);
	c = malloc(sizeof(*c));
	if (c == NULL) {
		weir_log_warn("flow %llu: no memory for the connection",
			      (unsigned long long)weir_flow_id(f));
		weir_flow_abort(f);
		service_log_end(sv, f, t0);
		return;
	}
	c->flow = f;
	c->sv = sv;
	c->in_pos = c->in_len = 0;
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	/* The parser can fail before its first on_message_begin (garbage in the first bytes). */
	on_message_begin(&c->parser);
	c->keep_alive = 0;

	for (;;) {
		enum http_errno err;
		size_t used;

		if (c->in_pos == c->in_len) {
			ssize_t n = weir_flow_read_into_until(f, c->in, sizeof(c->in),
							      weir_clock_now_ns() +
								      HTTP_IDLE_TIMEOUT_NS);

			/* EOF (the client half-closed) comes only after every complete request
			 * in the buffer was answered; a partial one is dropped. */
			if (n == WEIR_ETIMEDOUT)
				weir_log_debug(
					"flow %llu: idle for %llu s, closing",
					(unsigned long long)weir_flow_id(f),
					(unsigned long long)(HTTP_IDLE_TIMEOUT_NS / WEIR_NS_PER_S));
			if (n <= 0)
				break;
			c->in_pos = 0;
			c->in_len = (size_t)n;
		}
		used = http_parser_execute(&c->parser, &parser_settings, c->in + c->in_pos,
					   c->in_len - c->in_pos);
		c->in_pos += used;
		err = HTTP_PARSER_ERRNO(&c->parser);
		if (err == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			/* After an Upgrade or CONNECT the rest is not HTTP: answer, then close. */
			if (c->parser.upgrade)
				c->keep_alive = 0;
			if (respond(c) < 0 || !c->keep_alive)
				break;
		} else if (err != HPE_OK) {
			weir_log_debug("flow %llu: bad request: %s%s",
				       (unsigned long long)weir_flow_id(f), http_errno_name(err),
				       c->url_too_long ? " (target too long)" : "");
			send_status(c, 400, 0, 0);
			break;
		} else if (c->parser.upgrade) {
			break; /* defensive: the parser stopped without completing a request */
		}
	}
	free(c);
	if (weir_flow_close_reason(f) == WEIR_CLOSE_NONE)
		weir_flow_close(f);
	/* Adds the flow's byte counts to sv->bytes_in/bytes_out and logs how it ended. */
	service_log_end(sv, f, t0);
}
