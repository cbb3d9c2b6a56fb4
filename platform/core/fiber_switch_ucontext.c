/* fiber_switch_ucontext.c - the portable fiber context switch on POSIX ucontext, for
 * architectures without an assembly switch.
 *
 * Much slower than the assembly switches: glibc's swapcontext() saves and restores the signal mask
 * with a system call on every switch. The saved ucontext_t lives on the suspended stack itself (a
 * local of weir__fiber_switch(), or for a new fiber a block at the top of its stack), so contexts
 * need no storage of their own, exactly as with the assembly switches.
 *
 * Newlib (bare metal) has no <ucontext.h>: there this file compiles to nothing and the
 * architecture needs its own fiber_switch_<arch>.S.
 */
#if defined(__has_include)
#if __has_include(<ucontext.h>)
#define WEIR__HAVE_UCONTEXT 1
#endif
#endif

#ifdef WEIR__HAVE_UCONTEXT
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include <weir/compiler.h>

#include "fiber_priv.h"

/* What a new fiber starts with, stored at the top of its stack next to its ucontext_t. */
struct start_block {
	ucontext_t uc;
	void (*entry)(void *);
	void *arg;
};

/* makecontext() passes only int arguments, so the block's address travels in two halves. */
static void trampoline(unsigned int hi, unsigned int lo)
{
	uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
	struct start_block *sb = (struct start_block *)p;

	sb->entry(sb->arg);
	abort(); /* entry never returns */
}

void weir__fiber_ctx_init(struct weir__fiber_ctx *ctx, void *stack_lo, size_t size,
			  void (*entry)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)stack_lo + size) & ~(uintptr_t)15;
	struct start_block *sb;
	uintptr_t p;

	top -= sizeof(*sb);
	top &= ~(uintptr_t)63;
	sb = (struct start_block *)top;
	WEIR_BUG_ON(top <= (uintptr_t)stack_lo + 4096);
	if (getcontext(&sb->uc) < 0)
		abort();
	sb->entry = entry;
	sb->arg = arg;
	sb->uc.uc_link = NULL;
	sb->uc.uc_stack.ss_sp = stack_lo;
	sb->uc.uc_stack.ss_size = top - (uintptr_t)stack_lo;
	sb->uc.uc_stack.ss_flags = 0;
	p = (uintptr_t)sb;
	/* void (*)(void) is the type makecontext() wants and converts from anything. */
	makecontext(&sb->uc, (void (*)(void))trampoline, 2, (unsigned int)(p >> 16 >> 16),
		    (unsigned int)(p & 0xffffffffu));
	ctx->sp = &sb->uc;
}

void weir__fiber_switch(struct weir__fiber_ctx *from, const struct weir__fiber_ctx *to)
{
	ucontext_t self;

	from->sp = &self;
	if (swapcontext(&self, to->sp) < 0)
		abort();
}
#endif /* WEIR__HAVE_UCONTEXT */
