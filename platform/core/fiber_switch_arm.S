/* fiber_switch_arm.S - the fiber context switch for 32-bit Arm in Thumb-2 (ARMv7-M/ARMv7E-M,
 * e.g. Cortex-M3/M4/M7, ARMv8-M Mainline, and ARMv7-A); AAPCS.
 *
 * A switch is a function call, so only callee-saved state must survive: r4-r11, sp, lr and, when
 * there is a floating-point unit (__ARM_FP), s16-s31. r3 is pushed too, only to keep the frame a
 * multiple of 8 bytes, as the AAPCS wants sp at public interfaces.
 *
 * Frame layout (offsets from the saved sp; without an FPU subtract 64):
 *   0 s16..s31 | 64 r3 | 68 r4 | 72 r5 | 76 r6 .. 96 r11 | 100 return address
 *
 * Not for ARMv6-M (Cortex-M0/M0+): Thumb-1 cannot push r8-r11 directly.
 */
	.syntax unified
	.thumb
	.text

#if defined(__ARM_FP)
#define FP_BYTES 64
#else
#define FP_BYTES 0
#endif
#define FRAME (40 + FP_BYTES)

/* void weir__fiber_switch(struct weir__fiber_ctx *from (r0), const struct weir__fiber_ctx *to (r1)) */
	.globl	weir__fiber_switch
	.type	weir__fiber_switch, %function
	.thumb_func
	.p2align 2
weir__fiber_switch:
	push	{r3-r11, lr}
#if defined(__ARM_FP)
	vpush	{s16-s31}
#endif
	mov	r2, sp
	str	r2, [r0]
	ldr	r2, [r1]
	mov	sp, r2
#if defined(__ARM_FP)
	vpop	{s16-s31}
#endif
	pop	{r3-r11, pc}
	.size	weir__fiber_switch, .-weir__fiber_switch

/* void weir__fiber_ctx_init(struct weir__fiber_ctx *ctx (r0), void *stack_lo (r1), size_t size (r2),
 *			     void (*entry)(void *) (r3), void *arg ([sp]))
 *
 * Builds a zeroed frame below an 8-byte aligned top with r4 = entry, r5 = arg and the return
 * address = the trampoline (Thumb bit set, so pop {pc} stays in Thumb state). */
	.globl	weir__fiber_ctx_init
	.type	weir__fiber_ctx_init, %function
	.thumb_func
	.p2align 2
weir__fiber_ctx_init:
	ldr	ip, [sp]		/* arg */
	add	r1, r1, r2
	bic	r1, r1, #7
	sub	r1, r1, #FRAME
	movs	r2, #0
	str	r1, [r0]		/* ctx->sp */
	add	r0, r1, #FRAME		/* r0 = end of frame */
1:	str	r2, [r1], #4		/* zero the whole frame */
	cmp	r1, r0
	bne	1b
	sub	r1, r0, #FRAME
	str	r3, [r1, #(FP_BYTES + 4)]	/* r4 = entry */
	str	ip, [r1, #(FP_BYTES + 8)]	/* r5 = arg */
	ldr	r2, =weir__fiber_trampoline	/* a Thumb function: bit 0 set */
	str	r2, [r1, #(FP_BYTES + 36)]	/* return address */
	bx	lr
	.size	weir__fiber_ctx_init, .-weir__fiber_ctx_init
	.ltorg

/* First code a new fiber runs: entry(arg). entry never returns. */
	.type	weir__fiber_trampoline, %function
	.thumb_func
	.p2align 2
weir__fiber_trampoline:
	mov	r0, r5
	blx	r4
	udf	#0
	.size	weir__fiber_trampoline, .-weir__fiber_trampoline

	.section .note.GNU-stack,"",%progbits
