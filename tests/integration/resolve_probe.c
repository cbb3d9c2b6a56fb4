/* resolve_probe.c - weir on a TAP device resolves names over DNS and connects by name (public API
 * only). Run by tap_resolve.sh inside its namespace, with dnsmasq at 192.0.2.1 serving
 * weir.test -> 192.0.2.3, and a Linux listener on 192.0.2.3:PORT (192.0.2.1:PORT refuses,
 * 192.0.2.99 is a black hole). Prints "ok:"/"FAIL:" lines; exits 0 if all passed.
 * usage: resolve-probe IFNAME PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/resolve.h>
#include <weir/tap.h>

static struct weir_stack *stack;
static const char *port;
static int failures, done;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		printf("%s: ", (cond) ? "ok" : "FAIL");                                            \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		failures += !(cond);                                                               \
	} while (0)

static int say_hello(struct weir_flow *f, void *arg)
{
	(void)arg;
	return weir_flow_write(f, "hello\n", 6);
}

static void probe(void *arg)
{
	struct weir_ipaddr a[4], ip;
	char buf[WEIR_IPADDR_STRLEN], name[WEIR_NAME_MAX + 1];
	struct weir_connect_attempt at[4];
	struct weir_connect_host_opts o = { .tcp.timeout_ns = 500 * WEIR_NS_PER_MS,
					    .attempts = at,
					    .max_attempts = 4 };
	struct weir_flow *f = NULL;
	uint64_t t0, dt;
	int n, rc;

	(void)arg;
	weir_ipaddr_parse("192.0.2.1", &ip);
	weir_dns_set_server(0, ip);
	n = weir_resolve(stack, "weir.test", a, 4, 2 * WEIR_NS_PER_S);
	CHECK(n == 1 && strcmp(weir_ipaddr_format(a[0], buf), "192.0.2.3") == 0,
	      "DNS: weir.test -> %s (%d)", n > 0 ? weir_ipaddr_format(a[0], buf) : weir_err_name(n),
	      n);
	n = weir_resolve(stack, "nxname.invalid", a, 4, 2 * WEIR_NS_PER_S);
	CHECK(n == WEIR_ENOADDR, "DNS: unknown name -> %s (%s)", weir_err_name(n),
	      weir_strerror(n));

	/* Refused, then accepted. */
	weir_hosts_clear();
	weir_ipaddr_parse("192.0.2.1", &ip);
	weir_hosts_add("svc", ip);
	weir_ipaddr_parse("192.0.2.3", &ip);
	weir_hosts_add("svc", ip);
	rc = weir_tcp_connect_host(stack, "svc", port, &o, &f);
	CHECK(rc == 0 && o.n_attempts == 2 && at[0].rc == WEIR_EREFUSED && at[1].rc == 0,
	      "connect_host: %zu attempts (%s, then %s)", o.n_attempts, weir_err_name(at[0].rc),
	      o.n_attempts > 1 ? weir_err_name(at[1].rc) : "-");
	if (rc == 0) {
		weir_flow_close(f);
		weir_flow_free(f);
	}

	/* A black hole, then accepted: the first attempt takes its own timeout (500 ms). */
	weir_hosts_clear();
	weir_ipaddr_parse("192.0.2.99", &ip);
	weir_hosts_add("svc2", ip);
	weir_ipaddr_parse("192.0.2.3", &ip);
	weir_hosts_add("svc2", ip);
	t0 = weir_clock_now_ns();
	rc = weir_tcp_connect_host(stack, "svc2", port, &o, &f);
	dt = (weir_clock_now_ns() - t0) / WEIR_NS_PER_MS;
	CHECK(rc == 0 && o.n_attempts == 2 && at[0].rc == WEIR_ETIMEDOUT && dt >= 400 && dt <= 600,
	      "connect_host through a black hole: %s then %s, %llu ms (per attempt 500 +-20%%)",
	      weir_err_name(at[0].rc), o.n_attempts > 1 ? weir_err_name(at[1].rc) : "-",
	      (unsigned long long)dt);
	if (rc == 0) {
		weir_flow_close(f);
		weir_flow_free(f);
	}

	/* Every A record of a name, each tried in turn (one refuses, one accepts), and PTR. */
	weir_hosts_clear();
	n = weir_resolve(stack, "multi.weir.test", a, 4, 2 * WEIR_NS_PER_S);
	CHECK(n == 2 && a[0].v4 != a[1].v4 &&
		      (strcmp(weir_ipaddr_format(a[0], buf), "192.0.2.1") == 0 ||
		       strcmp(weir_ipaddr_format(a[0], buf), "192.0.2.3") == 0) &&
		      (strcmp(weir_ipaddr_format(a[1], buf), "192.0.2.1") == 0 ||
		       strcmp(weir_ipaddr_format(a[1], buf), "192.0.2.3") == 0),
	      "DNS: multi.weir.test -> %d addresses", n);
	rc = weir_tcp_connect_host(stack, "multi.weir.test", port, &o, &f);
	CHECK(rc == 0 && o.n_attempts >= 1 && at[o.n_attempts - 1].rc == 0 &&
		      (o.n_attempts == 1 || at[0].rc == WEIR_EREFUSED),
	      "connect_host by a name with two addresses: %zu attempts, %s", o.n_attempts,
	      weir_err_name(rc));
	if (rc == 0) {
		weir_flow_close(f);
		weir_flow_free(f);
	}
	weir_ipaddr_parse("192.0.2.3", &ip);
	rc = weir_getnameinfo(stack, ip, name, sizeof(name), 2 * WEIR_NS_PER_S);
	CHECK(rc == 0 && strcmp(name, "multi.weir.test") == 0, "getnameinfo 192.0.2.3 -> %s (%s)",
	      rc == 0 ? name : "-", weir_err_name(rc));

	/* By DNS name, through with_connection. */
	rc = weir_with_connection(stack, "weir.test", port, NULL, say_hello, NULL);
	CHECK(rc == 0, "with_connection to weir.test: %s", weir_err_name(rc));
	rc = weir_tcp_connect_host(stack, "nxname.invalid", port, NULL, &f);
	CHECK(rc == WEIR_ENOADDR, "connect_host to an unknown name: %s", weir_err_name(rc));
	done = 1;
}

int main(int argc, char **argv)
{
	struct weir_tap_config tap = { .ifname = argc > 1 ? argv[1] : "weir0" };
	struct weir_stack_config sc = { 0 };
	uint64_t deadline = weir_clock_now_ns() + 30 * WEIR_NS_PER_S;

	port = argc > 2 ? argv[2] : "8000";
	if (weir_loop_create(&sc.loop) || weir_tap_open(&tap, &sc.netdev) ||
	    weir_ipaddr_parse_cidr("192.0.2.2/24", &sc.ip, &sc.prefix_len) ||
	    weir_stack_open(&sc, &stack) || weir_fibers_init(sc.loop) ||
	    weir_fiber_spawn(NULL, probe, NULL, NULL, NULL)) {
		fprintf(stderr, "resolve-probe: setup failed\n");
		return 1;
	}
	while (!done && weir_clock_now_ns() < deadline)
		weir_loop_run_once(sc.loop, 10 * WEIR_NS_PER_MS);
	weir_fibers_fini();
	weir_stack_close(stack);
	weir_netdev_close(sc.netdev);
	weir_loop_destroy(sc.loop);
	if (!done)
		printf("FAIL: probe did not finish\n");
	return done && failures == 0 ? 0 : 1;
}
