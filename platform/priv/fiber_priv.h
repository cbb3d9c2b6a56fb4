/* fiber_priv.h - what the portable scheduler (fiber.c) needs from the machine: a context switch
 * and fiber stacks.
 *
 * The switch comes from fiber_switch_<arch>.S (or fiber_switch_ucontext.c); stacks come from the
 * platform (hosted: fiber_stack.c, mmap with a guard page).
 */
#ifndef WEIR_FIBER_PRIV_H
#define WEIR_FIBER_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include <weir/compiler.h>

/* AddressSanitizer must be told about every stack switch, or it reports false stack overflows
 * and use-after-returns on fiber stacks. */
#define WEIR__FIBER_ASAN WEIR_ASAN
/* So must ThreadSanitizer, which keeps a shadow call stack per fiber. */
#define WEIR__FIBER_TSAN WEIR_TSAN

/* A suspended execution context. For the assembly switches, sp is the saved stack pointer and the
 * callee-saved registers sit on that stack; for ucontext, sp points at a ucontext_t living on the
 * suspended stack. Either way a context is valid only while it is suspended. */
struct weir__fiber_ctx {
	void *sp;
};

/* Saves the calling context in *from and resumes *to. Returns when something switches back to
 * *from. Only callee-saved state survives (the caller sees an ordinary function call). */
void weir__fiber_switch(struct weir__fiber_ctx *from, const struct weir__fiber_ctx *to);

/* Prepares *ctx so that the first weir__fiber_switch() to it calls entry(arg) on the stack
 * [stack_lo, stack_lo + size), 16-byte aligned. entry must never return. */
void weir__fiber_ctx_init(struct weir__fiber_ctx *ctx, void *stack_lo, size_t size,
			  void (*entry)(void *), void *arg);

/* Allocates a fiber stack of at least size bytes (size > 0). Returns its lowest usable address
 * and sets *usable to its usable size (the stack grows down from lo + *usable), or NULL when out
 * of memory. Hosted stacks have an inaccessible guard page just below lo. */
void *weir__fiber_stack_alloc(size_t size, size_t *usable);
/* Frees a stack from weir__fiber_stack_alloc() (lo and usable as returned). Never called while
 * running on that stack. The platform may keep a few freed stacks for reuse. */
void weir__fiber_stack_free(void *lo, size_t usable);
/* Returns the stacks kept for reuse to the system (weir_fibers_fini() calls it). */
void weir__fiber_stack_trim(void);

/* For the hosted overflow handler: the running fiber's lowest usable stack address, id and name.
 * Returns 1, or 0 in the main context. Reads only plain fields, so a synchronous signal handler on
 * the loop's thread may call it. */
int weir__fiber_running(uintptr_t *stack_lo, uint64_t *id, const char **name);

#endif /* WEIR_FIBER_PRIV_H */
