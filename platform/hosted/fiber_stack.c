/* fiber_stack.c - hosted fiber stacks: mmap'd with a guard page, and the overflow report.
 *
 * Each stack is one mapping: the lowest page is PROT_NONE, the rest is read-write and, being
 * MAP_NORESERVE, costs memory only where touched. A fiber that runs off its stack faults on the
 * guard page; our SIGSEGV handler (on an alternate signal stack, since the faulting stack is
 * full) names the fiber on stderr and lets the fault kill the process as usual.
 *
 * Mapping, protecting, first-touching and unmapping a stack costs several system calls and a page
 * fault, far more than the fiber often lives, so the last few freed stacks are kept for reuse
 * (a fiber per connection spawns and finishes all the time). weir__fiber_stack_trim() drops them.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <weir/compiler.h>

#include "fiber_priv.h"

#if WEIR__FIBER_ASAN
#include <sanitizer/asan_interface.h>
#endif

/* Room for our handler, and for a sanitizer's handler we chain to. */
#define ALT_STACK_SIZE ((size_t)256 * 1024)
/* Freed stacks kept for reuse: bounds the memory a burst of short fibers leaves behind. */
#define CACHE_SLOTS 8

static size_t page_size;
static int handler_installed;
static struct sigaction prev_segv;
static struct {
	void *lo;
	size_t usable;
} cache[CACHE_SLOTS];
static unsigned ncached;

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		buf[i++] = tmp[--n];
	return i;
}

static void write_all(const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* Async-signal-safe: only write(), sigaction() and raise(). */
static void segv_handler(int sig, siginfo_t *si, void *uctx)
{
	uintptr_t addr = (uintptr_t)si->si_addr, lo;
	const char *name;
	uint64_t id;

	WEIR_UNUSED(uctx);
	if (si->si_code > 0 && weir__fiber_running(&lo, &id, &name) && addr < lo &&
	    addr >= lo - page_size) {
		static const char msg[] = "weir: fiber stack overflow in fiber ";
		char num[24];

		write_all(msg, sizeof(msg) - 1);
		write_all(num, fmt_u64(num, id));
		write_all(" '", 2);
		write_all(name, strlen(name));
		write_all("'\n", 2);
		/* Die of SIGSEGV as if we were not here: the default action applies when the
		 * faulting instruction runs again on return. */
		signal(sig, SIG_DFL);
		return;
	}
	/* Not ours: hand the fault to whoever had it before (the default action, or a sanitizer's
	 * report). A real fault repeats on return; a sent signal must be raised again. */
	sigaction(sig, &prev_segv, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void install_handler(void)
{
	struct sigaction sa;
	stack_t ss;

	handler_installed = 1;
	/* Keep an alternate stack someone else installed (a sanitizer runtime does). */
	if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_DISABLE)) {
		void *p = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p != MAP_FAILED) {
			ss.ss_sp = p;
			ss.ss_size = ALT_STACK_SIZE;
			ss.ss_flags = 0;
			if (sigaltstack(&ss, NULL) < 0)
				munmap(p, ALT_STACK_SIZE);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
}

void *weir__fiber_stack_alloc(size_t size, size_t *usable)
{
	size_t len;
	char *base;

	if (page_size == 0)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (!handler_installed)
		install_handler();
	if (size == 0 || size > SIZE_MAX / 2)
		return NULL;
	len = (size + page_size - 1) & ~(page_size - 1);
	for (unsigned i = ncached; i-- > 0;) {
		if (cache[i].usable == len) {
			void *lo = cache[i].lo;

			cache[i] = cache[--ncached];
			*usable = len;
			return lo;
		}
	}
	base = mmap(NULL, len + page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (mprotect(base, page_size, PROT_NONE) < 0) {
		munmap(base, len + page_size);
		return NULL;
	}
	*usable = len;
	return base + page_size;
}

static void unmap_stack(void *lo, size_t usable)
{
	munmap((char *)lo - page_size, usable + page_size);
}

void weir__fiber_stack_free(void *lo, size_t usable)
{
#if WEIR__FIBER_ASAN
	/* A finished fiber leaves poisoned redzones of its last frames in the shadow; whoever
	 * gets this memory next must not inherit them. */
	__asan_unpoison_memory_region(lo, usable);
#endif
	if (ncached < CACHE_SLOTS) {
		cache[ncached].lo = lo;
		cache[ncached].usable = usable;
		ncached++;
		return;
	}
	unmap_stack(lo, usable);
}

void weir__fiber_stack_trim(void)
{
	while (ncached > 0) {
		ncached--;
		unmap_stack(cache[ncached].lo, cache[ncached].usable);
	}
}
