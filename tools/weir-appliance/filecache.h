/* filecache.h - file contents the HTTP service keeps in memory and sends without a copy
 * (weir_flow_write_nocopy): the same file to many clients is read once, not once per client. */
#ifndef WEIR_APPLIANCE_FILECACHE_H
#define WEIR_APPLIANCE_FILECACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Files smaller than this are sent from a read buffer (the copy costs less than a round trip at
 * the end of a send without copy). */
#define FILECACHE_MIN_SIZE (64u * 1024)

struct filecache_entry {
	uint8_t *data; /* the contents: read only for users */
	size_t size;
	/* Private: which file and version this is, who uses it, the cache's list. */
	dev_t dev;
	ino_t ino;
	struct timespec mtime, ctime;
	unsigned users;
	int stale;
	uint64_t last_use;
	struct filecache_entry *next;
};

/* The memory the cache may hold, in bytes (0: no cache; the default is 256 MiB). Entries in use
 * are never dropped; unused ones go, least recently used first, to make room. */
void filecache_set_limit(uint64_t bytes);
/* The contents of the open file fd as fstat described it (st), from the cache when the file has
 * not changed since it was read (device, inode, size, modification and change times), else read
 * now. NULL: smaller than FILECACHE_MIN_SIZE, larger than the limit, no room beside files in use,
 * no memory, or the file changed while read; the caller then streams it. Each entry returned is
 * held until filecache_put. */
struct filecache_entry *filecache_get(int fd, const struct stat *st);
void filecache_put(struct filecache_entry *e);
/* Frees every entry not in use (at exit). */
void filecache_clear(void);
/* Bytes held, and entries, for a stats line. */
void filecache_usage(uint64_t *bytes, unsigned *entries);

#endif
