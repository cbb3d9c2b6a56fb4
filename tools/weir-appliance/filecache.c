/* filecache.c - file contents kept in memory for the HTTP service. One thread (the loop's): no
 * locks. Reading a file blocks the loop as the streaming path's reads do. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "http"
#include <weir/log.h>

#include "filecache.h"

/* One cache per shard (thread): a shard's flows send from its own entries, and nothing is
 * locked. The limit (--http-cache) is each shard's, set before the shards start. */
static uint64_t limit = 256ull << 20;
static __thread struct {
	uint64_t used, clock;
	unsigned n;
	struct filecache_entry *head;
} fc;

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int matches(const struct filecache_entry *e, const struct stat *st)
{
	return !e->stale && e->dev == st->st_dev && e->ino == st->st_ino &&
	       e->size == (size_t)st->st_size && same_time(e->mtime, st->st_mtim) &&
	       same_time(e->ctime, st->st_ctim);
}

static void unlink_free(struct filecache_entry **pp)
{
	struct filecache_entry *e = *pp;

	*pp = e->next;
	fc.used -= e->size;
	fc.n--;
	free(e->data);
	free(e);
}

/* Drops unused entries, least recently used first, until need more bytes fit. */
static int make_room(uint64_t need)
{
	while (fc.used + need > limit) {
		struct filecache_entry **victim = NULL;

		for (struct filecache_entry **pp = &fc.head; *pp != NULL; pp = &(*pp)->next)
			if ((*pp)->users == 0 &&
			    (victim == NULL || (*pp)->last_use < (*victim)->last_use))
				victim = pp;
		if (victim == NULL)
			return -1;
		unlink_free(victim);
	}
	return 0;
}

void filecache_set_limit(uint64_t bytes)
{
	limit = bytes;
	make_room(0);
}

struct filecache_entry *filecache_get(int fd, const struct stat *st)
{
	struct filecache_entry *e, **pp;
	uint8_t *data;
	size_t size = (size_t)st->st_size, off = 0;

	if (st->st_size < (off_t)FILECACHE_MIN_SIZE || (uint64_t)st->st_size > limit)
		return NULL;
	for (pp = &fc.head; *pp != NULL;) {
		e = *pp;
		if (matches(e, st)) {
			e->users++;
			e->last_use = ++fc.clock;
			return e;
		}
		/* Another version of the same file: gone once its last sender is done. */
		if (e->dev == st->st_dev && e->ino == st->st_ino)
			e->stale = 1;
		if (e->stale && e->users == 0) {
			unlink_free(pp);
			continue;
		}
		pp = &e->next;
	}
	if (make_room(size) < 0)
		return NULL;
	data = malloc(size);
	e = calloc(1, sizeof(*e));
	if (data == NULL || e == NULL) {
		free(data);
		free(e);
		return NULL;
	}
	while (off < size) {
		ssize_t n = pread(fd, data + off, size - off, (off_t)off);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			/* Shrunk (or unreadable) while read: not cached; the caller's stream says.
			 */
			free(data);
			free(e);
			return NULL;
		}
		off += (size_t)n;
	}
	{
		/* Changed while read (rewritten in place, same size)? Then these bytes may be a
		 * mix of two versions: not cached; the caller streams the file instead. */
		struct stat now;

		if (fstat(fd, &now) != 0 || now.st_size != st->st_size ||
		    !same_time(now.st_mtim, st->st_mtim) || !same_time(now.st_ctim, st->st_ctim)) {
			free(data);
			free(e);
			return NULL;
		}
	}
	e->data = data;
	e->size = size;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->mtime = st->st_mtim;
	e->ctime = st->st_ctim;
	e->users = 1;
	e->last_use = ++fc.clock;
	e->next = fc.head;
	fc.head = e;
	fc.used += size;
	fc.n++;
	return e;
}

void filecache_put(struct filecache_entry *e)
{
	struct filecache_entry **pp;

	if (e == NULL)
		return;
	WEIR_BUG_ON(e->users == 0);
	if (--e->users > 0 || (!e->stale && fc.used <= limit))
		return;
	for (pp = &fc.head; *pp != e; pp = &(*pp)->next)
		;
	unlink_free(pp);
}

void filecache_clear(void)
{
	for (struct filecache_entry **pp = &fc.head; *pp != NULL;) {
		if ((*pp)->users == 0)
			unlink_free(pp);
		else
			pp = &(*pp)->next;
	}
}

void filecache_usage(uint64_t *bytes, unsigned *entries)
{
	*bytes = fc.used;
	*entries = fc.n;
}
