/* board.h - what a bare-metal board gives weir's OS-less platform (platform/baremetal), and what
 * that platform gives the board's interrupt handlers. docs/porting.md walks through a port.
 *
 * Besides these, a board defines the platform's primitives of weir/clock.h (weir_clock_now_ns,
 * weir_entropy_fill) and weir/log.h (weir_log_sink), its vector table, reset handler and linker
 * script. Everything runs in one thread; interrupt handlers only acknowledge their device and call
 * weir_baremetal_wake(). Hosted builds have none of this.
 */
#ifndef WEIR_BOARD_H
#define WEIR_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* --- provided by the board ------------------------------------------------------------------ */

/* Brings up what the platform needs (clock, console, interrupt controller). The reset handler
 * calls it before main(). */
void weir_board_init(void);

/* Sleeps until weir_clock_now_ns() reaches deadline_ns (WEIR_DEADLINE_NEVER: no deadline) or an
 * interrupt arrives, whichever is first; returns at once when weir_baremetal_wake_pending() is
 * already set (checked with interrupts masked, so a wake-up cannot slip in between). Called by
 * the loop when no source has work. The board may return early (e.g. to keep its clock
 * counting); the loop simply polls again. */
void weir_board_idle(uint64_t deadline_ns);

/* Writes n bytes to the console (polled; returns when they are out). */
void weir_board_console_write(const char *s, size_t n);
/* One byte typed on the console, or -1 when none is waiting. */
int weir_board_console_getc(void);

/* Routes the board's interrupt line irq to fn(arg), called in interrupt context, and enables it.
 * fn must acknowledge its device and may call weir_baremetal_wake(). Returns 0, or WEIR_EINVAL
 * (irq not a line of this board, fn NULL) / WEIR_EBUSY (already routed). */
int weir_board_irq_attach(unsigned irq, void (*fn)(void *arg), void *arg);
/* Disables the line and forgets its handler. */
void weir_board_irq_detach(unsigned irq);

/* Eight bytes that tell this board from another of the same kind (a serial number; on a board
 * without one, the same for all), e.g. to derive a MAC address. */
void weir_board_id(uint8_t id[8]);

/* Ends the program: on an emulator, exits it with code (semihosting); on hardware, stops. */
__attribute__((noreturn)) void weir_board_exit(int code);

/* --- provided by the platform (platform/baremetal) ---------------------------------------- */

/* From interrupt handlers: the loop must poll its sources again; ends an idle sleep. */
void weir_baremetal_wake(void);
/* Whether a wake-up came since the loop last started polling (for weir_board_idle). */
int weir_baremetal_wake_pending(void);

/* For weir_board_init: seeds the entropy pool (platform/baremetal/entropy.c) from 256 values
 * of sample(i), meant to jitter (e.g. how many timer ticks 1 + i % 8 register reads take), and
 * seed_len bytes at seed (a runner's seed in RAM, all zero when there is none). */
void weir_baremetal_entropy_boot(uint32_t (*sample)(unsigned i), const volatile void *seed,
				 size_t seed_len);

#endif /* WEIR_BOARD_H */
