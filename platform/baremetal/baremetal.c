/* baremetal.c - what any board shares without an OS: the thread id, panic, the console log sink,
 * and what the heap holds (syscalls.c gives newlib its heap). */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <weir/board.h>
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/baremetal.h>
#include <weir/log.h>

uintptr_t weir_thread_id(void)
{
	return 1; /* one thread: the loop's */
}

/* The console gets each line with CR LF, as a terminal wants. Weak: an image may log elsewhere. */
__attribute__((weak)) void weir_log_sink(enum weir_log_level level, const char *line, size_t len)
{
	WEIR_UNUSED(level);
	weir_board_console_write(line, len);
	weir_board_console_write("\r\n", 2);
}

void weir_panic(const char *file, int line, const char *fmt, ...)
{
	char buf[200];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "weir: panic at %s:%d: ", file, line);
	if (n > 0)
		weir_board_console_write(buf,
					 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		weir_board_console_write(buf,
					 (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	weir_board_console_write("\r\n", 2);
	weir_board_exit(134); /* what abort() gives a hosted process */
}

extern char __weir_heap_start[], __weir_heap_end[];
char *weir__baremetal_heap_top(void); /* syscalls.c */

void weir_baremetal_heap(size_t *in_use, size_t *high_water, size_t *size)
{
	if (in_use != NULL)
		*in_use = (size_t)mallinfo().uordblks;
	if (high_water != NULL)
		*high_water = (size_t)(weir__baremetal_heap_top() - __weir_heap_start);
	if (size != NULL)
		*size = (size_t)(__weir_heap_end - __weir_heap_start);
}
