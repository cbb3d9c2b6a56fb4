/* compiler.h - small compiler helpers and the two levels of assertion (see STYLE.md). */
#ifndef WEIR_COMPILER_H
#define WEIR_COMPILER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <weir/config.h>

#define WEIR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WEIR_CONTAINER_OF(ptr, type, member)                                                       \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define WEIR_MIN(a, b)	  ((a) < (b) ? (a) : (b))
#define WEIR_MAX(a, b)	  ((a) > (b) ? (a) : (b))
#define WEIR_UNUSED(x)	  ((void)(x))
#define WEIR_LIKELY(x)	  __builtin_expect(!!(x), 1)
#define WEIR_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define WEIR_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* WEIR_PER_SHARD qualifies a variable of which each shard (a thread that runs a stack of its
 * own: docs/shards.md) has its own copy: thread-local when built with CONFIG_WEIR_SHARDS (hosted,
 * where lwIP's state is per thread too: stack/patches/0024), a plain variable otherwise. State
 * that every shard shares is not marked and is synchronised where it is written. */
#if defined(CONFIG_WEIR_SHARDS) && CONFIG_WEIR_SHARDS
#define WEIR_SHARDS    1
#define WEIR_PER_SHARD __thread
#else
#define WEIR_SHARDS 0 /* Kconfig leaves an unset bool undefined: test this one in #if */
#define WEIR_PER_SHARD
#endif

/* Objects that different shards' threads write stay on cache lines of their own: a line two
 * CPUs both write moves between them at every write (false sharing). */
#define WEIR_CACHE_LINE	   64
#define WEIR_CACHE_ALIGNED _Alignas(WEIR_CACHE_LINE)

/* calloc for what one shard's thread writes when another thread made it (a multi-queue
 * device's queue objects, a group's wakers, per-shard arrays): zeroed, starting on a cache line
 * and ending on one, so that the end of one object never shares a line with the start of the
 * next made after it. free() frees it. NULL on overflow or no memory. */
static inline void *weir__zalloc_lines(size_t n, size_t size)
{
	size_t total;
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	total = n * size;
	if (total > SIZE_MAX - WEIR_CACHE_LINE)
		return NULL;
	total = (total + WEIR_CACHE_LINE - 1) & ~(size_t)(WEIR_CACHE_LINE - 1);
	if (total == 0)
		total = WEIR_CACHE_LINE;
	p = aligned_alloc(WEIR_CACHE_LINE, total);
	if (p != NULL)
		memset(p, 0, total);
	return p;
}

/* 1 when built with AddressSanitizer (gcc says so with __SANITIZE_ADDRESS__, clang with
 * __has_feature): caches of freed memory step aside then, so a use after free is still reported,
 * and fiber switches are announced to it. */
#if defined(__SANITIZE_ADDRESS__)
#define WEIR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEIR_ASAN 1
#endif
#endif
#ifndef WEIR_ASAN
#define WEIR_ASAN 0
#endif

/* 1 when built with ThreadSanitizer (the shards' test): fiber switches are announced to it. */
#if defined(__SANITIZE_THREAD__)
#define WEIR_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEIR_TSAN 1
#endif
#endif
#ifndef WEIR_TSAN
#define WEIR_TSAN 0
#endif

/* Reports a broken invariant and stops the program (hosted: abort()). Never returns. */
void weir_panic(const char *file, int line, const char *fmt, ...) WEIR_PRINTF(3, 4)
	__attribute__((noreturn));

/* WEIR_BUG_ON stays in release builds; weir_assert is debug-only (NDEBUG removes it). */
#define WEIR_BUG_ON(cond)                                                                          \
	do {                                                                                       \
		if (WEIR_UNLIKELY(cond))                                                           \
			weir_panic(__FILE__, __LINE__, "BUG_ON(%s)", #cond);                       \
	} while (0)
#define WEIR_BUG_ON_NE(a, b)                                                                       \
	do {                                                                                       \
		long long weir__a = (long long)(a), weir__b = (long long)(b);                      \
		if (WEIR_UNLIKELY(weir__a != weir__b))                                             \
			weir_panic(__FILE__, __LINE__, "BUG_ON_NE(%s=%lld, %s=%lld)", #a, weir__a, \
				   #b, weir__b);                                                   \
	} while (0)
#ifdef NDEBUG
#define weir_assert(cond) ((void)0)
#else
#define weir_assert(cond)                                                                          \
	do {                                                                                       \
		if (WEIR_UNLIKELY(!(cond)))                                                        \
			weir_panic(__FILE__, __LINE__, "assertion failed: %s", #cond);             \
	} while (0)
#endif

#endif /* WEIR_COMPILER_H */
