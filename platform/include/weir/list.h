/* list.h - an intrusive doubly linked list: a node embedded in each element, a head and a tail.
 *
 * All zero is an empty list and an unlinked node, so a list in a calloc'd or static object needs
 * no init. Removing takes the list (a NULL-terminated list has no sentinel to find it by). No
 * allocation; O(1) everything but iteration.
 */
#ifndef WEIR_LIST_H
#define WEIR_LIST_H

#include <stddef.h>

#include <weir/compiler.h>

struct weir_list_node {
	struct weir_list_node *prev, *next;
};

struct weir_list {
	struct weir_list_node *head, *tail;
};

/* The element that embeds node as member; NULL for a NULL node. */
#define weir_list_entry(node, type, member)                                                        \
	((node) != NULL ? WEIR_CONTAINER_OF(node, type, member) : (type *)NULL)

static inline int weir_list_empty(const struct weir_list *l)
{
	return l->head == NULL;
}

static inline void weir_list_push_tail(struct weir_list *l, struct weir_list_node *n)
{
	n->next = NULL;
	n->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = n;
	else
		l->head = n;
	l->tail = n;
}

static inline void weir_list_push_head(struct weir_list *l, struct weir_list_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head != NULL)
		l->head->prev = n;
	else
		l->tail = n;
	l->head = n;
}

/* Unlinks n, which must be on l, and leaves it all zero. */
static inline void weir_list_remove(struct weir_list *l, struct weir_list_node *n)
{
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

#endif /* WEIR_LIST_H */
