/* mem.c - lwIP's heap on the C library (MEM_LIBC_MALLOC) with a cache of freed blocks per size
 * class: a sender allocates and frees one block per TCP segment, and glibc's malloc did that at
 * the cost of a quarter of a sending core (its free path trimming the heap top that the next
 * malloc then faults back in). Blocks of up to 16 KiB keep their class in a 16-byte header and go
 * back to a per-class free list (bounded, so the cache holds at most a few send buffers' worth);
 * larger ones go straight to the C library.
 *
 * Under AddressSanitizer the cache is off: every block is the C library's, so a use after free
 * is still reported. One lwIP per thread (shards: the cache is per thread too), so no locks. */
#include <stdlib.h>
#include <string.h>

#include "lwip/opt.h"

#include <weir/compiler.h>

#if MEM_LIBC_MALLOC

#define CACHE (!WEIR_ASAN)

#define HDR 16u /* keeps the block 16-byte aligned, as malloc's are */

static const size_t class_size[] = { 64, 256, 512, 2048, 4096, 16384 };
/* Blocks kept per class: 2048-byte blocks hold one segment each, so 8192 of them are 16 MiB of
 * send buffer; 64-byte ones are lwIP's segment and pbuf records, 512-byte ones its TCP pcbs (with
 * the pools growing from this heap, CONFIG_LWIP_MEMP_POOLS_GROW), 4,096 of them 2 MiB: past that,
 * connections that end give their memory back to the C library. */
static const unsigned class_keep[] = { 16384, 8192, 4096, 8192, 1024, 256 };
#define NCLASS (sizeof(class_size) / sizeof(class_size[0]))

struct block {
	struct block *next; /* on the free list */
};

static WEIR_PER_SHARD struct {
	struct block *free[NCLASS];
	unsigned nfree[NCLASS];
} cache;

void *weir__lwip_malloc(size_t size)
{
	unsigned c;
	uint8_t *p;

	if (!CACHE)
		return malloc(size);
	for (c = 0; c < NCLASS && size > class_size[c]; c++)
		;
	if (c < NCLASS && cache.free[c] != NULL) {
		struct block *b = cache.free[c];

		cache.free[c] = b->next;
		cache.nfree[c]--;
		return b;
	}
	p = malloc(HDR + (c < NCLASS ? class_size[c] : size));
	if (p == NULL)
		return NULL;
	p[0] = (uint8_t)c; /* NCLASS: not from a class */
	return p + HDR;
}

void *weir__lwip_calloc(size_t count, size_t size)
{
	void *p;

	if (size != 0 && count > (size_t)-1 / size)
		return NULL;
	p = weir__lwip_malloc(count * size);
	if (p != NULL)
		memset(p, 0, count * size);
	return p;
}

void weir__lwip_free(void *p)
{
	uint8_t *base;
	unsigned c;

	if (!CACHE || p == NULL) {
		free(p);
		return;
	}
	base = (uint8_t *)p - HDR;
	c = base[0];
	if (c < NCLASS && cache.nfree[c] < class_keep[c]) {
		struct block *b = p;

		b->next = cache.free[c];
		cache.free[c] = b;
		cache.nfree[c]++;
		return;
	}
	free(base);
}

void weir__lwip_mem_drain(void)
{
	for (unsigned c = 0; c < NCLASS; c++) {
		while (cache.free[c] != NULL) {
			struct block *b = cache.free[c];

			cache.free[c] = b->next;
			free((uint8_t *)b - HDR);
		}
		cache.nfree[c] = 0;
	}
}

#endif /* MEM_LIBC_MALLOC */
