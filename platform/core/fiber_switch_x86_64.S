/* fiber_switch_x86_64.S - the fiber context switch for x86-64 (System V ABI).
 *
 * A switch is a function call: the caller already saved every caller-saved register, so only
 * the callee-saved ones (rbx, rbp, r12-r15) and rsp must survive. We push them on the current
 * stack, store rsp in *from, load rsp from *to and pop the other context's registers; the final
 * ret returns into whoever switched away from *to (or into the trampoline for a new fiber).
 *
 * Not saved: the MXCSR and x87 control words (also callee-saved by the ABI). weir never changes
 * floating-point modes, and ldmxcsr would double the cost of a switch.
 */
	.text

/* void weir__fiber_switch(struct weir__fiber_ctx *from (rdi),
 *			   const struct weir__fiber_ctx *to (rsi)) */
	.globl	weir__fiber_switch
	.type	weir__fiber_switch, @function
	.p2align 4
weir__fiber_switch:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	movq	%rsp, (%rdi)
	movq	(%rsi), %rsp
	popq	%r15
	.cfi_adjust_cfa_offset -8
	popq	%r14
	.cfi_adjust_cfa_offset -8
	popq	%r13
	.cfi_adjust_cfa_offset -8
	popq	%r12
	.cfi_adjust_cfa_offset -8
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	ret
	.cfi_endproc
	.size	weir__fiber_switch, .-weir__fiber_switch

/* void weir__fiber_ctx_init(struct weir__fiber_ctx *ctx (rdi), void *stack_lo (rsi),
 *			     size_t size (rdx), void (*entry)(void *) (rcx), void *arg (r8))
 *
 * Builds the frame weir__fiber_switch pops (r15, r14, r13 = arg, r12 = entry, rbx, rbp = 0, return
 * address = trampoline) below a 16-byte aligned top, with 16 bytes to spare so that rsp is 16-byte
 * aligned when the trampoline starts, as a call instruction needs. */
	.globl	weir__fiber_ctx_init
	.type	weir__fiber_ctx_init, @function
	.p2align 4
weir__fiber_ctx_init:
	.cfi_startproc
	leaq	(%rsi,%rdx), %rax
	andq	$-16, %rax
	subq	$72, %rax
	movq	$0, 0(%rax)		/* r15 */
	movq	$0, 8(%rax)		/* r14 */
	movq	%r8, 16(%rax)		/* r13: arg */
	movq	%rcx, 24(%rax)		/* r12: entry */
	movq	$0, 32(%rax)		/* rbx */
	movq	$0, 40(%rax)		/* rbp: ends frame-pointer backtraces */
	leaq	weir__fiber_trampoline(%rip), %r9
	movq	%r9, 48(%rax)		/* return address */
	movq	$0, 56(%rax)		/* the spare words: a clean end for debuggers */
	movq	$0, 64(%rax)
	movq	%rax, (%rdi)
	ret
	.cfi_endproc
	.size	weir__fiber_ctx_init, .-weir__fiber_ctx_init

/* First code a new fiber runs: entry(arg). entry never returns. */
	.type	weir__fiber_trampoline, @function
	.p2align 4
weir__fiber_trampoline:
	.cfi_startproc
	.cfi_undefined rip		/* the outermost frame: unwinders stop here */
	movq	%r13, %rdi
	call	*%r12
	ud2
	.cfi_endproc
	.size	weir__fiber_trampoline, .-weir__fiber_trampoline

	.section .note.GNU-stack,"",@progbits
