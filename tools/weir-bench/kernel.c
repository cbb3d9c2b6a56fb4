/* kernel.c - weir-bench's Linux backend: the same workloads on kernel sockets, so the baselines
 * run the same client logic as the weir rows. The server is one thread on epoll. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <weir/config.h>
#if defined(CONFIG_WEIR_DRIVER_TAP) && CONFIG_WEIR_DRIVER_TAP
#include <weir/tap.h>
#define HAVE_TAP 1
#endif

#include "bench.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int sysfail(const char *what)
{
	fprintf(stderr, "weir-bench: %s: %s\n", what, strerror(errno));
	return 1;
}

static int make_addr(const char *ip, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (ip == NULL) {
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "weir-bench: bad address '%s' (want a dotted quad)\n", ip);
		return -1;
	}
	return 0;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- server ---- */

/* epoll data: the fd, and whether it echoes (bit 32) or is a listener (bit 33). */
#define EV_ECHO	  (1ull << 32)
#define EV_LISTEN (1ull << 33)

static int listen_on(int ep, const char *ip, uint16_t port, uint64_t kind)
{
	struct sockaddr_in sa;
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, one = 1;

	if (make_addr(ip, port, &sa) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sysfail("socket"), -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
		sysfail("bind/listen");
		close(fd);
		return -1;
	}
	ev.data.u64 = (uint64_t)fd | kind | EV_LISTEN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		sysfail("epoll_ctl");
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes all of buf to a non-blocking socket (waiting for room if needed). */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			if (poll(&p, 1, 1000) < 0 && errno != EINTR)
				return -1;
			continue;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Serves one readable connection; returns -1 when it is finished (EOF or error). */
static int serve(int fd, int is_echo, uint8_t *buf, size_t cap)
{
	/* A few reads per wake-up, so eight bulk flows share the thread fairly. */
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, cap);

		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (is_echo && write_all(fd, buf, (size_t)n) < 0)
			return -1;
	}
	return 0;
}

int bench_kernel_server(const struct bench_opts *o)
{
	struct epoll_event evs[64];
	size_t cap = 256 * 1024;
	uint8_t *buf = malloc(cap);
	int ep = epoll_create1(EPOLL_CLOEXEC), ld = -1, le = -1, rc = 1;

	if (buf == NULL || ep < 0) {
		sysfail("setup");
		goto out;
	}
	ld = listen_on(ep, o->bind_ip, o->port, 0);
	le = listen_on(ep, o->bind_ip, (uint16_t)(o->port + 1), EV_ECHO);
	if (ld < 0 || le < 0)
		goto out;
	printf("ready kernel server %s ports %u,%u\n", o->bind_ip ? o->bind_ip : "0.0.0.0", o->port,
	       o->port + 1);
	fflush(stdout);
	while (!bench_stop) {
		int n = epoll_wait(ep, evs, 64, 200);

		if (n < 0 && errno != EINTR) {
			sysfail("epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(uint32_t)evs[i].data.u64;
			int is_echo = (evs[i].data.u64 & EV_ECHO) != 0;

			if (evs[i].data.u64 & EV_LISTEN) {
				int c;

				while ((c = accept4(fd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event ev = { .events = EPOLLIN };

					if (is_echo)
						set_nodelay(c);
					ev.data.u64 = (uint64_t)c | (is_echo ? EV_ECHO : 0);
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0)
						close(c);
				}
				continue;
			}
			if (serve(fd, is_echo, buf, cap) < 0)
				close(fd); /* also leaves the epoll set */
		}
	}
	rc = 0;
out:
	/* Connections still open are closed by exit. */
	if (ld >= 0)
		close(ld);
	if (le >= 0)
		close(le);
	if (ep >= 0)
		close(ep);
	free(buf);
	return rc;
}

/* ---- client ---- */

static pthread_once_t kernel_cc_once = PTHREAD_ONCE_INIT;
static const char *kernel_cc;

static void read_kernel_cc(void)
{
	kernel_cc = getenv("WEIR_BENCH_KERNEL_CC");
}

#ifdef HAVE_TAP
/* --spread N: binds fd to a source port that weir's TAP steering puts on queue q of N for a
 * connection to dport, starting at a random place in 20000..59999 (a hint shared by the flows'
 * threads; losing an update only means a longer scan). No SO_REUSEADDR: a port another socket
 * holds (another flow's, or a connection in TIME_WAIT) fails to bind and the next one is tried.
 * Returns 0, or -1 with errno (EADDRINUSE: no such port free). */
static int bind_spread(int fd, uint16_t dport, unsigned n, unsigned q)
{
	static _Atomic unsigned next = UINT_MAX; /* UINT_MAX: no hint yet */
	struct sockaddr_in me = { .sin_family = AF_INET };
	unsigned start = atomic_load(&next);

	if (start == UINT_MAX)
		start = (unsigned)(now_ns() ^ (uint64_t)getpid());
	start %= 40000;
	for (unsigned k = 0; k < 40000; k++) {
		uint16_t p = (uint16_t)(20000 + (start + k) % 40000);

		if (weir_tap_steer_queue(p, dport, n) != q)
			continue;
		me.sin_port = htons(p);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0) {
			atomic_store(&next, (start + k + 1) % 40000);
			return 0;
		}
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}
#endif

/* Connects to the peer's port. q >= 0 (bulk flows, with --spread): from a port steered to queue
 * q % N (see above). */
static int dial_to_queue(const struct bench_opts *o, uint16_t port, int nodelay, int q)
{
	struct sockaddr_in sa;
	int fd;

	if (make_addr(o->peer, port, &sa) < 0)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
#ifdef HAVE_TAP
	if (q >= 0 && o->spread > 1 &&
	    bind_spread(fd, port, o->spread, (unsigned)q % o->spread) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
#else
	(void)q;
#endif
	if (nodelay)
		set_nodelay(fd);
	/* WEIR_BENCH_KERNEL_CC: the client's congestion control (tools/bench-loss.sh compares
	 * weir with CUBIC as well as with the kernel's default). Read once: crr dials in its
	 * measured loop. */
	{
		const char *cc;

		pthread_once(&kernel_cc_once, read_kernel_cc);
		cc = kernel_cc;
		if (cc != NULL &&
		    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0) {
			int e = errno;

			sysfail("setsockopt TCP_CONGESTION");
			close(fd);
			errno = e;
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int dial(const struct bench_opts *o, uint16_t port, int nodelay)
{
	return dial_to_queue(o, port, nodelay, -1);
}

static int read_exact(int fd, uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, buf, len);

		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sleeps until the monotonic time due (ns). */
static void pace_until(uint64_t due)
{
	struct timespec ts = { .tv_sec = (time_t)(due / 1000000000u),
			       .tv_nsec = (long)(due % 1000000000u) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

struct kbulk {
	const struct bench_opts *o;
	uint64_t deadline, bytes, end, retrans;
	double share; /* --rate: this flow's Mbit/s, or 0 */
	unsigned index;
	int rc;
	pthread_t th;
};

static void *bulk_thread(void *arg)
{
	static uint8_t chunk[BENCH_CHUNK];
	struct kbulk *b = arg;
	uint8_t sink[256];
	uint64_t due, now;
	int fd = dial_to_queue(b->o, b->o->port, 0, (int)b->index);

	if (fd < 0) {
		b->rc = sysfail("bulk connect");
		return NULL;
	}
	due = now_ns();
	while ((now = now_ns()) < b->deadline) {
		ssize_t w;

		if (b->share > 0 && now < due) {
			pace_until(due < b->deadline ? due : b->deadline); /* never past the end */
			continue;
		}
		w = write(fd, chunk, sizeof(chunk));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			b->rc = sysfail("bulk write");
			close(fd);
			return NULL;
		}
		b->bytes += (uint64_t)w;
		if (b->share > 0)
			due = bench_next_due(due, now, (double)w * 8 / 1e6, b->share);
	}
	/* The server reads to our FIN and closes: its FIN says every byte arrived. */
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n = read(fd, sink, sizeof(sink));

		if (n > 0 || (n < 0 && errno == EINTR))
			continue;
		if (n < 0)
			b->rc = sysfail("bulk: waiting for the server's EOF");
		break;
	}
	b->end = now_ns();
	{
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
			b->retrans = ti.tcpi_total_retrans;
	}
	close(fd);
	return NULL;
}

struct kcrr {
	const struct bench_opts *o;
	uint64_t deadline, ops, errors, end;
	double share; /* --rate: this loop's connections/s, or 0 */
	pthread_t th;
};

/* One crr loop: connect, request, reply, close, until the deadline. */
static void *crr_thread(void *arg)
{
	struct kcrr *c = arg;
	uint8_t req[BENCH_MSG], rep[BENCH_MSG];
	uint64_t due = now_ns(), t0;
	int fd;

	memset(req, 0x42, sizeof(req));
	while ((t0 = now_ns()) < c->deadline) {
		if (c->share > 0 && t0 < due) {
			pace_until(due < c->deadline ? due : c->deadline); /* never past the end */
			continue;
		}
		fd = dial(c->o, (uint16_t)(c->o->port + 1), 1);
		if (fd >= 0 && write(fd, req, sizeof(req)) == (ssize_t)sizeof(req) &&
		    read_exact(fd, rep, sizeof(rep)) == 0) {
			c->ops++;
		} else if (c->errors++ == 0) {
			sysfail("crr (first error; counting the rest)");
		}
		if (fd >= 0)
			close(fd);
		if (c->share > 0)
			due = bench_next_due(due, t0, 1, c->share);
	}
	c->end = t0;
	return NULL;
}

int bench_kernel_client(const struct bench_opts *o, struct bench_result *r)
{
	uint8_t req[BENCH_MSG], rep[BENCH_MSG];
	uint64_t start = now_ns(), deadline = start + (uint64_t)(o->duration_s * 1e9), t0, t1;
	struct sockaddr_in probe;
	int fd;

	r->test = o->test;
	r->flows = o->flows;
	if (make_addr(o->peer, o->port, &probe) < 0)
		return 1;
	memset(req, 0x42, sizeof(req));
	if (o->test == BENCH_BULK) {
		struct kbulk b[BENCH_MAX_FLOWS] = { 0 };
		uint64_t end = 0;
		int rc = 0;

		for (unsigned i = 0; i < o->flows; i++) {
			b[i].o = o;
			b[i].deadline = deadline;
			b[i].share = o->rate / o->flows;
			b[i].index = i;
			if (pthread_create(&b[i].th, NULL, bulk_thread, &b[i]) != 0) {
				fprintf(stderr, "weir-bench: pthread_create failed\n");
				for (unsigned k = 0; k < i; k++)
					pthread_join(b[k].th, NULL);
				return 1;
			}
		}
		for (unsigned i = 0; i < o->flows; i++) {
			pthread_join(b[i].th, NULL);
			rc |= b[i].rc;
			r->bytes += b[i].bytes;
			r->retrans += b[i].retrans;
			if (b[i].end > end)
				end = b[i].end;
		}
		r->seconds = (double)(end - start) / 1e9;
		return rc;
	}
	if (o->test == BENCH_RR) {
		uint64_t i = 0;

		fd = dial(o, (uint16_t)(o->port + 1), 1);
		if (fd < 0)
			return sysfail("rr connect");
		for (;;) {
			t0 = now_ns();
			if (i == BENCH_RR_WARMUP) {
				start = t0;
				deadline = t0 + (uint64_t)(o->duration_s * 1e9);
			}
			if (i >= BENCH_RR_WARMUP && t0 >= deadline)
				break;
			if (write(fd, req, sizeof(req)) != (ssize_t)sizeof(req) ||
			    read_exact(fd, rep, sizeof(rep)) < 0) {
				close(fd);
				return sysfail("rr round trip");
			}
			t1 = now_ns();
			if (i++ >= BENCH_RR_WARMUP && bench_lat_add(r, t1 - t0) < 0) {
				close(fd);
				fprintf(stderr, "weir-bench: rr samples: out of memory\n");
				return 1;
			}
		}
		r->seconds = (double)(t0 - start) / 1e9;
		r->ops = r->lat_len;
		close(fd);
		return 0;
	}
	{
		struct kcrr c[BENCH_MAX_FLOWS] = { 0 };
		uint64_t end = start;

		for (unsigned i = 0; i < o->flows; i++) {
			c[i].o = o;
			c[i].deadline = deadline;
			c[i].share = o->rate / o->flows;
			if (pthread_create(&c[i].th, NULL, crr_thread, &c[i]) != 0) {
				fprintf(stderr, "weir-bench: pthread_create failed\n");
				for (unsigned k = 0; k < i; k++)
					pthread_join(c[k].th, NULL);
				return 1;
			}
		}
		for (unsigned i = 0; i < o->flows; i++) {
			pthread_join(c[i].th, NULL);
			r->ops += c[i].ops;
			r->errors += c[i].errors;
			if (c[i].end > end)
				end = c[i].end;
		}
		r->seconds = (double)(end - start) / 1e9;
	}
	return r->ops == 0;
}
