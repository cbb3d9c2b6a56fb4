/* startup.c - MPS2 AN386 (Cortex-M4): the vector table, the reset handler and the fault handler.
 *
 * Reset copies .data from the code region, zeroes .bss, turns the FPU on when the build uses it,
 * brings the board up and calls main(); main's return value ends the program (weir_board_exit).
 * A fault prints what the core recorded and stops the program. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <weir/board.h>

#define NUM_IRQS 32 /* what QEMU's mps2-an386 NVIC has */

extern uint32_t __weir_data_start[], __weir_data_end[], __weir_data_load[];
extern uint32_t __weir_bss_start[], __weir_bss_end[], __weir_stack_top[];

int main(void);
void weir_reset_handler(void);
void weir__mps2_irq_dispatch(void);	    /* board.c */
void weir__mps2_fault_report(uint32_t *sf); /* below, called by the fault entry */
void weir__mps2_fault_entry(void);

typedef union {
	void (*fn)(void);
	void *sp;
} vector_t;

__attribute__((section(".vectors"), used)) static const vector_t vectors[16 + NUM_IRQS] = {
	[0] = { .sp = __weir_stack_top },
	[1] = { .fn = weir_reset_handler },
	[2 ... 6] = { .fn = weir__mps2_fault_entry }, /* NMI, HardFault, MemManage, Bus, Usage */
	[11] = { .fn = weir__mps2_fault_entry },      /* SVCall: nothing here uses it */
	[14] = { .fn = weir__mps2_fault_entry },      /* PendSV: likewise */
	[15] = { .fn = weir__mps2_fault_entry },      /* SysTick: never enabled */
	[16 ... 16 + NUM_IRQS - 1] = { .fn = weir__mps2_irq_dispatch },
};

void weir_reset_handler(void)
{
	memcpy(__weir_data_start, __weir_data_load,
	       (size_t)((char *)__weir_data_end - (char *)__weir_data_start));
	memset(__weir_bss_start, 0, (size_t)((char *)__weir_bss_end - (char *)__weir_bss_start));
#if defined(__ARM_FP)
	/* CP10 and CP11 full access: the FPU is off at reset, and its first use would fault. */
	*(volatile uint32_t *)0xe000ed88u |= 0xfu << 20;
	__asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
	weir_board_init();
	weir_board_exit(main());
}

/* The exception frame is on the stack the faulting code used: MSP or PSP (EXC_RETURN bit 2). */
__attribute__((naked)) void weir__mps2_fault_entry(void)
{
	__asm__ volatile("tst lr, #4\n\t"
			 "ite eq\n\t"
			 "mrseq r0, msp\n\t"
			 "mrsne r0, psp\n\t"
			 "b weir__mps2_fault_report\n\t");
}

void weir__mps2_fault_report(uint32_t *sf)
{
	volatile const uint32_t *scb = (volatile const uint32_t *)0xe000ed00u;
	uint32_t ipsr;
	char buf[160];
	int n;

	__asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
	/* Stacked r0-r3, r12, lr, pc, xpsr; CFSR, HFSR, MMFAR, BFAR from the SCB. */
	n = snprintf(
		buf, sizeof(buf),
		"weir: fault: exception %lu pc %08lx lr %08lx cfsr %08lx hfsr %08lx mmfar %08lx "
		"bfar %08lx\r\n",
		(unsigned long)(ipsr & 0x1ffu), (unsigned long)sf[6], (unsigned long)sf[5],
		(unsigned long)scb[0x28 / 4], (unsigned long)scb[0x2c / 4],
		(unsigned long)scb[0x34 / 4], (unsigned long)scb[0x38 / 4]);
	if (n > 0)
		weir_board_console_write(buf,
					 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	weir_board_exit(135);
}
