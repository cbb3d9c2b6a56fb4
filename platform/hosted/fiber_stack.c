/* fiber_stack.c - hosted fiber stacks: pooled, each with a guard page, and the overflow report.
 *
 * A fiber per connection means stacks come and go with connections, tens of thousands at once.
 * Stacks of the default size (and of up to POOLS other sizes) come from chunks of CHUNK stacks:
 * one MAP_NORESERVE mapping each, costing memory only where touched. Below every stack is a
 * guard page: a guard region (MADV_GUARD_INSTALL, Linux 6.13), which keeps the chunk one
 * mapping, or on older kernels a PROT_NONE page, which splits it (two mappings per stack:
 * vm.max_map_count, 65,530 by default, then bounds the fibers at about 32,000). A fiber that
 * runs off its stack faults on the guard page; our SIGSEGV handler (on an alternate signal
 * stack, since the faulting stack is full) names the fiber on stderr and lets the fault kill the
 * process as usual.
 *
 * A finished fiber's stack goes back to its pool's free list, never to the kernel while the
 * process runs: no mmap, mprotect or munmap per connection. The HOT most recently freed keep
 * their pages and are handed out first; older free stacks give theirs back (MADV_DONTNEED), so
 * memory follows the load down while the address space stays. Other sizes are mapped and unmapped
 * one by one. weir__fiber_stack_trim() unmaps everything once no stack is in use.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
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
/* Stack sizes with a pool; stacks carved per mapping; freed stacks that keep their pages. */
#define POOLS 4
#define CHUNK 16
#define HOT   64

/* Per shard (thread): the alternate signal stack the handler runs on is the thread's. The
 * handler itself is the process's, installed once. */
static WEIR_PER_SHARD size_t page_size;
static WEIR_PER_SHARD int handler_installed;
static WEIR_PER_SHARD void *alt_stack; /* ours, if this thread had none */
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static struct sigaction prev_segv;

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

static void install_segv_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
}

static void install_handler(void)
{
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
			else
				alt_stack = p;
		}
	}
	pthread_once(&segv_once, install_segv_handler);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13; older C libraries do not name it */
#endif

/* One pool per stack size; the chunks of all pools, for the final unmap. */
struct pool {
	size_t usable; /* bytes of each stack, a multiple of the page size */
	void **free;   /* free stacks (their low ends), the most recently freed last */
	size_t nfree, cap;
	size_t total; /* stacks carved from chunks */
};

static WEIR_PER_SHARD struct pool pools[POOLS];
static WEIR_PER_SHARD unsigned npools;
static WEIR_PER_SHARD struct {
	void *base;
	size_t len;
} * chunks;
static WEIR_PER_SHARD size_t nchunks, chunks_cap;
static WEIR_PER_SHARD int guard_regions = -1; /* unknown until the first chunk; then 1 or 0 */

static struct pool *pool_for(size_t len)
{
	for (unsigned i = 0; i < npools; i++)
		if (pools[i].usable == len)
			return &pools[i];
	if (npools == POOLS)
		return NULL;
	pools[npools].usable = len;
	return &pools[npools++];
}

/* A guard page at p: a guard region if the kernel has them, else a PROT_NONE page. */
static int guard(void *p)
{
	if (guard_regions != 0) {
		if (madvise(p, page_size, MADV_GUARD_INSTALL) == 0) {
			guard_regions = 1;
			return 0;
		}
		if (guard_regions == 1)
			return -1;
		guard_regions = 0;
	}
	return mprotect(p, page_size, PROT_NONE);
}

/* Carves a chunk of CHUNK stacks into the pool's free list. */
static int grow(struct pool *pl)
{
	size_t step = pl->usable + page_size, len = step * CHUNK;
	char *base;

	if (nchunks == chunks_cap) {
		size_t cap = chunks_cap ? chunks_cap * 2 : 64;
		void *n = realloc(chunks, cap * sizeof(*chunks));

		if (n == NULL)
			return -1;
		chunks = n;
		chunks_cap = cap;
	}
	/* Room on the free list for every stack of the pool, this chunk's too, first: then a free
	 * never fails. */
	if (pl->cap < pl->total + CHUNK) {
		size_t cap = pl->cap ? pl->cap : CHUNK * 4;
		void **n;

		while (cap < pl->total + CHUNK)
			cap *= 2;
		n = realloc(pl->free, cap * sizeof(*n));
		if (n == NULL)
			return -1;
		pl->free = n;
		pl->cap = cap;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return -1;
	for (unsigned i = 0; i < CHUNK; i++) {
		if (guard(base + i * step) < 0) {
			munmap(base, len);
			return -1;
		}
	}
	chunks[nchunks].base = base;
	chunks[nchunks].len = len;
	nchunks++;
	/* The lowest last: it is handed out first. */
	for (unsigned i = CHUNK; i-- > 0;)
		pl->free[pl->nfree++] = base + i * step + page_size;
	pl->total += CHUNK;
	return 0;
}

void *weir__fiber_stack_alloc(size_t size, size_t *usable)
{
	struct pool *pl;
	size_t len;
	char *base;

	if (page_size == 0)
		page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (!handler_installed)
		install_handler();
	if (size == 0 || size > SIZE_MAX / 2)
		return NULL;
	len = (size + page_size - 1) & ~(page_size - 1);
	pl = pool_for(len);
	if (pl != NULL) {
		if (pl->nfree == 0 && grow(pl) < 0)
			return NULL;
		*usable = len;
		return pl->free[--pl->nfree];
	}
	/* A size without a pool: a mapping of its own. */
	base = mmap(NULL, len + page_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	if (guard(base) < 0) {
		munmap(base, len + page_size);
		return NULL;
	}
	*usable = len;
	return base + page_size;
}

void weir__fiber_stack_free(void *lo, size_t usable)
{
	struct pool *pl = NULL;

#if WEIR__FIBER_ASAN
	/* A finished fiber leaves poisoned redzones of its last frames in the shadow; whoever
	 * gets this memory next must not inherit them. */
	__asan_unpoison_memory_region(lo, usable);
#endif
	for (unsigned i = 0; i < npools; i++)
		if (pools[i].usable == usable)
			pl = &pools[i];
	if (pl != NULL) {
		/* Every stack of this size is the pool's; room was made on the free list for each
		 * when its chunk was carved. The list's top HOT keep their pages (the next spawns
		 * take them); the one this push moves out of that window gives its pages back. */
		if (pl->nfree >= HOT)
			madvise(pl->free[pl->nfree - HOT], usable, MADV_DONTNEED);
		pl->free[pl->nfree++] = lo;
		return;
	}
	munmap((char *)lo - page_size, usable + page_size);
}

void weir__fiber_stack_trim(void)
{
	for (unsigned i = 0; i < npools; i++)
		if (pools[i].nfree != pools[i].total)
			return; /* a stack is still in use */
	for (size_t i = 0; i < nchunks; i++)
		munmap(chunks[i].base, chunks[i].len);
	for (unsigned i = 0; i < npools; i++)
		free(pools[i].free);
	free(chunks);
	memset(pools, 0, sizeof(pools));
	npools = 0;
	chunks = NULL;
	nchunks = chunks_cap = 0;
	if (alt_stack != NULL) { /* a shard's thread may end: its alternate stack goes with it */
		stack_t ss = { .ss_flags = SS_DISABLE };

		if (sigaltstack(&ss, NULL) == 0)
			munmap(alt_stack, ALT_STACK_SIZE);
		alt_stack = NULL;
		handler_installed = 0;
	}
}
