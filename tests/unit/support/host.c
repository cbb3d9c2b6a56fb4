/* host.c - see host.h. */
#include <string.h>

#include <check.h>

#include "lwip/stats.h"

#include "host.h"

const uint8_t host_peer_mac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 };
const uint8_t host_our_mac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x02 };

void host_open(struct memdev *md, struct weir_loop *loop, struct weir_stack **st,
	       struct weir_ipaddr *our_ip, struct weir_ipaddr *peer_ip)
{
	host_open_offloads(md, loop, st, our_ip, peer_ip, 0);
}

void host_open_offloads(struct memdev *md, struct weir_loop *loop, struct weir_stack **st,
			struct weir_ipaddr *our_ip, struct weir_ipaddr *peer_ip, uint32_t offloads)
{
	struct weir_stack_config cfg = { 0 };

	memdev_init(md);
	md->offloads = offloads;
	ck_assert_int_eq(weir_ipaddr_parse("192.0.2.2", our_ip), 0);
	ck_assert_int_eq(weir_ipaddr_parse("192.0.2.1", peer_ip), 0);
	cfg.netdev = &md->nd;
	cfg.loop = loop;
	cfg.ip = *our_ip;
	cfg.prefix_len = 24;
	memcpy(cfg.mac, host_our_mac, 6);
	ck_assert_int_eq(weir_stack_open(&cfg, st), 0);
}

void host_snapshot_pools(unsigned out[MEMP_MAX])
{
	for (int i = 0; i < MEMP_MAX; i++)
		out[i] = lwip_stats.memp[i] ? lwip_stats.memp[i]->used : 0;
}

void host_fixture_up(struct host_fixture *h)
{
	ck_assert_int_eq(weir_loop_create(&h->loop), 0);
	host_open(&h->md, h->loop, &h->st, &h->our_ip, &h->peer_ip);
	host_snapshot_pools(h->memp_baseline);
}

void host_fixture_down(struct host_fixture *h)
{
	unsigned now[MEMP_MAX];

	ck_assert_uint_eq(memdev_outstanding(&h->md), 0);
	host_snapshot_pools(now);
	for (int i = 0; i < MEMP_MAX; i++)
		ck_assert_msg(now[i] == h->memp_baseline[i], "pool %d: %u in use, baseline %u", i,
			      now[i], h->memp_baseline[i]);
	weir_stack_close(h->st);
	weir_loop_destroy(h->loop);
}
