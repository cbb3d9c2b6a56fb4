/* board.c - QEMU virt (AArch64): the clock, the console, idle, interrupts, entropy, exit.
 *
 * - Clock: the generic timer's virtual count (CNTVCT_EL0) at CNTFRQ_EL0 (62.5 MHz on QEMU), 64
 *   bits, never wraps in practice.
 * - Idle: the virtual timer (CNTV, GIC interrupt 27) is armed for the deadline, then WFI.
 *   Interrupts stay masked at the core for the whole run (startup.S): WFI still wakes on an
 *   interrupt the GIC signals, and idle then takes every pending one from the GIC and calls its
 *   handler, in the loop's own context. So handlers never preempt the stack, and the image needs
 *   no interrupt stack or register save: weir_board_irq_attach's handlers run from idle.
 * - Interrupt controller: GICv2 (QEMU's default on virt; run with gic-version=2), distributor at
 *   0x08000000, CPU interface at 0x08010000.
 * - Console: the PL011 UART at 0x09000000, polled.
 * - Entropy: a seed a runner may place in RAM before boot and the jitter of timer readings at
 *   boot, into the platform's pool; the image adds virtio-rng's bytes when it finds the device.
 * - Exit: semihosting (QEMU -semihosting-config enable=on), else the core stops.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/board_virt_aarch64.h>
#include <weir/clock.h>
#include <weir/error.h>

#define REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* PL011. */
#define UART	0x09000000u
#define UART_DR REG(UART + 0x00)
#define UART_FR REG(UART + 0x18)
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)

/* GICv2. */
#define GICD		  0x08000000u
#define GICD_CTLR	  REG(GICD + 0x000)
#define GICD_ISENABLER(n) REG(GICD + 0x100 + 4 * (n))
#define GICD_ICENABLER(n) REG(GICD + 0x180 + 4 * (n))
#define GICD_ICPENDR(n)	  REG(GICD + 0x280 + 4 * (n))
#define GICC		  0x08010000u
#define GICC_CTLR	  REG(GICC + 0x00)
#define GICC_PMR	  REG(GICC + 0x04)
#define GICC_IAR	  REG(GICC + 0x0c)
#define GICC_EOIR	  REG(GICC + 0x10)
#define GIC_SPURIOUS	  1023u
#define NUM_IRQS	  128u /* SGIs, PPIs and the SPIs of virt's devices */
#define TIMER_IRQ	  27u  /* the EL1 virtual timer's PPI */

#define MAX_IDLE_NS (60 * WEIR_NS_PER_S)

#ifndef WEIR_VIRT_SEMIHOSTING
#define WEIR_VIRT_SEMIHOSTING 1
#endif

static struct {
	void (*fn)(void *arg);
	void *arg;
} irqs[NUM_IRQS];

void weir__virt_start(void);
__attribute__((noreturn)) void weir__virt_fault(uint64_t vec, uint64_t esr, uint64_t elr,
						uint64_t far);
int main(void);

/* --- clock ---------------------------------------------------------------------------------- */

static uint64_t freq; /* CNTFRQ_EL0, ticks a second */

static uint64_t ticks(void)
{
	uint64_t t;

	/* isb: the count is read where the program says, not earlier (the timer's reads are not
	 * ordered with the instruction stream otherwise). */
	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(t)::"memory");
	return t;
}

uint64_t weir_clock_now_ns(void)
{
	uint64_t t = ticks();

	return (t / freq) * WEIR_NS_PER_S + (t % freq) * WEIR_NS_PER_S / freq;
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (ns / WEIR_NS_PER_S) * freq + (ns % WEIR_NS_PER_S) * freq / WEIR_NS_PER_S;
}

/* --- console -------------------------------------------------------------------------------- */

void weir_board_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		while (UART_FR & FR_TXFF)
			;
		UART_DR = (uint8_t)s[i];
	}
}

int weir_board_console_getc(void)
{
	return (UART_FR & FR_RXFE) ? -1 : (int)(UART_DR & 0xffu);
}

/* --- interrupts and idle -------------------------------------------------------------------- */

int weir_board_irq_attach(unsigned irq, void (*fn)(void *arg), void *arg)
{
	WEIR_EINVAL_IF(irq >= NUM_IRQS || fn == NULL || irq == TIMER_IRQ);
	if (irqs[irq].fn != NULL)
		return WEIR_EBUSY;
	irqs[irq].arg = arg;
	irqs[irq].fn = fn;
	if (irq >= 32) {
		/* SPIs go to CPU 0 (QEMU routes them there anyway with one CPU). */
		volatile uint8_t *t = (volatile uint8_t *)(uintptr_t)(GICD + 0x800);

		t[irq] = 1;
	}
	GICD_ICPENDR(irq / 32) = 1u << (irq % 32);
	GICD_ISENABLER(irq / 32) = 1u << (irq % 32);
	return 0;
}

void weir_board_irq_detach(unsigned irq)
{
	if (irq >= NUM_IRQS || irq == TIMER_IRQ)
		return;
	GICD_ICENABLER(irq / 32) = 1u << (irq % 32);
	__asm__ volatile("dsb sy" ::: "memory");
	irqs[irq].fn = NULL;
	irqs[irq].arg = NULL;
}

/* Takes every interrupt the GIC has pending for us and calls its handler. */
static void irq_drain(void)
{
	for (unsigned n = 0; n < 64; n++) {
		uint32_t iar = GICC_IAR, irq = iar & 0x3ffu;

		if (irq == GIC_SPURIOUS)
			break;
		if (irq < NUM_IRQS && irqs[irq].fn != NULL)
			irqs[irq].fn(irqs[irq].arg);
		else if (irq != TIMER_IRQ && irq < NUM_IRQS)
			GICD_ICENABLER(irq / 32) = 1u << (irq % 32); /* nobody's line: silence it */
		GICC_EOIR = iar;
	}
}

void weir_board_idle(uint64_t deadline_ns)
{
	uint64_t now = weir_clock_now_ns(), wait;

	if (deadline_ns > now && !weir_baremetal_wake_pending()) {
		wait = deadline_ns - now;
		if (wait > MAX_IDLE_NS)
			wait = MAX_IDLE_NS;
		/* Interrupts are masked at the core, so nothing can slip in between the check above
		 * and WFI: an interrupt that comes first leaves the GIC's line up, and WFI returns
		 * at once. */
		__asm__ volatile("msr cntv_cval_el0, %0\n\t"
				 "msr cntv_ctl_el0, %1\n\t"
				 "isb\n\t"
				 "dsb sy\n\t"
				 "wfi" ::"r"(ticks() + ns_to_ticks(wait) + 1),
				 "r"((uint64_t)1)
				 : "memory");
		/* Disarmed: its level falls, so the timer's pending state clears. */
		__asm__ volatile("msr cntv_ctl_el0, xzr\n\tisb" ::: "memory");
	}
	irq_drain();
}

/* --- entropy -------------------------------------------------------------------------------- */

/* Boot-time jitter: how many counter ticks a few UART register reads take varies with what QEMU
 * (or the bus) is doing. */
static uint32_t jitter(unsigned i)
{
	uint64_t t0 = ticks();

	for (unsigned k = 0; k < 1 + (i & 7); k++)
		(void)UART_FR;
	return (uint32_t)(ticks() - t0);
}

/* --- the rest ------------------------------------------------------------------------------- */

void weir_board_id(uint8_t id[8])
{
	/* No serial number on virt: every instance says the same (the NIC's MAC tells them
	 * apart: QEMU gives each virtio-net device one). */
	memcpy(id, "qemuvirt", 8);
}

void weir_board_exit(int code)
{
#if WEIR_VIRT_SEMIHOSTING
	static int exiting;

	/* Without semihosting (QEMU run without -semihosting-config, or hardware) HLT traps, and
	 * the fault handler comes back here: the second time, just stop. */
	if (exiting++)
		for (;;)
			__asm__ volatile("wfi");
	/* SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit and the status (AArch64 semihosting
	 * takes a two-word block). */
	uint64_t block[2] = { 0x20026u, (uint64_t)(int64_t)code };
	register uint64_t x0 __asm__("x0") = 0x18;
	register uint64_t *x1 __asm__("x1") = block;

	__asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
#else
	(void)code;
#endif
	for (;;)
		__asm__ volatile("wfi");
}

void weir__virt_fault(uint64_t vec, uint64_t esr, uint64_t elr, uint64_t far)
{
	char buf[160];
	int n;

	/* ESR's class (bits 31:26) says what happened: 0x25 a data abort, 0x21 an instruction
	 * abort, 0x22 a misaligned pc; vectors 4-7 are from EL1 itself, 5 an IRQ (never
	 * unmasked here). */
	n = snprintf(buf, sizeof(buf),
		     "weir: fault: vector %lu esr %08lx (class %02lx) elr %016lx far %016lx\r\n",
		     (unsigned long)vec, (unsigned long)esr, (unsigned long)(esr >> 26) & 0x3fu,
		     (unsigned long)elr, (unsigned long)far);
	if (n > 0)
		weir_board_console_write(buf,
					 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	weir_board_exit(135);
}

void weir_board_init(void)
{
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(freq));
	if (freq == 0)
		freq = 62500000u; /* what QEMU sets; firmware should have */
	__asm__ volatile("msr cntv_ctl_el0, xzr" ::: "memory");
	GICD_CTLR = 0;
	for (unsigned i = 0; i < NUM_IRQS / 32; i++) {
		GICD_ICENABLER(i) = 0xffffffffu;
		GICD_ICPENDR(i) = 0xffffffffu;
	}
	GICD_ISENABLER(0) = 1u << TIMER_IRQ;
	GICD_CTLR = 1;
	GICC_PMR = 0xff;
	GICC_CTLR = 1;
	weir_baremetal_entropy_boot(jitter, (const volatile void *)(uintptr_t)WEIR_VIRT_SEED_ADDR,
				    WEIR_VIRT_SEED_LEN);
}

/* From startup.S, with the MMU on and bss zeroed. */
void weir__virt_start(void)
{
	weir_board_init();
	weir_board_exit(main());
}
