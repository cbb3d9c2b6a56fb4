/* shard.c - a group of stacks, one per thread, on the receive queues of one device (shards).
 *
 * Every shard has the group's one IP and MAC and its own lwIP (stack/patches/0024). The device
 * steers each TCP and UDP flow to one queue; what is not a flow's goes to whichever queue the
 * device picks, and some of it every shard must see:
 * - ARP: a reply answers whichever shard asked, a request for us teaches its sender's MAC. Each
 *   shard gets a copy; a request for our address reaches the other shards as a reply (it
 *   teaches the same and is answered once, by the shard it arrived on).
 * - ICMP other than echo requests: echo replies to any shard's ping (each shard pings with its
 *   own id) and errors about any shard's flows. Echo requests are answered where they arrive.
 * - UDP to a port the receiving shard has no socket on: the socket is another shard's (a
 *   reply to a query it sent from an ephemeral port, DNS's included). The copies go to the other
 *   shards, and a shard takes a copy only if it has the port.
 * The copies travel through one ring per ordered pair of shards (one producer, one consumer,
 * no lock) and wake the receiving shard's loop through its waker. A full ring drops the copy
 * (counted in shard_frames_dropped). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include <weir/compiler.h>
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/stack.h>

#include "stack_priv.h"

#define RING_SLOTS 256u /* a power of two */

struct shard_msg {
	uint16_t len;
	uint8_t udp_only_if_bound; /* take only with a socket on the frame's UDP port */
	uint32_t flags; /* the frame's WEIR_FRAME_* flags (a checksum Linux vouched for) */
	uint8_t data[];
};

/* One producer (shard `from`), one consumer (shard `to`): head and tail on lines of their own,
 * so each side writes only its own line. */
struct shard_ring {
	WEIR_CACHE_ALIGNED _Atomic uint32_t head; /* the consumer's next slot */
	WEIR_CACHE_ALIGNED _Atomic uint32_t tail; /* the producer's next slot */
	WEIR_CACHE_ALIGNED struct shard_msg *slot[RING_SLOTS];
};

struct weir_shard_group {
	unsigned n;
	uint8_t mac[WEIR_ETH_ALEN]; /* for stacks whose config and device name none */
	_Atomic(struct weir_stack *) stacks[WEIR_SHARDS_MAX]; /* open members */
	struct weir_loop_waker *wakers[WEIR_SHARDS_MAX];
	struct shard_ring *rings; /* n * n, [from * n + to] */
};

int weir_shard_group_create(unsigned nshards, struct weir_shard_group **out)
{
	struct weir_shard_group *g;

	WEIR_EINVAL_IF(out == NULL || nshards == 0 || nshards > WEIR_SHARDS_MAX);
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return WEIR_ENOMEM;
	g->n = nshards;
	if (weir_entropy_fill(g->mac, sizeof(g->mac)) != 0) {
		free(g);
		return WEIR_EIO;
	}
	g->mac[0] = (uint8_t)((g->mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
	g->rings = weir__zalloc_lines((size_t)nshards * nshards, sizeof(*g->rings));
	if (g->rings == NULL) {
		free(g);
		return WEIR_ENOMEM;
	}
	for (unsigned i = 0; i < nshards; i++) {
		int rc = weir_loop_waker_create(&g->wakers[i]);

		if (rc < 0) {
			weir_shard_group_destroy(g);
			return rc;
		}
	}
	*out = g;
	return 0;
}

static void ring_drain(struct shard_ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

	for (; head != tail; head++)
		free(r->slot[head % RING_SLOTS]);
	atomic_store_explicit(&r->head, head, memory_order_release);
}

void weir_shard_group_destroy(struct weir_shard_group *g)
{
	if (g == NULL)
		return;
	for (unsigned i = 0; i < g->n; i++)
		weir_loop_waker_destroy(g->wakers[i]);
	if (g->rings != NULL)
		for (unsigned i = 0; i < g->n * g->n; i++)
			ring_drain(&g->rings[i]);
	free(g->rings);
	free(g);
}

void weir__shard_group_mac(const struct weir_shard_group *g, uint8_t mac[WEIR_ETH_ALEN])
{
	memcpy(mac, g->mac, WEIR_ETH_ALEN);
}

unsigned weir_shard_group_size(const struct weir_shard_group *g)
{
	return g != NULL ? g->n : 0;
}

/* Whether this thread's lwIP has a UDP socket on port (host order). */
static int udp_port_bound(uint16_t port)
{
	for (struct udp_pcb *u = udp_pcbs; u != NULL; u = u->next)
		if (u->local_port == port)
			return 1;
	return 0;
}

/* Copies of other shards' frames: into this shard's lwIP. */
static int inbox_poll(void *arg)
{
	struct weir_stack *s = arg;
	struct weir_shard_group *g = s->group;
	int work = 0;

	for (unsigned from = 0; from < g->n; from++) {
		struct shard_ring *r = &g->rings[from * g->n + s->shard];
		uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

		for (; head != tail; head++) {
			struct shard_msg *m = r->slot[head % RING_SLOTS];
			struct pbuf *p;

			work++;
			if (m->udp_only_if_bound) {
				uint32_t ihl = (uint32_t)(m->data[WEIR_ETH_HLEN] & 0x0f) * 4;
				const uint8_t *udp = m->data + WEIR_ETH_HLEN + ihl;

				if (!udp_port_bound((uint16_t)(udp[2] << 8 | udp[3]))) {
					free(m);
					continue;
				}
			}
			p = pbuf_alloc(PBUF_RAW, m->len, PBUF_RAM);
			if (p != NULL && pbuf_take(p, m->data, m->len) == ERR_OK) {
				s->st.shard_frames_in++;
				if (weir__stack_input(s, p, m->flags) != ERR_OK) {
					s->st.drop_input++;
					pbuf_free(p);
				}
			} else {
				s->st.drop_wrap++;
				if (p != NULL)
					pbuf_free(p);
			}
			free(m);
		}
		atomic_store_explicit(&r->head, head, memory_order_release);
	}
	return work;
}

int weir__shard_join(struct weir_stack *s, struct weir_shard_group *g, unsigned shard)
{
	struct weir_stack *none = NULL;
	int rc;

	if (shard >= g->n)
		return WEIR_EINVAL;
	if (!atomic_compare_exchange_strong(&g->stacks[shard], &none, s))
		return WEIR_EBUSY;
	s->group = g;
	s->shard = shard;
	rc = weir_loop_waker_attach(g->wakers[shard], s->loop, inbox_poll, s);
	if (rc < 0) {
		atomic_store(&g->stacks[shard], NULL);
		s->group = NULL;
	}
	return rc;
}

void weir__shard_leave(struct weir_stack *s)
{
	struct weir_shard_group *g = s->group;

	if (g == NULL)
		return;
	atomic_store(&g->stacks[s->shard], NULL);
	weir_loop_waker_detach(g->wakers[s->shard]);
	/* What others sent us is of no use now. (A copy that lands later waits in the ring until
	 * a stack joins as this shard again, or the group goes.) */
	for (unsigned from = 0; from < g->n; from++)
		ring_drain(&g->rings[from * g->n + s->shard]);
	s->group = NULL;
}

enum share { SHARE_NO, SHARE_ALSO, SHARE_INSTEAD };

/* Whether the frame is for every shard (SHARE_ALSO: this one takes it too) or for the one with a
 * socket on its UDP port (SHARE_INSTEAD: not this one); *as_reply: an ARP request for us. */
static enum share classify(const struct weir_stack *s, const uint8_t *d, uint32_t len,
			   int *as_reply)
{
	uint16_t type;
	uint32_t ihl;

	*as_reply = 0;
	if (len < WEIR_ETH_HLEN + 20)
		return SHARE_NO;
	type = (uint16_t)(d[12] << 8 | d[13]);
	if (type == 0x0806) {
		/* An ARP request for our address (target at offset 24 of the ARP packet). */
		if (len >= WEIR_ETH_HLEN + 28 && d[WEIR_ETH_HLEN + 6] == 0 &&
		    d[WEIR_ETH_HLEN + 7] == 1 &&
		    memcmp(d + WEIR_ETH_HLEN + 24, &s->netif.ip_addr.addr, 4) == 0)
			*as_reply = 1;
		return SHARE_ALSO;
	}
	if (type != 0x0800 || (d[WEIR_ETH_HLEN] >> 4) != 4)
		return SHARE_NO;
	ihl = (uint32_t)(d[WEIR_ETH_HLEN] & 0x0f) * 4;
	if (ihl < 20 || len < WEIR_ETH_HLEN + ihl + 8)
		return SHARE_NO;
	switch (d[WEIR_ETH_HLEN + 9]) {
	case 1: /* ICMP: all but echo requests (type 8) */
		return d[WEIR_ETH_HLEN + ihl] != 8 ? SHARE_ALSO : SHARE_NO;
	case 17: { /* UDP, first fragment or whole: to the shard with the socket */
		const uint8_t *udp = d + WEIR_ETH_HLEN + ihl;

		if (((d[WEIR_ETH_HLEN + 6] & 0x1f) | d[WEIR_ETH_HLEN + 7]) != 0)
			return SHARE_NO; /* not the first fragment: no port to look at */
		return udp_port_bound((uint16_t)(udp[2] << 8 | udp[3])) ? SHARE_NO : SHARE_INSTEAD;
	}
	default:
		return SHARE_NO;
	}
}

int weir__shard_share(struct weir_stack *s, const uint8_t *d, uint32_t len, uint32_t flags)
{
	struct weir_shard_group *g = s->group;
	enum share how;
	int as_reply;

	if (g == NULL || g->n < 2 || len > 0xffffu)
		return 0;
	how = classify(s, d, len, &as_reply);
	if (how == SHARE_NO)
		return 0;
	for (unsigned to = 0; to < g->n; to++) {
		struct shard_ring *r = &g->rings[s->shard * g->n + to];
		uint32_t tail, head;
		struct shard_msg *m;

		if (to == s->shard ||
		    atomic_load_explicit(&g->stacks[to], memory_order_acquire) == NULL)
			continue;
		tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		head = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail - head >= RING_SLOTS || (m = malloc(sizeof(*m) + len)) == NULL) {
			s->st.shard_frames_dropped++;
			continue;
		}
		m->len = (uint16_t)len;
		m->udp_only_if_bound = how == SHARE_INSTEAD;
		m->flags = flags;
		memcpy(m->data, d, len);
		if (as_reply)
			m->data[WEIR_ETH_HLEN + 7] = 2; /* ARP reply: teaches, is not answered */
		r->slot[tail % RING_SLOTS] = m;
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
		s->st.shard_frames_out++;
		weir_loop_waker_wake(g->wakers[to]);
	}
	return how == SHARE_INSTEAD;
}
