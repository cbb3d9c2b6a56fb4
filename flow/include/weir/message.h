/* message.h - exact reads, length-prefixed messages and magic-byte handshakes on a flow (the
 * message layer of Tezos' Socket module), built only on the public flow API.
 *
 * Every call here may yield and must run in a fiber. Timeouts are durations in ns (0: none) for
 * the whole call. When a call fails part-way (timeout, truncation, a frame over the limit) the
 * flow's position in the byte stream is lost: these calls then abort the flow (RST) so that no
 * later read can misparse it, and say so in their return code.
 */
#ifndef WEIR_MESSAGE_H
#define WEIR_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <weir/flow.h>

/* Reads exactly n bytes into buf. Returns 0, or WEIR_EOF (the peer finished before the first
 * byte: the flow is intact), WEIR_EPROTO (it finished part-way: aborted), WEIR_ETIMEDOUT (after
 * some bytes: aborted; before any: intact), WEIR_EINVAL, or a read error. May yield. */
int weir_flow_read_exact(struct weir_flow *f, void *buf, size_t n, uint64_t timeout_ns);

/* Frames: a 4-byte big-endian length, then that many bytes (0..WEIR_MSG_MAX). */
#define WEIR_MSG_MAX (64u << 20)
/* Sends one message (writev: never interleaved, never partial). Returns 0, WEIR_EMSGSIZE (over
 * WEIR_MSG_MAX: nothing sent), WEIR_EINVAL, or a write error. May yield. */
int weir_msg_send(struct weir_flow *f, const void *data, size_t len);
/* Receives one message into buf (cap bytes at most: the caller's limit). Returns its length, or
 * WEIR_EOF (the peer finished cleanly between messages), WEIR_EMSGSIZE (the announced length is
 * over cap: nothing is allocated or read past the header, the flow is aborted), WEIR_EPROTO (the
 * peer finished inside a message: aborted), WEIR_ETIMEDOUT, WEIR_EINVAL, or a read error. May
 * yield. */
ssize_t weir_msg_recv(struct weir_flow *f, void *buf, size_t cap, uint64_t timeout_ns);

/* Both ends send magic (1..256 bytes) and check that the peer sent the same. Returns 0, or
 * WEIR_EPROTO (the peer's bytes differ: the flow is aborted, so the peer fails too),
 * WEIR_ETIMEDOUT, WEIR_EOF, WEIR_EINVAL, or an I/O error. May yield. */
int weir_flow_handshake(struct weir_flow *f, const void *magic, size_t len, uint64_t timeout_ns);

#endif /* WEIR_MESSAGE_H */
