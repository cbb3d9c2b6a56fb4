/* echo.c - a complete TCP echo server on weir: echo [SPEC [ADDR/PREFIX [PORT]]]
 * SPEC is a device, e.g. tap:weir0 (the default) or dpdk:'EAL ARGS'. */
#include <stdio.h>
#include <stdlib.h>
#include <weir/flow.h>

static void echo(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) { /* blocks this fiber only */
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			return;
	}
} /* returning closes the flow */

int main(int argc, char **argv)
{
	struct weir_tcp_listen_opts lo = { .port = (uint16_t)(argc > 3 ? atoi(argv[3]) : 7) };
	struct weir_stack_config sc = { 0 };
	struct weir_listener *l;
	struct weir_stack *stack;

	if (weir_loop_create(&sc.loop) ||
	    weir_netdev_open(argc > 1 ? argv[1] : "tap:weir0", NULL, &sc.netdev) ||
	    weir_ipaddr_parse_cidr(argc > 2 ? argv[2] : "192.0.2.2/24", &sc.ip, &sc.prefix_len) ||
	    weir_stack_open(&sc, &stack) || weir_fibers_init(sc.loop) ||
	    weir_tcp_listen(stack, &lo, echo, NULL, &l)) {
		fprintf(stderr, "echo: setup failed: %s\n", weir_netdev_last_error());
		return 1;
	}
	printf("echo: serving on port %u\n", weir_listener_port(l));
	fflush(stdout);
	return weir_loop_run(sc.loop) < 0;
}
