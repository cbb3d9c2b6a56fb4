/* hosted.c - the Linux implementation of the platform: clock, entropy, log sink, panic. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>

uint64_t weir_clock_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * WEIR_NS_PER_S + (uint64_t)ts.tv_nsec;
}

uintptr_t weir_thread_id(void)
{
	return (uintptr_t)pthread_self();
}

int weir_entropy_fill(void *buf, size_t len)
{
	uint8_t *p = buf;

	WEIR_EINVAL_IF(buf == NULL && len != 0);
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return WEIR_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

__attribute__((weak)) void weir_log_sink(enum weir_log_level level, const char *line, size_t len)
{
	WEIR_UNUSED(level);
	/* One write per line keeps lines from different processes whole in a shared log. */
	char buf[600];
	size_t n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;

	for (size_t i = 0; i < n; i++)
		buf[i] = line[i];
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0) {
		/* Nowhere left to report a failed log write. */
	}
}

void weir_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "weir: panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
