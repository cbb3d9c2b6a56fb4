/* host.h - a weir stack on an in-memory netdev at 192.0.2.2/24 (the peer is 192.0.2.1), and lwIP
 * pool snapshots for leak checks: what the stack-level unit tests share. */
#ifndef WEIR_TEST_HOST_H
#define WEIR_TEST_HOST_H

#include "lwip/memp.h"

#include <weir/loop.h>
#include <weir/stack.h>

#include "memdev.h"

extern const uint8_t host_peer_mac[6], host_our_mac[6];

/* Opens a stack on md (initialised here) and loop; fills the addresses. Fails the test if not. */
void host_open(struct memdev *md, struct weir_loop *loop, struct weir_stack **st,
	       struct weir_ipaddr *our_ip, struct weir_ipaddr *peer_ip);
/* The same on a memdev that reports offloads (enum weir_netdev_offload). */
void host_open_offloads(struct memdev *md, struct weir_loop *loop, struct weir_stack **st,
			struct weir_ipaddr *our_ip, struct weir_ipaddr *peer_ip, uint32_t offloads);
/* Each lwIP pool's objects in use. */
void host_snapshot_pools(unsigned out[MEMP_MAX]);

/* A loop and a stack on a memdev, with the pools' baseline taken after the stack came up. */
struct host_fixture {
	struct memdev md;
	struct weir_loop *loop;
	struct weir_stack *st;
	struct weir_ipaddr our_ip, peer_ip;
	unsigned memp_baseline[MEMP_MAX];
};
void host_fixture_up(struct host_fixture *h);
/* Fails the test unless every frame went back to the driver and every pool to its baseline;
 * then closes the stack and the loop. */
void host_fixture_down(struct host_fixture *h);

#endif
