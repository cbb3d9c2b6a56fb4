/* syscalls.c - the few system calls newlib's malloc and stdio reach for, without an OS: the heap
 * is the fixed region the board's linker script reserves, output goes to the board's console,
 * and the rest answer as a system with nothing else would. newlib (Cortex-M) and picolibc
 * (AArch64) both come through here. Linked into every image as an object
 * (weir_baremetal_rt): only the C library refers to these, after weir's libraries are scanned. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include <weir/board.h>
#include <weir/compiler.h>

/* The heap: [__weir_heap_start, __weir_heap_end), sized by the profile (the linker script). */
extern char __weir_heap_start[], __weir_heap_end[];
static char *heap_top = __weir_heap_start;

/* Prototypes for -Wmissing-prototypes: newlib declares these only inside its own build. */
void *_sbrk(ptrdiff_t incr);
#ifdef __PICOLIBC__
/* picolibc's malloc asks sbrk (no underscore); its own sbrk would use the same region, but this
 * one keeps the high-water mark weir_baremetal_heap() reports. */
void *sbrk(ptrdiff_t incr);

void *sbrk(ptrdiff_t incr)
{
	return _sbrk(incr);
}
#endif

int _write(int fd, const void *buf, size_t n);
int _read(int fd, void *buf, size_t n);
int _close(int fd);
int _fstat(int fd, struct stat *st);
int _isatty(int fd);
int _lseek(int fd, int off, int whence);
int _getpid(void);
int _kill(int pid, int sig);
void _exit(int code);

void *_sbrk(ptrdiff_t incr)
{
	char *old = heap_top;

	if (incr > __weir_heap_end - heap_top || incr < __weir_heap_start - heap_top) {
		errno = ENOMEM;
		return (void *)-1;
	}
	heap_top += incr;
	return old;
}

int _write(int fd, const void *buf, size_t n)
{
	if (fd != 1 && fd != 2) {
		errno = EBADF;
		return -1;
	}
	weir_board_console_write(buf, n);
	return (int)n;
}

int _read(int fd, void *buf, size_t n)
{
	WEIR_UNUSED(fd);
	WEIR_UNUSED(buf);
	WEIR_UNUSED(n);
	return 0;
}

int _close(int fd)
{
	WEIR_UNUSED(fd);
	errno = EBADF;
	return -1;
}

int _fstat(int fd, struct stat *st)
{
	WEIR_UNUSED(fd);
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFCHR;
	return 0;
}

int _isatty(int fd)
{
	return fd <= 2;
}

int _lseek(int fd, int off, int whence)
{
	WEIR_UNUSED(fd);
	WEIR_UNUSED(off);
	WEIR_UNUSED(whence);
	errno = ESPIPE;
	return -1;
}

int _getpid(void)
{
	return 1;
}

int _kill(int pid, int sig)
{
	WEIR_UNUSED(pid);
	weir_board_exit(128 + sig);
}

void _exit(int code)
{
	weir_board_exit(code);
}

char *weir__baremetal_heap_top(void);

char *weir__baremetal_heap_top(void)
{
	return heap_top;
}
