/* weir_stack_lwip.h - what the stack offers the layer above it that also runs on lwIP (flow/).
 *
 * Only code built against lwIP sees this header (the weir_lwip_api target: the stack, the flow
 * layer, lwIP itself); drivers, tools and users never do.
 */
#ifndef WEIR_STACK_LWIP_H
#define WEIR_STACK_LWIP_H

#include "lwip/err.h"

struct weir_stack;

/* lwIP's err_t as a weir error code: the one translation (STYLE.md), in stack/err.c. ERR_OK is
 * 0; a code with no closer meaning is WEIR_EIO. */
int weir__err_from_lwip(err_t e);

/* Called at the start of weir_stack_close(), once per registered function: end every flow,
 * listener and socket of that stack while the device can still carry their RSTs. Their handles
 * stay allocated (the user frees them); every call on them returns WEIR_ECLOSED. The layers above
 * register themselves (the stack never calls upward by name). Idempotent; at most 4. */
typedef void (*weir__stack_close_fn)(struct weir_stack *s);
void weir__stack_on_close(weir__stack_close_fn fn);

/* Around a call that may send several segments (tcp_output): the frames leave as one burst when
 * the outermost release comes, consecutive segments of a stream as one super-frame where the
 * device cuts them (TSO). Outside a hold, and outside the stack's own poll, frames leave at once.
 * Must not yield in between. No-ops without a stack. */
void weir__stack_tx_hold(void);
void weir__stack_tx_release(void);
/* As release, but what was queued waits for the stack's next poll, which comes before the loop
 * sleeps: for frames that gain nothing from leaving this instant (window updates after a read),
 * so that many reads in a turn cost one burst, not one write each. */
void weir__stack_tx_release_lazy(void);
/* Hands what is queued to the device; returns nonzero when frames still wait (the device is
 * full), 0 when the queue holds no lwIP buffer. Not inside a hold. */
int weir__stack_tx_busy(void);
/* Drops the frames that wait (lost as on a wire: TCP sends them again), releasing their buffers. */
void weir__stack_tx_drop(void);
/* Whether an ACK lwIP wants while s takes a burst of frames is built once per connection at the
 * burst's end (1, the default, with CONFIG_LWIP_TCP_ACK_DEFER: stack/patches/0032) or at once,
 * each, for the transmit path to fold (0: what its tests look at). No-op without the option. */
void weir__stack_ack_defer(struct weir_stack *s, int on);

#endif /* WEIR_STACK_LWIP_H */
