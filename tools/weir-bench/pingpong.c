/* pingpong.c - weir-bench pingpong: what the machine itself does to CPU time per operation when
 * several threads run at once, with no weir in it.
 *
 * Two processes, N threads each; thread i of one and thread i of the other exchange 64-byte
 * messages over socketpair i, each waiting in epoll_wait with a 1 ms timeout, as weir's loop
 * waits with lwIP's timers armed. Both threads of pair i may be pinned to one CPU, as
 * `weir-bench link --shards N --shard-cpus` pins both ends' shard i. The answering side prints a
 * line per pair in the sharded server's format (round trips as "conns", the thread's CPU time
 * from getrusage(RUSAGE_THREAD)), the asking side the "result" line, so tools/bench-shards.sh
 * reads it as one more row: the platform's own 2-vs-1 figure beside weir's, from the same run.
 *
 * With --test bulk the asking thread of each pair streams 64 KiB messages for --duration and the
 * answering one reads them: a load of copies, as the bulk rows are, where the CPUs' caches and
 * memory are what two pairs at once may share. The answering side's line then counts bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weir/clock.h>

#include "bench.h"

struct pp_thread {
	const struct bench_opts *o;
	int fd, cpu, asks;
	uint64_t rts, bytes, cpu_ns, user_ns, sleeps, end_ns;
	int rc;
	pthread_t th;
};

/* Waits until fd is readable (1 ms timeouts, as a loop with timers armed); 0, or -1 on EOF or an
 * error. */
static int pp_read(struct pp_thread *t, int ep, char *buf)
{
	for (;;) {
		struct epoll_event ev;
		ssize_t n = read(t->fd, buf, BENCH_MSG);

		if (n == BENCH_MSG)
			return 0;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		t->sleeps++;
		if (epoll_wait(ep, &ev, 1, 1) < 0 && errno != EINTR)
			return -1;
	}
}

/* --test bulk, one thread of a pair: the asking one writes BENCH_CHUNK messages until the
 * deadline, the answering one reads them until the asking one shuts the pair down. Waits in
 * epoll_wait with 1 ms timeouts, as pp_read. 0, or 1 on an error. */
static int pp_stream(struct pp_thread *t, int ep, uint64_t deadline, char *buf)
{
	struct epoll_event ev = { .events = t->asks ? EPOLLOUT : EPOLLIN };

	if (epoll_ctl(ep, EPOLL_CTL_MOD, t->fd, &ev) < 0)
		return 1;
	for (;;) {
		ssize_t n;

		if (t->asks) {
			if (weir_clock_now_ns() >= deadline)
				return 0;
			n = write(t->fd, buf, BENCH_CHUNK);
		} else {
			n = read(t->fd, buf, BENCH_CHUNK);
			if (n == 0)
				return 0; /* the asking side is done */
		}
		if (n > 0) {
			t->bytes += (uint64_t)n;
			t->rts++;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			/* A reset pair ends the answering side too; any other error is one. */
			return t->asks || errno != ECONNRESET ? 1 : 0;
		t->sleeps++;
		if (epoll_wait(ep, &ev, 1, 1) < 0 && errno != EINTR)
			return 1;
	}
}

/* crr, one thread of a pair: the asking one sends a BENCH_MSG message and waits for its echo
 * until the deadline, the answering one echoes until the pair closes. 0, or 1 on an error. */
static int pp_rounds(struct pp_thread *t, int ep, uint64_t deadline, char *buf)
{
	for (;; t->rts++) {
		if (t->asks) {
			if (weir_clock_now_ns() >= deadline)
				return 0;
			if (write(t->fd, buf, BENCH_MSG) != (ssize_t)BENCH_MSG ||
			    pp_read(t, ep, buf) < 0)
				return 1;
		} else if (pp_read(t, ep, buf) < 0 ||
			   write(t->fd, buf, BENCH_MSG) != (ssize_t)BENCH_MSG) {
			return 0; /* the asking side closed: done */
		}
	}
}

static void *pp_run(void *arg)
{
	struct pp_thread *t = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t deadline = weir_clock_now_ns() + (uint64_t)(t->o->duration_s * 1e9);
	char *buf = malloc(BENCH_CHUNK);
	uint64_t cpu0, user0;
	int ep;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr,
				"weir-bench: pingpong: cannot pin to CPU %d: runs unpinned\n",
				t->cpu);
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (buf == NULL || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, t->fd, &ev) < 0) {
		if (ep >= 0)
			close(ep);
		free(buf);
		t->rc = 1;
		return NULL;
	}
	memset(buf, 0x42, BENCH_CHUNK);
	cpu0 = bench_thread_cpu_ns(&user0);
	t->rc = t->o->test == BENCH_BULK ? pp_stream(t, ep, deadline, buf)
					 : pp_rounds(t, ep, deadline, buf);
	t->cpu_ns = bench_thread_cpu_ns(&t->user_ns) - cpu0;
	t->user_ns -= user0;
	t->end_ns = weir_clock_now_ns();
	if (t->asks)
		shutdown(t->fd, SHUT_RDWR);
	close(ep);
	free(buf);
	return NULL;
}

/* Runs n threads over fds; returns 0 or 1. */
static int pp_side(const struct bench_opts *o, const int *fds, unsigned n, int asks,
		   struct pp_thread *t)
{
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		t[i] = (struct pp_thread){ .o = o, .fd = fds[i], .asks = asks, .cpu = -1 };
		if (o->nshard_cpus > 0)
			t[i].cpu = o->shard_cpus[i % o->nshard_cpus];
		if (pthread_create(&t[i].th, NULL, pp_run, &t[i]) != 0) {
			fprintf(stderr, "weir-bench: pthread_create failed\n");
			for (unsigned k = 0; k < i; k++) {
				shutdown(fds[k], SHUT_RDWR);
				pthread_join(t[k].th, NULL);
			}
			return 1;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		pthread_join(t[i].th, NULL);
		rc |= t[i].rc;
	}
	return rc;
}

int bench_pingpong(const struct bench_opts *o)
{
	unsigned n = o->shards > 0 ? o->shards : 1;
	int ask[64], answer[64], status, rc;
	struct pp_thread t[64];
	struct bench_result r = { .test = o->test == BENCH_BULK ? BENCH_BULK : BENCH_CRR,
				  .flows = n };
	uint64_t start = weir_clock_now_ns(), end = start;
	pid_t pid;

	for (unsigned i = 0; i < n; i++) {
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
			fprintf(stderr, "weir-bench: socketpair: %s\n", strerror(errno));
			bench_close_pairs(ask, answer, i);
			return 1;
		}
		ask[i] = sv[0];
		answer[i] = sv[1];
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "weir-bench: fork: %s\n", strerror(errno));
		bench_close_pairs(ask, answer, n);
		return 1;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (unsigned i = 0; i < n; i++)
			close(ask[i]);
		rc = pp_side(o, answer, n, 0, t);
		for (unsigned i = 0; i < n; i++)
			printf("shard %u conns=%llu bytes=%llu cpu_ms=%.1f user_ms=%.1f "
			       "sleeps=%llu\n",
			       i, (unsigned long long)(r.test == BENCH_BULK ? 0 : t[i].rts),
			       (unsigned long long)t[i].bytes, (double)t[i].cpu_ns / 1e6,
			       (double)t[i].user_ns / 1e6, (unsigned long long)t[i].sleeps);
		fflush(stdout);
		_exit(rc);
	}
	for (unsigned i = 0; i < n; i++)
		close(answer[i]);
	rc = pp_side(o, ask, n, 1, t);
	for (unsigned i = 0; i < n; i++) {
		r.ops += t[i].rts;
		r.bytes += t[i].bytes;
		if (t[i].end_ns > end)
			end = t[i].end_ns;
		close(ask[i]);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	r.seconds = (double)(end - start) / 1e9;
	if (rc == 0)
		bench_report(&r);
	return rc;
}
