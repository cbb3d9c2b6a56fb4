/* flow.h - TCP flows with MirageOS FLOW/TCP semantics, direct-style on fibers.
 *
 * Every blocking call here must run in a fiber (weir/fiber.h) and says "May yield."; from the main
 * context it returns WEIR_EINVAL. A blocked call returns WEIR_ECANCELED when its fiber is
 * cancelled, and the flow is left in a defined state (documented per call).
 *
 * Errors: caller bugs (NULL, zero length where it means nothing) are WEIR_EINVAL; using a flow we
 * closed or shut down in that direction is WEIR_ECLOSED; the peer's doing is WEIR_EOF (orderly
 * end of its data), WEIR_ERESET, WEIR_EREFUSED; timeouts are WEIR_ETIMEDOUT. A flow remembers why
 * it ended (weir_flow_close_reason()).
 *
 * Lifetime: a flow handle stays valid after weir_flow_close() (later calls return WEIR_ECLOSED;
 * close again returns 0) until weir_flow_free(), until its scope closes, or, for a flow given to a
 * listener's handler, until that handler returns (the listener closes and frees it then).
 */
#ifndef WEIR_FLOW_H
#define WEIR_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <weir/fiber.h>
#include <weir/stack.h>

struct weir_flow;
struct weir_listener;

/* Why a flow ended. */
#define WEIR_CLOSE_REASON_MAP(X)                                                                   \
	X(NONE, "open")                                                                            \
	X(PEER_FIN, "peer closed (FIN) and we closed")                                             \
	X(PEER_RST, "peer reset (RST)")                                                            \
	X(RETRANSMIT, "retransmission limit reached")                                              \
	X(KEEPALIVE, "keepalive probes unanswered")                                                \
	X(USER_TIMEOUT, "user timeout: data unacknowledged too long")                              \
	X(FIN_WAIT_TIMEOUT, "peer never finished after our FIN")                                   \
	X(LOCAL_CLOSE, "closed locally")                                                           \
	X(LOCAL_ABORT, "aborted locally (RST sent)")                                               \
	X(CONNECT_REFUSED, "connection refused")                                                   \
	X(CONNECT_TIMEOUT, "connect timed out")                                                    \
	X(CONNECT_CANCELED, "connect canceled")                                                    \
	X(STACK_CLOSED, "stack closed")
enum weir_close_reason {
#define WEIR__CR_ENUM(name, str) WEIR_CLOSE_##name,
	WEIR_CLOSE_REASON_MAP(WEIR__CR_ENUM)
#undef WEIR__CR_ENUM
};
const char *weir_close_reason_str(enum weir_close_reason r);

/* Keepalive (RFC 1122 §4.2.3.6): after `after_ms` idle, a probe every `interval_ms`; `probes`
 * unanswered probes end the flow (WEIR_CLOSE_KEEPALIVE). after_ms == 0: off. */
struct weir_keepalive {
	uint32_t after_ms, interval_ms, probes;
};

/* Options shared by connect and listen (applied before any data moves). */
struct weir_flow_opts {
	struct weir_keepalive keepalive;
	/* RFC 5482 user timeout: data unacknowledged for longer ends the flow
	 * (WEIR_CLOSE_USER_TIMEOUT), whatever the retransmission count; an idle flow with nothing
	 * in flight is not affected. 0: off (lwIP's retransmission limit applies). */
	uint32_t user_timeout_ms;
	int nodelay; /* 1: Nagle off for every write */
	/* After our FIN, how long to wait for the peer's (FIN_WAIT_2). 0: 60 s. */
	uint32_t fin_wait_timeout_ms;
};

struct weir_tcp_connect_opts {
	uint64_t timeout_ns;	     /* 0: none (Eio; weir/clock.h has the time convention) */
	struct weir_ipaddr local_ip; /* 0.0.0.0: the stack's */
	uint16_t local_port;	     /* 0: ephemeral */
	/* 1: bind over TIME_WAIT (SO_REUSEADDR); WEIR_ENOTSUP without CONFIG_LWIP_SO_REUSE */
	int reuse_addr;
	struct weir_flow_opts flow;
	struct weir_scope *scope; /* owner; NULL: the calling fiber's scope */
};

/* Connects to dst:port. May yield. Returns 0 and sets *out, or WEIR_EINVAL (bad arguments, not
 * in a fiber), WEIR_EADDRINUSE (local address/port taken), WEIR_ENOTSUP (reuse_addr in a build
 * without it), WEIR_EREFUSED (RST), WEIR_ETIMEDOUT
 * (opts->timeout_ns passed), WEIR_EUNREACH, WEIR_ENOMEM (no pcb), WEIR_ECANCELED (the fiber was
 * cancelled; nothing is left half-open). */
int weir_tcp_connect(struct weir_stack *stack, struct weir_ipaddr dst, uint16_t port,
		     const struct weir_tcp_connect_opts *opts, struct weir_flow **out);

/* Called in a new fiber for each accepted flow. When the handler returns the listener closes the
 * flow (what is queued is sent, then FIN; lwIP finishes the close without waiting for the peer, so
 * the handler's max_connections slot is free at once, as in Eio) and frees it. */
typedef void (*weir_flow_handler)(struct weir_flow *flow, void *arg);

/* Why an incoming connection could not be handed to a handler (P2p_fd's accept errors). */
enum weir_accept_error {
	/* The whole host is short (memory for a pcb, a flow, a handler's fiber): will likely
	 * recur. err: WEIR_ENOMEM. */
	WEIR_ACCEPT_SYSTEM = 1,
	/* That one connection failed before it was handed over: reset by its peer (WEIR_ERESET)
	 * or given up by TCP (WEIR_ETIMEDOUT) while it waited in the backlog. */
	WEIR_ACCEPT_CONNECTION = 2,
	/* The handler could not start for another reason: the scope the listener runs handlers
	 * in is closing (WEIR_EINVAL). */
	WEIR_ACCEPT_UNEXPECTED = 3,
};

struct weir_tcp_listen_opts {
	struct weir_ipaddr ip; /* 0.0.0.0: any of the stack's */
	uint16_t port;	       /* 0: the stack picks one (weir_listener_port) */
	/* As listen(2)'s in Eio and Tezos: how many connections TCP has accepted that wait to be
	 * handed over (to a handler while max_connections run, or to weir_listener_accept); more
	 * are closed at once (FIN, counted in refused). It also bounds the half-open connections
	 * (SYN received) before SYN cookies answer for the listener. 1..255; 0: CONFIG default. */
	unsigned backlog;
	/* 1: listen on a port that connections in TIME_WAIT still use (SO_REUSEADDR, as Eio's
	 * and Async's reuse_addr); WEIR_ENOTSUP in a build without CONFIG_LWIP_SO_REUSE. */
	int reuse_addr;
	/* SO_REUSEPORT (Eio's reuse_port): 1 on a stack that is a shard (weir/stack.h): the
	 * listeners on this port in the group's other shards share it, the device spreading the
	 * connections. (Each shard has its own lwIP, so they may listen on one port anyway; this
	 * says it is meant.) On a stack alone: WEIR_ENOTSUP. */
	int reuse_port;
	/* Handlers running at once (0: no limit). When all run, a new connection waits in the
	 * backlog until one returns (Eio), unless refuse_over_max is 1: then it is closed at once
	 * (FIN, counted in refused). Neither is allowed without a handler. */
	unsigned max_connections;
	int refuse_over_max;
	struct weir_flow_opts flow;
	size_t handler_stack_size; /* 0: fiber default; else weir_fiber_stack_min()..1 GiB */
	struct weir_scope *scope;  /* owner; NULL: the caller's scope */
	/* Called (main context: must not block) when a connection is dropped before its handler
	 * runs, with the class and the weir error; may be NULL. Each such drop is also counted in
	 * the listener's refused. */
	void (*on_accept_error)(enum weir_accept_error cls, int err, void *arg);
};

/* Listens and runs handler(flow, arg) in a new fiber per accepted flow; with a NULL handler,
 * connections wait in the backlog for weir_listener_accept. Does not block. Returns 0 and sets
 * *out, or WEIR_EINVAL, WEIR_EADDRINUSE, WEIR_ENOTSUP (reuse_port; reuse_addr in a build without
 * it), WEIR_ENOMEM. */
int weir_tcp_listen(struct weir_stack *stack, const struct weir_tcp_listen_opts *opts,
		    weir_flow_handler handler, void *arg, struct weir_listener **out);
/* Eio's accept ~sw: waits for the next connection of a listener made without a handler and
 * returns it, owned by scope (NULL: the caller's) like a connected flow: weir_flow_free or the
 * scope's close ends it. May yield. Returns 0 and sets *out, or WEIR_EINVAL (NULL, a listener
 * with a handler, not in a fiber), WEIR_ECLOSED (the listener stopped), WEIR_ECANCELED. */
int weir_listener_accept(struct weir_listener *l, struct weir_scope *scope, struct weir_flow **out);
/* The port listened on (the chosen one when opts.port was 0); 0 for NULL. */
uint16_t weir_listener_port(const struct weir_listener *l);
/* Stops accepting new flows, then waits until every running handler returned. The listener
 * stays allocated (close frees it). May yield. Returns 0, WEIR_EINVAL, WEIR_ECANCELED. */
int weir_listener_stop(struct weir_listener *l);
/* Stops accepting, cancels the running handlers, waits for them, frees the listener. May yield
 * (from the main context it drives the loop). Returns 0 or WEIR_EINVAL. */
int weir_listener_close(struct weir_listener *l);

struct weir_listener_stats {
	uint64_t accepted; /* handed to a handler */
	uint64_t refused;  /* closed before being handed over: backlog full, refuse_over_max, no
			    * memory, reset while waiting, or still waiting when the listener stopped
			    */
	uint32_t active;   /* handlers running now */
	uint32_t pending;  /* in the backlog now */
};
int weir_listener_get_stats(const struct weir_listener *l, struct weir_listener_stats *out);

/* A received buffer, zero-copy: data points into the received frame. The caller owns it and
 * hands it back with weir_buf_release() (until then the frame stays allocated: keep it short). */
struct weir_buf {
	const uint8_t *data;
	size_t len;
	void *priv; /* private */
};
void weir_buf_release(struct weir_buf *buf);

/* Blocks until at least one byte, the end of the peer's data, or an error. Data the peer sent
 * before its FIN (or RST) is delivered first. Small pieces already received back to back come in
 * one buffer (joined, up to 2 KiB); full-size segments come one per read, without a copy. May
 * yield.
 * Returns the byte count (> 0; buf filled, caller owns it), WEIR_EOF (the peer's FIN; also when
 * keepalive or the user timeout ended the flow, as MirageOS's read returns `Eof then:
 * weir_flow_close_reason() tells them apart), WEIR_ECLOSED (we shut down reading, or our close
 * returned), WEIR_ERESET, WEIR_ETIMEDOUT (the retransmission limit or the FIN_WAIT bound ended
 * the flow), WEIR_ECANCELED (nothing consumed), WEIR_EINVAL. */
ssize_t weir_flow_read(struct weir_flow *f, struct weir_buf *buf);
/* The copying form: everything already received, up to cap bytes, into dst (cap > 0). Same
 * returns. May yield. */
ssize_t weir_flow_read_into(struct weir_flow *f, void *dst, size_t cap);
/* As weir_flow_read_into, but gives up at deadline_ns (weir_clock_now_ns() time;
 * WEIR_DEADLINE_NEVER: never) with WEIR_ETIMEDOUT, nothing consumed. May yield. */
ssize_t weir_flow_read_into_until(struct weir_flow *f, void *dst, size_t cap, uint64_t deadline_ns);

/* Blocks until the stack has accepted every byte (copied; the caller may reuse data at once):
 * never a partial write, any length. After the first write error every later write fails with
 * the same code. May yield. Returns 0 (len 0, data NULL or not: nothing to do), WEIR_EINVAL (NULL
 * flow, NULL data with len > 0, a length above SSIZE_MAX, more than WEIR_FLOW_IOV_MAX pieces),
 * WEIR_ECLOSED (we shut down writing, or closed; the stack closed; keepalive or the user timeout
 * ended the flow), WEIR_ERESET, WEIR_ETIMEDOUT,
 * WEIR_ECANCELED (some bytes may have been accepted: the flow's write side is then unusable, later
 * writes return WEIR_ECANCELED). */
int weir_flow_write(struct weir_flow *f, const void *data, size_t len);
struct weir_iov {
	const void *base; /* may be NULL only when len is 0 */
	size_t len;
};
#define WEIR_FLOW_IOV_MAX 1024
int weir_flow_writev(struct weir_flow *f, const struct weir_iov *iov, unsigned iovcnt);
/* As weir_flow_write, but the stack sends from data itself instead of a copy: for large buffers
 * the caller keeps anyway (a file's contents in a cache, an image's static pages). data must stay
 * unchanged until the call returns, which is when the peer has acknowledged every byte (so one
 * call costs a round trip at its end: give it a whole file, not a page), or on an error, when no
 * part of the stack refers to data any more either. Cancelled while it waits for the ACK, or the
 * flow closed by another fiber meanwhile, the connection is reset (RST): that is the only way the
 * stack can give data back early. May yield. Same returns as weir_flow_write. */
int weir_flow_write_nocopy(struct weir_flow *f, const void *data, size_t len);
/* As write/writev, but sends at once (Nagle off for these bytes) and returns only when the peer
 * has acknowledged them. May yield. Same returns. */
int weir_flow_write_nodelay(struct weir_flow *f, const void *data, size_t len);
int weir_flow_writev_nodelay(struct weir_flow *f, const struct weir_iov *iov, unsigned iovcnt);
/* Per-flow Nagle switch (1: off). Returns 0, WEIR_EINVAL, WEIR_ECLOSED. */
int weir_flow_set_nodelay(struct weir_flow *f, int nodelay);

#define WEIR_SHUT_RD   1
#define WEIR_SHUT_WR   2
#define WEIR_SHUT_RDWR 3
/* WR: queued data is sent, then FIN; reading goes on. RD: reads return WEIR_ECLOSED at once and
 * later input is discarded without resetting the peer. Does not block. Returns 0, WEIR_EINVAL,
 * WEIR_ECLOSED (closed, or that direction already ended by an error). */
int weir_flow_shutdown(struct weir_flow *f, int how);
/* MirageOS's close: sends what is queued and FIN (writes fail with WEIR_ECLOSED from now on),
 * then waits, bounded by fin_wait_timeout, until the peer closed too. Meanwhile the peer may still
 * write and other fibers' reads still get its data and then WEIR_EOF; data nobody reads is
 * dropped once it fills the receive window (so the peer's FIN can come). Then the connection is
 * released: later reads return WEIR_ECLOSED. Idempotent (a second call returns at once). May
 * yield; cancelled, or from the main context, it does not wait and leaves lwIP to finish the
 * close. Returns 0 or WEIR_EINVAL. */
int weir_flow_close(struct weir_flow *f);
/* Resets the connection now (RST). Idempotent. Does not block. Returns 0 or WEIR_EINVAL. */
int weir_flow_abort(struct weir_flow *f);
/* Closes (without waiting, if not yet closed) and frees the handle. NULL is ignored. Not for a
 * flow given to a handler (the listener frees those). */
void weir_flow_free(struct weir_flow *f);

/* Keepalive and user timeout can change at any time while the flow is connected. */
int weir_flow_set_keepalive(struct weir_flow *f, const struct weir_keepalive *ka);
int weir_flow_set_user_timeout(struct weir_flow *f, uint32_t ms);

/* A unique sequential id (1, 2, ...) for the process's flows; 0 for NULL. */
uint64_t weir_flow_id(const struct weir_flow *f);
/* The local (src) and remote (dst) endpoint; one of ip and port may be NULL. Return 0 or
 * WEIR_EINVAL (NULL flow, both NULL). */
int weir_flow_src(const struct weir_flow *f, struct weir_ipaddr *ip, uint16_t *port);
int weir_flow_dst(const struct weir_flow *f, struct weir_ipaddr *ip, uint16_t *port);
/* WEIR_CLOSE_NONE while open. */
enum weir_close_reason weir_flow_close_reason(const struct weir_flow *f);

struct weir_flow_stats {
	uint64_t bytes_in, bytes_out;	    /* delivered to reads / accepted from writes */
	uint64_t segments_in, segments_out; /* TCP segments, headers included */
	uint64_t retransmissions;	    /* segments sent again */
	/* How losses were repaired: retransmission timeouts that fired, loss recovery episodes
	 * begun by duplicate ACKs or SACK (RFC 6675), tail loss probes sent (RFC 8985). */
	uint32_t rto_timeouts, fast_recoveries, loss_probes;
	/* ACKs sent again because the peer went quiet after one it may have been waiting for (a
	 * SACK, or a window reopened): stack/patches/0027. */
	uint32_t acks_resent;
	uint32_t srtt_ms;		 /* smoothed RTT (lwIP's, slow-timer granularity) */
	uint32_t rto_ms;		 /* retransmission timeout, backoff included */
	uint32_t cwnd, snd_wnd, rcv_wnd; /* bytes */
	uint32_t snd_queued;		 /* bytes accepted and not yet acknowledged */
};
/* Fills *out. Once the connection is gone the window fields are 0, and srtt_ms and rto_ms keep
 * their last values. Returns 0 or WEIR_EINVAL. */
int weir_flow_get_stats(const struct weir_flow *f, struct weir_flow_stats *out);

/* Live flows and listeners of the stack, for leak checks. */
struct weir_tcp_stats {
	uint32_t flows, listeners, bufs_out;
};
void weir_tcp_get_stats(struct weir_tcp_stats *out);

#endif /* WEIR_FLOW_H */
