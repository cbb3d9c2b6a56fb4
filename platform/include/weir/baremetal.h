/* baremetal.h - what the OS-less platform (platform/baremetal) reports to an image. */
#ifndef WEIR_BAREMETAL_H
#define WEIR_BAREMETAL_H

#include <stddef.h>

/* The most stack any finished fiber used, in bytes (fiber stacks are painted when allocated and
 * measured when freed): the figure to size CONFIG_WEIR_FIBER_STACK_SIZE by. */
size_t weir_baremetal_fiber_stack_deepest(void);

/* The heap (the region the board's linker script reserves): bytes allocated now, the most the
 * allocator ever took from the region, and its size. Any pointer may be NULL. */
void weir_baremetal_heap(size_t *in_use, size_t *high_water, size_t *size);

/* Mixes len bytes from an entropy source into the pool weir_entropy_fill() draws from: the board
 * adds its boot-time sources (a seed, timer jitter) in weir_board_init(); an image adds what a
 * driver reads from a hardware generator (weir_virtio_rng_read) before it opens the stack. What
 * the pool held is kept, so a weak source never weakens it. NULL or 0 bytes: nothing. */
void weir_baremetal_entropy_add(const void *buf, size_t len);

#endif /* WEIR_BAREMETAL_H */
