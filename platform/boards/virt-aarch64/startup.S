/* startup.S - QEMU virt (AArch64): entry, the drop from EL2 when started there, the MMU, the
 * exception vectors.
 *
 * QEMU starts the image at _start at EL1 (EL2 with virtualization=on) with the MMU off. Before
 * the MMU is on every data access is Device memory, where unaligned accesses and the zeroing
 * instruction (DC ZVA) that a C library's memset may use fault; so this file turns the MMU on
 * first, with a page table that is constant data:
 *   0x00000000-0x3fffffff  Device-nGnRnE, never executable (flash, GIC, UART, virtio-mmio)
 *   0x40000000-0x7fffffff  Normal, write-back cacheable, inner shareable (RAM)
 *   the rest               unmapped (a fault)
 * one level-1 table of 1 GiB blocks, identity-mapped (virtio's DMA addresses are the CPU's).
 * Then: the FPU on, the stack, .tbss and .bss zeroed, the thread pointer for picolibc's TLS,
 * and C (weir__virt_start). Interrupts stay masked for good: the board takes them by polling
 * the GIC after WFI (board.c), so the vectors only report faults.
 */
	.section .text.boot, "ax"
	.globl	_start
	.type	_start, %function
_start:
	msr	daifset, #0xf
	mrs	x0, CurrentEL
	lsr	x0, x0, #2
	cmp	x0, #2
	b.ne	1f
	/* EL2: EL1 is AArch64, may use the timers, and gets control with interrupts masked. */
	mov	x0, #(1 << 31)
	msr	hcr_el2, x0
	mrs	x0, cnthctl_el2
	orr	x0, x0, #3
	msr	cnthctl_el2, x0
	msr	cntvoff_el2, xzr
	mov	x0, #0x3c5		/* EL1h, DAIF masked */
	msr	spsr_el2, x0
	adr	x0, 1f
	msr	elr_el2, x0
	eret
1:
	ldr	x0, =weir__virt_vectors
	msr	vbar_el1, x0
	/* FP and SIMD at EL1 and EL0 (CPACR_EL1.FPEN): the compiler uses them for copies. */
	mov	x0, #(3 << 20)
	msr	cpacr_el1, x0
	isb
	/* MAIR: attribute 0 Device-nGnRnE, attribute 1 Normal write-back read/write-allocate. */
	mov	x0, #0xff00
	msr	mair_el1, x0
	/* TCR: T0SZ 32 (a 4 GiB space from level 1), walks write-back cacheable and inner
	 * shareable, 4 KiB granule, no TTBR1 walks (EPD1, with TG1 4 KiB: 0 is reserved),
	 * 32-bit physical addresses. */
	ldr	x0, =((32 << 0) | (1 << 8) | (1 << 10) | (3 << 12) | (1 << 23) | (2 << 30))
	msr	tcr_el1, x0
	adrp	x0, weir__virt_l1		/* 4 KiB aligned: adrp alone reaches it anywhere */
	msr	ttbr0_el1, x0
	isb
	tlbi	vmalle1
	ic	iallu
	dsb	nsh
	isb
	/* SCTLR: MMU, data and instruction caches on; no alignment checks, no WXN. */
	mrs	x0, sctlr_el1
	ldr	x1, =((1 << 0) | (1 << 2) | (1 << 12))
	orr	x0, x0, x1
	ldr	x1, =((1 << 1) | (1 << 19))
	bic	x0, x0, x1
	msr	sctlr_el1, x0
	isb
	ldr	x0, =__weir_stack_top
	mov	sp, x0
	/* Zero .tbss and .bss (16-byte aligned both ends, the linker script sees to it). */
	ldr	x0, =__weir_zero_start
	ldr	x1, =__weir_bss_end
2:	cmp	x0, x1
	b.hs	3f
	stp	xzr, xzr, [x0], #16
	b	2b
3:
	ldr	x0, =__weir_tls_tp
	msr	tpidr_el0, x0
	bl	weir__virt_start
4:	wfi
	b	4b
	.size	_start, . - _start

/* Level-1 table: four 1 GiB blocks (T0SZ 32 walks start here; the table needs no more). */
#define BLOCK		1
#define AF		(1 << 10)
#define SH_INNER	(3 << 8)
#define ATTR(n)		((n) << 2)
#define PXN_UXN		(3 << 53)
	.section .rodata.weir__virt_l1, "a"
	.balign	4096
weir__virt_l1:
	.quad	0x00000000 | BLOCK | AF | ATTR(0) | PXN_UXN
	.quad	0x40000000 | BLOCK | AF | ATTR(1) | SH_INNER
	.quad	0
	.quad	0

/* The vector table: 16 entries of 128 bytes. Every one is a fault here (interrupts stay masked):
 * it passes its number and what the core recorded to C, which prints it and ends the program. */
.macro	vector n
	.balign	128
	mov	x0, #\n
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	mrs	x3, far_el1
	b	weir__virt_fault
.endm
	.text
	.balign	2048
	.globl	weir__virt_vectors
weir__virt_vectors:
	vector	0
	vector	1
	vector	2
	vector	3
	vector	4
	vector	5
	vector	6
	vector	7
	vector	8
	vector	9
	vector	10
	vector	11
	vector	12
	vector	13
	vector	14
	vector	15
