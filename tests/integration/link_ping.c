/* link_ping.c - two weir processes over the link driver ping each other (public API only).
 *
 * The parent (192.0.2.1) and a forked child (192.0.2.2) each open a stack on one end of a
 * socketpair. Each sends COUNT echo requests to the other and must get COUNT replies within the
 * time limit, while answering the other's requests. Exit 0 only if both sides got every reply.
 * An optional argument sets a loss rate on both ends; pings are then retried until answered.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/link.h>
#include <weir/loop.h>
#include <weir/stack.h>

#define COUNT	 20
#define LIMIT_NS (20 * WEIR_NS_PER_S)

static int run_side(int fd, const char *me, const char *peer, double loss, uint64_t seed,
		    pid_t child)
{
	struct weir_link_config lc = { .fd = fd,
				       .name = me,
				       .impair = { .loss = loss, .seed = seed } };
	struct weir_stack_config sc = { 0 };
	struct weir_netdev *dev;
	struct weir_loop *loop;
	struct weir_stack *st;
	struct weir_stack_stats s;
	struct weir_ipaddr peer_ip;
	uint64_t start = weir_clock_now_ns(), next_ping = start;
	uint16_t seq = 0;
	int child_done = child == 0, child_ok = 1, rc;

	if (weir_link_open(&lc, &dev) < 0 || weir_loop_create(&loop) < 0)
		return 1;
	sc.netdev = dev;
	sc.loop = loop;
	weir_ipaddr_parse_cidr(me, &sc.ip, &sc.prefix_len);
	weir_ipaddr_parse(peer, &peer_ip);
	rc = weir_stack_open(&sc, &st);
	if (rc < 0) {
		fprintf(stderr, "%s: stack: %s\n", me, weir_strerror(rc));
		return 1;
	}
	for (;;) {
		uint64_t now = weir_clock_now_ns();

		weir_stack_get_stats(st, &s);
		if (s.icmp_echo_replies_in >= COUNT && child_done)
			break;
		if (now - start > LIMIT_NS)
			break;
		/* One request every 20 ms until COUNT replies came back (a lost one is resent). */
		if (s.icmp_echo_replies_in < COUNT && now >= next_ping) {
			rc = weir_stack_ping(st, peer_ip, seq++, 56);
			if (rc < 0 && rc != WEIR_ENOMEM)
				fprintf(stderr, "%s: ping: %s\n", me, weir_strerror(rc));
			next_ping = now + 20 * WEIR_NS_PER_MS;
		}
		weir_loop_run_once(loop, 5 * WEIR_NS_PER_MS);
		if (!child_done) {
			int status;

			if (waitpid(child, &status, WNOHANG) == child) {
				child_done = 1;
				child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			}
		}
	}
	weir_stack_get_stats(st, &s);
	printf("%s: %llu requests sent, %llu replies received\n", me,
	       (unsigned long long)s.icmp_echo_requests_out,
	       (unsigned long long)s.icmp_echo_replies_in);
	fflush(stdout);
	/* The child keeps answering a little longer so the parent's last replies get through. */
	if (child == 0) {
		uint64_t linger = weir_clock_now_ns() + 300 * WEIR_NS_PER_MS;

		while (weir_clock_now_ns() < linger)
			weir_loop_run_once(loop, 5 * WEIR_NS_PER_MS);
	}
	weir_stack_close(st);
	weir_netdev_close(dev);
	weir_loop_destroy(loop);
	if (!child_done) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		fprintf(stderr, "%s: peer process did not finish\n", me);
		return 1;
	}
	return s.icmp_echo_replies_in >= COUNT && child_ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	double loss = argc > 1 ? atof(argv[1]) : 0.0;
	int fds[2], rc;
	pid_t pid;

	if (weir_link_socketpair(fds) < 0) {
		perror("socketpair");
		return 1;
	}
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(fds[0]);
		_exit(run_side(fds[1], "192.0.2.2/24", "192.0.2.1", loss, 2, 0));
	}
	close(fds[1]);
	rc = run_side(fds[0], "192.0.2.1/24", "192.0.2.2", loss, 1, pid);
	printf("link_ping: %s\n", rc == 0 ? "both sides got every reply" : "FAILED");
	return rc;
}
