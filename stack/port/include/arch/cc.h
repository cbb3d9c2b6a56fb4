/* arch/cc.h - compiler and platform glue for lwIP, included before lwIP's own typedefs (so only
 * <stdint.h> types here). */
#ifndef WEIR_LWIP_ARCH_CC_H
#define WEIR_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* lwIP's arch.h typedefs ssize_t as int unless <limits.h> defines SSIZE_MAX, which picolibc's
 * does not (newlib's and glibc's do): the C library's own ssize_t (long on AArch64) then
 * conflicts. It is there (<sys/types.h>): say so. */
#ifndef SSIZE_MAX
#define SSIZE_MAX (__SIZE_MAX__ >> 1)
#endif

/* glibc's <endian.h> may have defined it already (same values as lwIP's). */
#ifndef BYTE_ORDER
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BYTE_ORDER BIG_ENDIAN
#else
#define BYTE_ORDER LITTLE_ENDIAN
#endif
#endif

#define LWIP_NO_INTTYPES_H 0
#define lwip_htons(x)	   __builtin_bswap16(x)
#define lwip_htonl(x)	   __builtin_bswap32(x)

/* lwIP's diagnostics and assertions go to weir's log and panic, never to printf/abort directly
 * (bare-metal images have neither). */
void weir__lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void weir__lwip_assert_failed(const char *msg, const char *file, int line)
	__attribute__((noreturn));
#define LWIP_PLATFORM_DIAG(x)	weir__lwip_diag x
#define LWIP_PLATFORM_ASSERT(x) weir__lwip_assert_failed(x, __FILE__, __LINE__)

uint32_t weir__lwip_rand(void);
#define LWIP_RAND() weir__lwip_rand()

/* lwIP's heap with MEM_LIBC_MALLOC: malloc behind a cache of freed blocks (stack/port/mem.c). */
void *weir__lwip_malloc(size_t size);
void *weir__lwip_calloc(size_t count, size_t size);
void weir__lwip_free(void *p);
/* Gives the calling thread's cached free blocks back to the C library (a shard's thread ending:
 * the cache is per thread with shards). */
void weir__lwip_mem_drain(void);

/* The Internet checksum 64 bytes per step instead of lwIP's two (weir/csum.h). lwIP passes an
 * int length, never negative. */
#include <weir/csum.h>
#define LWIP_CHKSUM(data, len) weir_csum((data), (size_t)(len))

#endif /* WEIR_LWIP_ARCH_CC_H */
