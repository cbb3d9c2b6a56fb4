/* fiber_switch_aarch64.S - the fiber context switch for AArch64 (AAPCS64).
 *
 * A switch is a function call, so only callee-saved state must survive: x19-x28, the frame
 * pointer x29, the link register x30 (where the switch returns to), sp, and the low 64 bits of
 * v8-v15 (d8-d15). We store them in a 160-byte frame on the current stack, keep sp in *from, load
 * sp from *to and reload the other context's frame; ret then jumps to that context's x30.
 *
 * Frame layout (offsets from the saved sp):
 *   0 x19 x20 | 16 x21 x22 | 32 x23 x24 | 48 x25 x26 | 64 x27 x28 | 80 x29 x30
 *   96 d8 d9  | 112 d10 d11 | 128 d12 d13 | 144 d14 d15
 *
 * With pointer authentication (-mbranch-protection), x30 is saved and restored unsigned here:
 * this function never signs it, and ret (not retaa) does not check it. With BTI, ret and blr
 * targets need no landing pad beyond what the compiler emits for C functions.
 */
	.text

/* void weir__fiber_switch(struct weir__fiber_ctx *from (x0),
 *			   const struct weir__fiber_ctx *to (x1)) */
	.globl	weir__fiber_switch
	.type	weir__fiber_switch, %function
	.p2align 4
weir__fiber_switch:
	.cfi_startproc
	sub	sp, sp, #160
	.cfi_adjust_cfa_offset 160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mov	x9, sp
	str	x9, [x0]
	ldr	x9, [x1]
	mov	sp, x9
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	add	sp, sp, #160
	.cfi_adjust_cfa_offset -160
	ret
	.cfi_endproc
	.size	weir__fiber_switch, .-weir__fiber_switch

/* void weir__fiber_ctx_init(struct weir__fiber_ctx *ctx (x0), void *stack_lo (x1),
 *			     size_t size (x2), void (*entry)(void *) (x3), void *arg (x4))
 *
 * Builds a zeroed frame below a 16-byte aligned top (sp must always be 16-byte aligned on
 * AArch64) with x19 = entry, x20 = arg, x29 = 0 and x30 = the trampoline, so the first switch
 * "returns" into the trampoline with sp back at the top. */
	.globl	weir__fiber_ctx_init
	.type	weir__fiber_ctx_init, %function
	.p2align 4
weir__fiber_ctx_init:
	.cfi_startproc
	add	x9, x1, x2
	and	x9, x9, #~15
	sub	x9, x9, #160
	stp	x3, x4, [x9, #0]		/* x19 = entry, x20 = arg */
	stp	xzr, xzr, [x9, #16]
	stp	xzr, xzr, [x9, #32]
	stp	xzr, xzr, [x9, #48]
	stp	xzr, xzr, [x9, #64]
	adr	x10, weir__fiber_trampoline
	stp	xzr, x10, [x9, #80]		/* x29 = 0 ends frame chains; x30 */
	stp	xzr, xzr, [x9, #96]
	stp	xzr, xzr, [x9, #112]
	stp	xzr, xzr, [x9, #128]
	stp	xzr, xzr, [x9, #144]
	str	x9, [x0]
	ret
	.cfi_endproc
	.size	weir__fiber_ctx_init, .-weir__fiber_ctx_init

/* First code a new fiber runs: entry(arg). entry never returns. */
	.type	weir__fiber_trampoline, %function
	.p2align 4
weir__fiber_trampoline:
	.cfi_startproc
	.cfi_undefined x30		/* the outermost frame: unwinders stop here */
	mov	x0, x20
	blr	x19
	brk	#0
	.cfi_endproc
	.size	weir__fiber_trampoline, .-weir__fiber_trampoline

	.section .note.GNU-stack,"",@progbits
