/* udp.h - UDP datagram sockets, direct-style on fibers (Eio's datagram sockets).
 *
 * Opening, sending and closing never block and work from the main context too. Receiving may
 * yield: it must run in a fiber (from the main context it returns WEIR_EINVAL), and a blocked
 * receive returns WEIR_ECANCELED when its fiber is cancelled (nothing is consumed then).
 *
 * Errors: caller bugs (NULL, address or port 0 where a peer is needed) are WEIR_EINVAL; using a
 * socket after weir_udp_close() is a caller bug too (the handle is freed). A socket closed by its
 * scope (or by weir_udp_close() from another fiber) wakes its receivers with WEIR_ECLOSED.
 * Datagrams too long for IPv4 are WEIR_EMSGSIZE; no route is WEIR_EUNREACH; no memory in lwIP is
 * WEIR_ENOMEM. UDP is unreliable: a send that returned 0 may still be lost.
 *
 * Receive queue: each socket keeps up to queue_max datagrams nobody has read yet; datagrams
 * arriving beyond that are dropped and counted (weir_udp_get_stats().dropped_queue_full).
 *
 * Lifetime: a socket belongs to a scope (opts.scope, or the caller's) and is closed and freed by
 * weir_udp_close() or when that scope closes, whichever comes first.
 */
#ifndef WEIR_UDP_H
#define WEIR_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <weir/fiber.h>
#include <weir/flow.h> /* struct weir_buf, weir_buf_release() */
#include <weir/stack.h>

struct weir_udp;

/* The largest IPv4 UDP payload: 65535 - 20 (IP header) - 8 (UDP header). lwIP fragments
 * datagrams larger than the MTU (IP_FRAG). */
#define WEIR_UDP_MAX_PAYLOAD   65507u
#define WEIR_UDP_QUEUE_DEFAULT 256u

struct weir_udp_opts {
	struct weir_ipaddr local_ip; /* 0.0.0.0: any of the stack's addresses */
	uint16_t local_port;	     /* 0: an ephemeral port (weir_udp_port) */
	unsigned queue_max;	     /* unread datagrams kept; 0: WEIR_UDP_QUEUE_DEFAULT */
	struct weir_scope *scope;    /* owner; NULL: the calling fiber's scope (root from main) */
	/* 1: share the port with other sockets opened with reuse_addr (SO_REUSEADDR; unicast
	 * datagrams go to the one opened first, broadcasts to all). WEIR_ENOTSUP in a build
	 * without CONFIG_LWIP_SO_REUSE. */
	int reuse_addr;
	int reuse_port; /* SO_REUSEPORT: 1 on a shard's stack (as weir_tcp_listen's); alone:
			   WEIR_ENOTSUP */
};

/* Opens a socket bound to opts->local_ip:local_port (opts may be NULL: any address, ephemeral
 * port). Does not block. Returns 0 and sets *out, or WEIR_EINVAL (NULL stack/out, closing scope),
 * WEIR_EADDRINUSE (the port is bound already), WEIR_ENOTSUP (reuse_port, or reuse_addr where the
 * build lacks it), WEIR_ENOMEM (no pcb or memory). */
int weir_udp_open(struct weir_stack *stack, const struct weir_udp_opts *opts,
		  struct weir_udp **out);
/* The local port (the chosen one when opts.local_port was 0); 0 for NULL. */
uint16_t weir_udp_port(const struct weir_udp *u);

/* Sends one datagram of len bytes (0..WEIR_UDP_MAX_PAYLOAD) to dst:port. The data is copied: the
 * caller keeps data, on success and on failure. Does not block. Returns 0, WEIR_EINVAL (NULL u,
 * data NULL with len > 0, dst 0.0.0.0, port 0), WEIR_EMSGSIZE (len too big), WEIR_ECLOSED (the
 * socket was closed by its scope or another fiber while still referenced), WEIR_EUNREACH (no
 * route), WEIR_ENOMEM. */
int weir_udp_send_to(struct weir_udp *u, struct weir_ipaddr dst, uint16_t port, const void *data,
		     size_t len);

/* Blocks until a datagram is queued, then copies it into buf (cap bytes; buf may be NULL when
 * cap is 0) and sets *src and *sport (either may be NULL). The datagram is always consumed: when
 * it is longer than cap, the first cap bytes are copied and WEIR_EMSGSIZE is returned (the rest
 * is lost, like recvfrom() with MSG_TRUNC reported as an error). timeout_ns is relative; 0 waits
 * forever (weir/clock.h). May yield.
 * Returns the datagram length (>= 0), WEIR_EMSGSIZE, WEIR_ETIMEDOUT, WEIR_ECANCELED (nothing
 * consumed), WEIR_ECLOSED (the socket was closed while waiting), WEIR_EINVAL (NULL u, buf NULL
 * with cap > 0, not in a fiber). */
ssize_t weir_udp_recv_from(struct weir_udp *u, void *buf, size_t cap, struct weir_ipaddr *src,
			   uint16_t *sport, uint64_t timeout_ns);

/* As weir_udp_recv_from, zero-copy: buf->data/len hold the whole datagram in one contiguous
 * piece (a fragmented datagram is copied once into a single buffer). On success the caller owns
 * buf and returns it with weir_buf_release(); on failure buf is left empty and owns nothing.
 * May yield. Returns the datagram length or the same errors (never WEIR_EMSGSIZE). */
ssize_t weir_udp_recv(struct weir_udp *u, struct weir_buf *buf, struct weir_ipaddr *src,
		      uint16_t *sport, uint64_t timeout_ns);

/* Wakes blocked receivers (they return WEIR_ECLOSED), drops queued datagrams, removes the pcb,
 * detaches from the scope and frees u. Does not block. NULL is ignored. Buffers already handed
 * out by weir_udp_recv stay valid until released. */
void weir_udp_close(struct weir_udp *u);

struct weir_udp_stats {
	uint64_t datagrams_in, datagrams_out; /* queued for reading / handed to lwIP */
	uint64_t bytes_in, bytes_out;	      /* UDP payload bytes of those */
	uint64_t dropped_queue_full;	      /* arrived while queue_max datagrams were unread */
	uint64_t dropped_nomem; /* no memory to keep a datagram (or to make it contiguous) */
};
/* Fills *out. Returns 0 or WEIR_EINVAL. */
int weir_udp_get_stats(const struct weir_udp *u, struct weir_udp_stats *out);

/* Live sockets and datagrams queued unread in all of them, for leak checks. Either may be NULL. */
void weir_udp_count(uint32_t *sockets, uint32_t *queued);

#endif /* WEIR_UDP_H */
