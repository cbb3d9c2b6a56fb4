/* stack_priv.h - what the layers above the stack (flow/) register with it. */
#ifndef WEIR_STACK_PRIV_H
#define WEIR_STACK_PRIV_H

struct weir_stack;

/* Called at the start of weir_stack_close(), once per registered function: end every flow,
 * listener and socket of that stack while the device can still carry their RSTs. Their handles
 * stay allocated (the user frees them); every call on them returns WEIR_ECLOSED. The layers above
 * register themselves (the stack never calls upward by name). Idempotent; at most 4. */
typedef void (*weir__stack_close_fn)(struct weir_stack *s);
void weir__stack_on_close(weir__stack_close_fn fn);

#endif /* WEIR_STACK_PRIV_H */
