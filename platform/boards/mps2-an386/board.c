/* board.c - MPS2 AN386 (QEMU mps2-an386): the clock, the console, idle, interrupts, entropy.
 *
 * - Clock: the dual timer's first counter runs free at 25 MHz (40 ns a tick), counting down over
 *   32 bits; weir_clock_now_ns() extends it to 64 bits in software, which needs a reading at
 *   least every 171 s: idle never sleeps longer than 60 s.
 * - Idle: APB timer 0 is armed for the deadline (interrupt line 8), then WFI; any enabled
 *   interrupt (the NIC's, the console's) ends the sleep sooner.
 * - Console: UART0, polled.
 * - Entropy: a seed a runner may place in RAM before boot and the jitter of timer readings at
 *   boot, into the platform's pool (platform/baremetal/entropy.c; docs/porting.md says what
 *   each is worth).
 */
#include <stdint.h>
#include <string.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/board_mps2_an386.h>
#include <weir/clock.h>
#include <weir/error.h>

#define REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* CMSDK APB UART0 (its clock is the 25 MHz SYSCLK). */
#define UART0	     0x40004000u
#define UART_DATA    REG(UART0 + 0x00)
#define UART_STATE   REG(UART0 + 0x04)
#define UART_CTRL    REG(UART0 + 0x08)
#define UART_BAUDDIV REG(UART0 + 0x10)
#define UART_TX_FULL (1u << 0)
#define UART_RX_FULL (1u << 1)
#define UART_TX_EN   (1u << 0)
#define UART_RX_EN   (1u << 1)

/* CMSDK dual timer, first counter: free-running 32-bit down-counter. */
#define DUALTIMER   0x40002000u
#define DT1_LOAD    REG(DUALTIMER + 0x00)
#define DT1_VALUE   REG(DUALTIMER + 0x04)
#define DT1_CONTROL REG(DUALTIMER + 0x08)
#define DT_ENABLE   (1u << 7)
#define DT_SIZE32   (1u << 1)

/* CMSDK APB timer 0: the wake-up timer. */
#define TIMER0	     0x40000000u
#define T0_CTRL	     REG(TIMER0 + 0x0)
#define T0_RELOAD    REG(TIMER0 + 0x8)
#define T0_INTSTATUS REG(TIMER0 + 0xc)
#define T_EN	     (1u << 0)
#define T_IRQEN	     (1u << 3)
#define TIMER0_IRQ   8u

/* NVIC. */
#define NVIC_ISER0 REG(0xe000e100u)
#define NVIC_ICER0 REG(0xe000e180u)
#define NVIC_ICPR0 REG(0xe000e280u)
#define NUM_IRQS   32u

#define TICK_NS	    40u /* 25 MHz */
#define MAX_IDLE_NS (60 * WEIR_NS_PER_S)

/* Semihosting exits QEMU with a status; on hardware without a debugger it would fault. */
#ifndef WEIR_MPS2_SEMIHOSTING
#define WEIR_MPS2_SEMIHOSTING 1
#endif

static struct {
	void (*fn)(void *arg);
	void *arg;
} irqs[NUM_IRQS];

void weir__mps2_irq_dispatch(void);

/* --- clock ---------------------------------------------------------------------------------- */

static uint32_t clock_last;  /* the counter at the last reading (it counts down) */
static uint64_t clock_ticks; /* ticks since boot */

uint64_t weir_clock_now_ns(void)
{
	uint32_t raw = DT1_VALUE;

	/* Called from the loop only (interrupt handlers never read the clock), so no lock. */
	clock_ticks += (uint32_t)(clock_last - raw);
	clock_last = raw;
	return clock_ticks * TICK_NS;
}

/* --- console -------------------------------------------------------------------------------- */

void weir_board_console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		while (UART_STATE & UART_TX_FULL)
			;
		UART_DATA = (uint8_t)s[i];
	}
}

int weir_board_console_getc(void)
{
	return (UART_STATE & UART_RX_FULL) ? (int)(UART_DATA & 0xffu) : -1;
}

/* --- interrupts and idle -----------------------------------------------------------------------
 */

void weir__mps2_irq_dispatch(void)
{
	uint32_t ipsr, irq;

	__asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
	irq = (ipsr & 0x1ffu) - 16;
	if (irq < NUM_IRQS && irqs[irq].fn != NULL)
		irqs[irq].fn(irqs[irq].arg);
	else if (irq < NUM_IRQS)
		NVIC_ICER0 = 1u << irq; /* nobody's line: silence it */
}

int weir_board_irq_attach(unsigned irq, void (*fn)(void *arg), void *arg)
{
	WEIR_EINVAL_IF(irq >= NUM_IRQS || fn == NULL);
	if (irqs[irq].fn != NULL)
		return WEIR_EBUSY;
	irqs[irq].arg = arg;
	irqs[irq].fn = fn;
	NVIC_ICPR0 = 1u << irq; /* a level left from before counts from now on */
	NVIC_ISER0 = 1u << irq;
	return 0;
}

void weir_board_irq_detach(unsigned irq)
{
	if (irq >= NUM_IRQS)
		return;
	NVIC_ICER0 = 1u << irq;
	__asm__ volatile("dsb\n\tisb" ::: "memory");
	irqs[irq].fn = NULL;
	irqs[irq].arg = NULL;
}

static void timer0_irq(void *arg)
{
	(void)arg;
	T0_CTRL = 0;
	T0_INTSTATUS = 1;
	weir_baremetal_wake();
}

void weir_board_idle(uint64_t deadline_ns)
{
	uint64_t now = weir_clock_now_ns(), wait;

	if (deadline_ns <= now)
		return;
	wait = deadline_ns - now;
	if (wait > MAX_IDLE_NS)
		wait = MAX_IDLE_NS;
	/* With interrupts masked, a wake-up that came after the loop's last poll is seen here;
	 * one that comes later leaves its line pending, and WFI returns at once. */
	__asm__ volatile("cpsid i" ::: "memory");
	if (!weir_baremetal_wake_pending()) {
		T0_CTRL = 0;
		T0_INTSTATUS = 1;
		T0_RELOAD = (uint32_t)(wait / TICK_NS) + 1;
		T0_CTRL = T_EN | T_IRQEN;
		__asm__ volatile("dsb\n\twfi" ::: "memory");
	}
	__asm__ volatile("cpsie i\n\tisb" ::: "memory");
	T0_CTRL = 0;
}

/* --- entropy -------------------------------------------------------------------------------- */

/* Boot-time jitter: how long UART register reads take, in timer ticks, varies with what the
 * emulator or the bus is doing. */
static uint32_t jitter(unsigned i)
{
	uint32_t t0 = DT1_VALUE;

	for (unsigned k = 0; k < 1 + (i & 7); k++)
		(void)UART_STATE;
	return t0 - DT1_VALUE;
}

/* --- the rest ------------------------------------------------------------------------------- */

void weir_board_id(uint8_t id[8])
{
	/* The board has no serial number: every MPS2 AN386 says the same. */
	memcpy(id, "mps2-386", 8);
}

void weir_board_exit(int code)
{
#if WEIR_MPS2_SEMIHOSTING
	/* SYS_EXIT_EXTENDED (0x20): ADP_Stopped_ApplicationExit with the status. */
	uint32_t block[2] = { 0x20026u, (uint32_t)code };
	register uint32_t r0 __asm__("r0") = 0x20;
	register uint32_t *r1 __asm__("r1") = block;

	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
#else
	(void)code;
#endif
	__asm__ volatile("cpsid i" ::: "memory");
	for (;;)
		__asm__ volatile("wfi");
}

void weir_board_init(void)
{
	UART_BAUDDIV = 25000000u / 115200u;
	UART_CTRL = UART_TX_EN | UART_RX_EN;
	DT1_CONTROL = 0;
	DT1_LOAD = 0xffffffffu;
	DT1_CONTROL = DT_ENABLE | DT_SIZE32; /* free-running, no interrupt */
	clock_last = DT1_VALUE;
	T0_CTRL = 0;
	T0_INTSTATUS = 1;
	weir_board_irq_attach(TIMER0_IRQ, timer0_irq, NULL);
	weir_baremetal_entropy_boot(jitter, (const volatile void *)(uintptr_t)WEIR_MPS2_SEED_ADDR,
				    WEIR_MPS2_SEED_LEN);
}
