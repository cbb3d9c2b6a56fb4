/* freelist.h - weir-internal (weir__): a bounded free list of same-size objects: what a connection
 * allocates and frees (flows, handler and fiber records) waits here for the next one instead of
 * going back to malloc.
 *
 * Objects are at least a pointer in size; a free one's first word links to the next. Past keep
 * free objects, or with keep 0 (set it so under AddressSanitizer, WEIR_ASAN, to keep use-after-free
 * reports, and where memory is too scarce to keep spares), put() hands them to free(). */
#ifndef WEIR_FREELIST_H
#define WEIR_FREELIST_H

#include <stdlib.h>
#include <string.h>

struct weir__freelist {
	void *head;
	unsigned n, keep;
};

/* A zeroed object of size bytes (always the same for one list): a free one, else calloc's.
 * NULL when out of memory. */
static inline void *weir__freelist_get(struct weir__freelist *l, size_t size)
{
	void *p = l->head;

	if (p == NULL)
		return calloc(1, size);
	memcpy(&l->head, p, sizeof(void *));
	l->n--;
	memset(p, 0, size);
	return p;
}

/* Takes back an object from weir__freelist_get (NULL is ignored). */
static inline void weir__freelist_put(struct weir__freelist *l, void *p)
{
	if (p == NULL)
		return;
	if (l->n >= l->keep) {
		free(p);
		return;
	}
	memcpy(p, &l->head, sizeof(void *));
	l->head = p;
	l->n++;
}

/* Frees every object the list keeps. */
static inline void weir__freelist_drain(struct weir__freelist *l)
{
	while (l->head != NULL) {
		void *p = l->head;

		memcpy(&l->head, p, sizeof(void *));
		free(p);
	}
	l->n = 0;
}

#endif /* WEIR_FREELIST_H */
