/* fiber_stack.c - fiber stacks on bare metal: from the heap (no MMU, so no guard page), painted
 * so that the deepest use can be measured and an overflow of the lowest bytes is caught when the
 * stack is freed (after the fact: a board with an MPU could fence each stack instead). */
#include <stdint.h>
#include <stdlib.h>

#include <weir/baremetal.h>
#include <weir/compiler.h>

#include "fiber_priv.h"

#define PAINT  0xa5u
#define CANARY 32 /* bytes at the bottom that must never be written */

static size_t deepest; /* the most any freed stack used */

void *weir__fiber_stack_alloc(size_t size, size_t *usable)
{
	uint8_t *p;

	size = (size + 15) & ~(size_t)15;
	p = malloc(size);
	if (p == NULL)
		return NULL;
	for (size_t i = 0; i < size; i++)
		p[i] = PAINT;
	*usable = size;
	return p;
}

void weir__fiber_stack_free(void *lo, size_t usable)
{
	const uint8_t *p = lo;
	size_t untouched = 0;

	while (untouched < usable && p[untouched] == PAINT)
		untouched++;
	if (usable - untouched > deepest)
		deepest = usable - untouched;
	if (untouched < CANARY)
		weir_panic(__FILE__, __LINE__, "a fiber used %u of its %u stack bytes (overflow)",
			   (unsigned)(usable - untouched), (unsigned)usable);
	free(lo);
}

void weir__fiber_stack_trim(void)
{
}

size_t weir_baremetal_fiber_stack_deepest(void)
{
	return deepest;
}
