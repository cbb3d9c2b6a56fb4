/* stack.c - one lwIP instance on one netdev: netif glue, zero-copy receive, transmit, timers. */
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/ip4_frag.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h" /* SYN-cookie counters (stack/patches/0010) */
#include "lwip/prot/icmp.h"
#include "lwip/raw.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
#if LWIP_PER_THREAD_STATE
#include <pthread.h>
#endif

#define WEIR_LOG_COMPONENT "stack"
#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/stack.h>

#include "lwip_port.h"
#include "stack_priv.h"
#include "weir_lwip_hooks.h"
#include "weir_stack_lwip.h"

/* Frames received per poll: big enough to amortise the syscall, small enough to keep timers and
 * fibers running between bursts. */
#define RX_BURST 32
/* Bursts one poll takes at most (NAPI's budget idea): later frames wait for the next turn. */
#define RX_BURSTS 8
/* Identifier carried by our ICMP echo requests. */
#define PING_ID 0x5745

/* The receive pbuf lives inside the driver's frame descriptor (stack_priv), so wrapping a frame
 * allocates nothing: the frame is the pbuf, at a constant offset. */
struct rx_pbuf {
	struct pbuf_custom pc;
};
_Static_assert(sizeof(struct rx_pbuf) <= WEIR_FRAME_STACK_PRIV, "rx pbuf must fit in the frame");

static WEIR_PER_SHARD struct weir_stack *the_stack;
static WEIR_PER_SHARD int lwip_initialised;

#if LWIP_PER_THREAD_STATE
/* Shards: lwIP is initialised once per thread and stays so for the thread's life; what it then
 * holds for good (the cyclic timers' timeouts, reachable only from the thread's own state) goes
 * when the thread ends. */
static pthread_key_t lwip_thread_key;
static pthread_once_t lwip_thread_once = PTHREAD_ONCE_INIT;

static void lwip_thread_end(void *unused)
{
	WEIR_UNUSED(unused);
	sys_timeouts_free_all();
	weir__lwip_mem_drain();
}

static void lwip_thread_key_create(void)
{
	WEIR_BUG_ON(pthread_key_create(&lwip_thread_key, lwip_thread_end) != 0);
}
#endif

static void rx_pbuf_free(struct pbuf *p)
{
	struct rx_pbuf *rp = (struct rx_pbuf *)(void *)p;
	struct weir_frame *f = WEIR_CONTAINER_OF(rp, struct weir_frame, stack_priv);

	weir_netdev_release(f);
}

static err_t netif_init_cb(struct netif *netif)
{
	struct weir_stack *s = netif->state;

	netif->name[0] = 'w';
	netif->name[1] = 'r';
	netif->output = etharp_output;
	netif->linkoutput = weir__stack_tx_queue;
	netif->mtu = s->mtu;
	netif->hwaddr_len = ETH_HWADDR_LEN;
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	{
		/* Software checksums except what the device fills on transmit (DPDK ports that
		 * report it; TAP with offload: tx.c leaves TCP checksums to the device). UDP stays
		 * in software: lwIP fragments a large datagram before the driver sees it, and only
		 * the stack can sum the whole of it. Received checksums are checked here unless a
		 * driver vouches for a frame (WEIR_FRAME_L4_CSUM_OK). */
		struct weir_netdev_caps caps;
		u16_t ctrl = NETIF_CHECKSUM_ENABLE_ALL;

		if (weir_netdev_get_caps(s->dev, &caps) == 0) {
			if (caps.offloads & WEIR_OFFLOAD_TX_CSUM_IP4)
				ctrl &= (u16_t)~NETIF_CHECKSUM_GEN_IP;
			if (caps.offloads & WEIR_OFFLOAD_TX_CSUM_L4)
				ctrl &= (u16_t)~NETIF_CHECKSUM_GEN_TCP;
			weir__stack_tx_init(s, &caps);
		}
		NETIF_SET_CHECKSUM_CTRL(netif, ctrl);
	}
	return ERR_OK;
}

static u8_t icmp_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct weir_stack *s = arg;
	struct icmp_echo_hdr h;
	u16_t iphlen;

	WEIR_UNUSED(pcb);
	WEIR_UNUSED(addr);
	/* A raw pcb sees the IP header; look past it at the ICMP header. */
	if (p->len < 1)
		return 0;
	iphlen = (u16_t)((((const u8_t *)p->payload)[0] & 0x0f) * 4);
	if (pbuf_copy_partial(p, &h, sizeof(h), iphlen) != sizeof(h))
		return 0;
	if (h.type != ICMP_ER || h.id != lwip_htons(s->ping_id))
		return 0; /* not ours: let lwIP's ICMP handle it */
	s->st.icmp_echo_replies_in++;
	pbuf_free(p);
	return 1;
}

#if LWIP_NETIF_LOOPBACK
/* Whether a packet the stack sent to itself (127.0.0.1, or its own address) waits for
 * netif_poll_all(). */
static int loop_pending(void)
{
	struct netif *n;

	NETIF_FOREACH(n)
	{
		if (n->loop_first != NULL)
			return 1;
	}
	return 0;
}
#else
static int loop_pending(void)
{
	return 0;
}
#endif

static int stack_source_poll(void *arg)
{
	return weir_stack_poll(arg);
}

static uint64_t stack_next_deadline(void *arg)
{
	struct weir_stack *s = arg;
	u32_t ms = sys_timeouts_sleeptime();
	uint64_t d = weir_netdev_next_deadline_ns(s->dev);

	/* Frames queued since the last poll (a fiber wrote), or packets to ourselves: poll again
	 * before sleeping. */
	if (weir__stack_tx_pending(s) || loop_pending())
		return 0;
	if (ms != SYS_TIMEOUTS_SLEEPTIME_INFINITE) {
		uint64_t t = weir_clock_now_ns() + (uint64_t)ms * WEIR_NS_PER_MS;

		if (t < d)
			d = t;
	}
	return d;
}

static const struct weir_loop_source_ops stack_source_ops = {
	.poll = stack_source_poll,
	.next_deadline_ns = stack_next_deadline,
};

#if WEIR_SHARDS
/* LWIP_HOOK_TCP_CONNECT_PORT_OK: whether the device steers the replies of a connection from
 * `port` to this stack's receive queue (or cannot tell). */
static int port_comes_back(const struct tcp_pcb *pcb, u16_t port)
{
	struct weir_flow_key k = {
		.remote_ip = ip_2_ip4(&pcb->remote_ip)->addr,
		.local_ip = ip_2_ip4(&pcb->local_ip)->addr,
		.remote_port = pcb->remote_port,
		.local_port = port,
		.proto = 6,
	};
	int q;

	if (the_stack == NULL)
		return 1;
	q = weir_netdev_rx_queue_of(the_stack->dev, &k);
	return q < 0 || q == the_stack->rx_queue;
}
#endif

static int check_config(const struct weir_stack_config *cfg, const struct weir_netdev_caps *caps)
{
	WEIR_EINVAL_IF(cfg->dhcp != 0 && cfg->dhcp != 1);
	if (cfg->dhcp && !LWIP_DHCP) {
		weir_log_error("config: DHCP is not built in (CONFIG_LWIP_DHCP)");
		return WEIR_ENOTSUP;
	}
	if (!cfg->dhcp && (cfg->ip.v4 == 0 || cfg->prefix_len < 1 || cfg->prefix_len > 32)) {
		weir_log_error("config: need an IPv4 address and a prefix length of 1..32");
		return WEIR_EINVAL;
	}
	if (cfg->mtu != 0 && (cfg->mtu < 576 || cfg->mtu > caps->mtu)) {
		weir_log_error("config: mtu %u outside 576..%u (the device's)", cfg->mtu,
			       caps->mtu);
		return WEIR_EINVAL;
	}
	if (cfg->mac[0] & 1) {
		weir_log_error("config: MAC address is multicast");
		return WEIR_EINVAL;
	}
	if (cfg->group != NULL && !WEIR_SHARDS) {
		weir_log_error("config: shards are not built in (CONFIG_WEIR_SHARDS)");
		return WEIR_ENOTSUP;
	}
	if (cfg->group != NULL && cfg->dhcp) {
		weir_log_error("config: shards share one address: give it (DHCP would lease one "
			       "per shard)");
		return WEIR_EINVAL;
	}
#if !TCP_PCB_HASH
	if (cfg->max_connections != 0 || cfg->max_time_wait != 0) {
		weir_log_error("config: max_connections and max_time_wait need pools that grow "
			       "(CONFIG_LWIP_MEMP_POOLS_GROW); this build has %u pcbs",
			       (unsigned)MEMP_NUM_TCP_PCB);
		return WEIR_ENOTSUP;
	}
#endif
	return 0;
}

int weir_stack_open(const struct weir_stack_config *cfg, struct weir_stack **out)
{
	static const uint8_t zero_mac[WEIR_ETH_ALEN];
	struct weir_netdev_caps caps;
	struct weir_stack *s;
	ip4_addr_t ip, mask, gw;
	int rc;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->netdev == NULL || cfg->loop == NULL);
	rc = weir_netdev_get_caps(cfg->netdev, &caps);
	if (rc < 0)
		return rc;
	rc = check_config(cfg, &caps);
	if (rc < 0)
		return rc;
	if (the_stack != NULL)
		return WEIR_EBUSY;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return WEIR_ENOMEM;
	s->dev = cfg->netdev;
	s->loop = cfg->loop;
	s->mtu = cfg->mtu ? cfg->mtu : caps.mtu;
	s->rx_queue = caps.rx_queue;
	s->ping_id = (uint16_t)(PING_ID + (cfg->group != NULL ? cfg->shard : 0));

	/* Every open reseeds the port and makes this thread the one allowed into lwIP. */
	rc = weir__lwip_port_init();
	if (rc < 0)
		goto fail;
	if (!lwip_initialised) {
		/* lwip_init() registers lwIP's cyclic timers: a second call would run each
		 * twice. */
		lwip_init();
		lwip_initialised = 1;
#if LWIP_PER_THREAD_STATE
		pthread_once(&lwip_thread_once, lwip_thread_key_create);
		pthread_setspecific(lwip_thread_key, &lwip_initialised); /* any non-NULL value */
#endif
	}
#if TCP_PCB_HASH
	tcp_pcb_limit = cfg->max_connections ? cfg->max_connections : CONFIG_WEIR_MAX_CONNECTIONS;
	tcp_tw_limit = cfg->max_time_wait ? cfg->max_time_wait : CONFIG_WEIR_MAX_TIME_WAIT;
	/* A new key for the pcb hash while nothing is hashed (a closed stack aborted every
	 * connection, TIME-WAIT ones included). */
	if (tcp_active_pcbs == NULL && tcp_tw_pcbs == NULL &&
	    weir_entropy_fill(&tcp_pcb_hash_seed, sizeof(tcp_pcb_hash_seed)) != 0) {
		rc = WEIR_EIO;
		goto fail;
	}
#endif

	if (memcmp(cfg->mac, zero_mac, WEIR_ETH_ALEN) != 0)
		memcpy(s->netif.hwaddr, cfg->mac, WEIR_ETH_ALEN);
	else if (memcmp(caps.mac, zero_mac, WEIR_ETH_ALEN) != 0)
		memcpy(s->netif.hwaddr, caps.mac, WEIR_ETH_ALEN);
#if WEIR_SHARDS
	else if (cfg->group != NULL)
		weir__shard_group_mac(cfg->group, s->netif.hwaddr); /* one MAC for all shards */
#endif
	else {
		/* A random unicast, locally administered address (IEEE 802 U/L bit set). */
		rc = weir_entropy_fill(s->netif.hwaddr, WEIR_ETH_ALEN);
		if (rc < 0)
			goto fail;
		s->netif.hwaddr[0] = (uint8_t)((s->netif.hwaddr[0] & 0xfe) | 0x02);
	}

	if (cfg->dhcp) {
		ip.addr = mask.addr = gw.addr = 0;
	} else {
		ip.addr = cfg->ip.v4;
		mask.addr = cfg->prefix_len == 32 ? 0xffffffffu
						  : lwip_htonl(~(0xffffffffu >> cfg->prefix_len));
		gw.addr = cfg->gw.v4;
	}
	if (netif_add(&s->netif, &ip, &mask, &gw, s, netif_init_cb, netif_input) == NULL) {
		rc = WEIR_EIO;
		goto fail;
	}
	netif_set_default(&s->netif);
	netif_set_up(&s->netif);
	netif_set_link_up(&s->netif);

	s->icmp_pcb = raw_new(IP_PROTO_ICMP);
	if (s->icmp_pcb == NULL) {
		rc = WEIR_ENOMEM;
		goto fail_netif;
	}
	raw_recv(s->icmp_pcb, icmp_recv, s);

	/* A poll-mode device that allows idle sleeps bounds them through next_deadline_ns, or
	 * wakes the loop with its interrupt. */
	s->busy_poll = caps.poll_mode && !caps.idle_sleep_us && !caps.irq_wake;
	rc = weir_loop_add(s->loop, &stack_source_ops, s, caps.poll_mode ? -1 : caps.fd,
			   caps.poll_mode && (caps.idle_sleep_us || caps.irq_wake)
				   ? WEIR_LOOP_SOURCE_MAY_SLEEP
				   : 0,
			   &s->src);
	if (rc < 0)
		goto fail_raw;
#if LWIP_DHCP
	if (cfg->dhcp && dhcp_start(&s->netif) != ERR_OK) {
		weir_loop_remove(s->loop, s->src);
		rc = WEIR_ENOMEM;
		goto fail_raw;
	}
	s->dhcp = cfg->dhcp;
#endif
#if WEIR_SHARDS
	if (cfg->group != NULL) {
		rc = weir__shard_join(s, cfg->group, cfg->shard);
		if (rc < 0) {
			weir_log_error("config: cannot be shard %u of a group of %u (%s)",
				       cfg->shard, weir_shard_group_size(cfg->group),
				       weir_strerror(rc));
			weir_loop_remove(s->loop, s->src);
			goto fail_raw;
		}
	}
	/* A device with several receive queues steers each flow to one: connect from ports
	 * whose replies come back to ours (stack/patches/0025). */
	if (caps.rx_queues > 1)
		weir__lwip_connect_port_ok = port_comes_back;
#endif
	the_stack = s;
	*out = s;
	{
		char a[WEIR_IPADDR_STRLEN];
		const uint8_t *m = s->netif.hwaddr;

		weir_log_info("up on %s: %s/%u mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u%s",
			      s->dev->name ? s->dev->name : "?", weir_ipaddr_format(cfg->ip, a),
			      cfg->dhcp ? 0 : cfg->prefix_len, m[0], m[1], m[2], m[3], m[4], m[5],
			      s->mtu, cfg->dhcp ? " (asking DHCP for an address)" : "");
	}
	return 0;

fail_raw:
	raw_remove(s->icmp_pcb);
fail_netif:
	netif_remove(&s->netif);
fail:
	weir__lwip_port_fini();
	free(s);
	return rc;
}

void weir__stack_ack_defer(struct weir_stack *s, int on)
{
	if (s != NULL)
		s->ack_now = !on;
}

void weir__stack_tx_hold(void)
{
	if (the_stack != NULL)
		weir__stack_tx_batch_begin(the_stack);
}

void weir__stack_tx_release(void)
{
	if (the_stack != NULL)
		weir__stack_tx_batch_end(the_stack);
}

int weir__stack_tx_busy(void)
{
	if (the_stack == NULL)
		return 0;
	if (the_stack->txq.batch == 0)
		weir__stack_tx_flush(the_stack);
	return weir__stack_tx_pending(the_stack);
}

void weir__stack_tx_drop(void)
{
	if (the_stack == NULL || !weir__stack_tx_pending(the_stack))
		return;
	the_stack->st.drop_tx_full += the_stack->txq.n;
	weir__stack_tx_discard(the_stack);
}

void weir__stack_tx_release_lazy(void)
{
	if (the_stack != NULL) {
		WEIR_BUG_ON(the_stack->txq.batch == 0);
		the_stack->txq.batch--;
	}
}

static WEIR_PER_SHARD weir__stack_close_fn close_fns[4];

void weir__stack_on_close(weir__stack_close_fn fn)
{
	for (size_t i = 0; i < WEIR_ARRAY_SIZE(close_fns); i++) {
		if (close_fns[i] == fn)
			return;
		if (close_fns[i] == NULL) {
			close_fns[i] = fn;
			return;
		}
	}
	WEIR_BUG_ON(1); /* more layers than slots */
}

void weir_stack_close(struct weir_stack *s)
{
	int had_tcp;

	if (s == NULL)
		return;
#if WEIR_SHARDS
	weir__shard_leave(s);
	weir__lwip_connect_port_ok = NULL;
#endif
	/* The flows, listeners and sockets still open end first (RSTs to their peers), then any
	 * connection left that nobody above us owns, so a later stack starts from nothing. */
	had_tcp = tcp_active_pcbs != NULL || tcp_tw_pcbs != NULL;
	for (size_t i = 0; i < WEIR_ARRAY_SIZE(close_fns) && close_fns[i] != NULL; i++)
		close_fns[i](s);
	if (had_tcp) {
		uint64_t until = weir_clock_now_ns() + (TCP_TMR_INTERVAL + 1) * WEIR_NS_PER_MS;

		while (tcp_active_pcbs != NULL)
			tcp_abort(tcp_active_pcbs);
		while (tcp_tw_pcbs != NULL)
			tcp_abort(tcp_tw_pcbs);
		/* lwIP's TCP timer stops itself on its first tick without connections, and nothing
		 * runs lwIP's timers once we are gone: give it that tick (at most TCP_TMR_INTERVAL,
		 * spent only when connections were still open; bounded in iterations too, for a
		 * clock that does not move). */
		for (unsigned i = 0; i < 10000000 && weir_clock_now_ns() < until; i++)
			sys_check_timeouts();
	}
#if LWIP_NETIF_LOOPBACK
	/* RSTs to our own connections: delivered (to nobody now) so no packet stays queued. */
	for (int i = 0; i < 1000 && loop_pending(); i++)
		netif_poll_all();
#endif
#if IP_REASSEMBLY
	/* Fragments waiting for reassembly hold the device's receive buffers: age them all out. */
	for (int i = 0; i <= IP_REASS_MAXAGE; i++)
		ip_reass_tmr();
#endif
	weir_loop_remove(s->loop, s->src);
	raw_remove(s->icmp_pcb);
#if LWIP_DHCP
	if (s->dhcp) {
		/* Tell the server the lease is free, and stop the client's timers' work. */
		dhcp_release_and_stop(&s->netif);
		dhcp_cleanup(&s->netif);
	}
#endif
	/* The RSTs above and the DHCP release go out now; what the device does not take is
	 * dropped. */
	weir__stack_tx_flush(s);
	weir__stack_tx_discard(s);
	/* Drops ARP entries (and the frames queued on them) that point at this netif. */
	netif_set_down(&s->netif);
	netif_remove(&s->netif);
	the_stack = NULL;
	free(s);
	/* Another thread may open the next stack. */
	weir__lwip_port_fini();
}

err_t weir__stack_input(struct weir_stack *s, struct pbuf *p, uint32_t flags)
{
	u16_t ctrl;
	err_t e;

	if (!(flags & WEIR_FRAME_L4_CSUM_OK))
		return s->netif.input(p, &s->netif);
	/* The driver vouches for this frame's TCP/UDP checksum: lwIP's per-netif check is off
	 * for it alone (input runs to completion here). */
	ctrl = s->netif.chksum_flags;
	NETIF_SET_CHECKSUM_CTRL(
		&s->netif, ctrl & (u16_t) ~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP));
	e = s->netif.input(p, &s->netif);
	NETIF_SET_CHECKSUM_CTRL(&s->netif, ctrl);
	return e;
}

/* Hands one received frame to lwIP: zero-copy (lwIP holds the driver's buffer), or copied out
 * when the device's buffers run low. */
static void input_frame(struct weir_stack *s, struct weir_frame *f, int low)
{
	struct rx_pbuf *rp = (struct rx_pbuf *)(void *)f->stack_priv;
	uint32_t len = f->len, flags = f->flags; /* f may be released before input */
	struct pbuf *p;
	err_t e;

	if (len < WEIR_ETH_MIN_FRAME) {
		/* Drivers drop runts already; this keeps lwIP safe from one that
		 * does not. */
		s->st.drop_runt++;
		weir_netdev_release(f);
		return;
	}
	if (len > 0xffffu) {
		s->st.drop_wrap++;
		weir_netdev_release(f);
		return;
	}
#if WEIR_SHARDS
	/* Shards: ARP and ICMP go to the others too, UDP for another's socket to them instead. */
	if (s->group != NULL && weir__shard_share(s, f->data, len, flags)) {
		weir_netdev_release(f);
		return;
	}
#endif
	if (low) {
		p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_RAM);
		if (p != NULL) {
			pbuf_take(p, f->data, (u16_t)len);
			s->st.rx_copied++;
		}
		weir_netdev_release(f);
	} else {
		rp->pc.custom_free_function = rx_pbuf_free;
		p = pbuf_alloced_custom(PBUF_RAW, (u16_t)len, PBUF_REF, &rp->pc, f->data,
					(u16_t)WEIR_MIN(f->cap, 0xffffu));
		if (p == NULL)
			weir_netdev_release(f);
	}
	if (p == NULL) {
		s->st.drop_wrap++;
		return;
	}
	s->st.rx_frames++;
	s->st.rx_bytes += len;
	e = weir__stack_input(s, p, flags);
	if (e != ERR_OK) {
		s->st.drop_input++;
		pbuf_free(p);
	}
}

int weir_stack_poll(struct weir_stack *s)
{
	struct weir_frame *frames[RX_BURST];
	int n, work, low;

	WEIR_EINVAL_IF(s == NULL);
	/* Frames a device could not take last time go first. */
	work = weir__stack_tx_flush(s) > 0;
	weir__stack_tx_batch_begin(s);
	/* When the device's receive buffers run low (TCP's receive and out-of-order queues hold
	 * them), out-of-order segments go first (the peer resends them), and frames are copied out
	 * of the device's buffers until it recovers: otherwise the segment that would let the
	 * queues drain could find no buffer to arrive in. */
	low = weir_netdev_rx_buffers_low(s->dev) > 0;
#if LWIP_TCP && TCP_QUEUE_OOSEQ && PBUF_POOL_FREE_OOSEQ
	if (low) {
		pbuf_free_ooseq();
		low = weir_netdev_rx_buffers_low(s->dev) > 0;
	}
#endif
#if LWIP_TCP && TCP_ACK_DEFER
	/* What the bursts bring is acknowledged once per connection, at their end
	 * (stack/patches/0032). */
	if (!s->ack_now)
		tcp_ack_defer_begin();
#endif
	/* Up to RX_BURSTS bursts while the device has more: a sender whose fibers spent a long
	 * turn writing must not take one burst of ACKs per turn while its peer's ring fills. */
	for (int round = 0; round < RX_BURSTS; round++) {
		n = weir_netdev_rx_burst(s->dev, frames, RX_BURST);
		if (n < 0 && !s->dev_down) {
			/* A dead device (a link whose peer is gone) keeps its fd readable: stop
			 * waking on it, keep running the timers so flows notice and end. */
			weir_log_warn("%s: receive failed (%s); no longer waiting on it",
				      s->dev->name, weir_strerror(n));
			s->dev_down = 1;
			weir_loop_source_forget_fd(s->loop, s->src);
		}
		if (n <= 0)
			break;
		work += n;
		/* Asked again once the burst is taken, before it goes in: a burst can take the
		 * device's last buffers, a flow nobody reads keeps them, and a device with none
		 * free receives nothing more, not even the segment that would end the wait (the
		 * peer's FIN that a close waits for). Frames copied out go straight back. */
		if (!low)
			low = weir_netdev_rx_buffers_low(s->dev) > 0;
		for (int i = 0; i < n; i++)
			input_frame(s, frames[i], low);
		if (n < RX_BURST)
			break;
	}
#if LWIP_TCP && TCP_ACK_DEFER
	tcp_ack_defer_end();
#endif
	work += weir_netdev_poll(s->dev) > 0;
#if LWIP_NETIF_LOOPBACK
	/* What we sent to ourselves arrives now (its answers wait for the next poll). */
	if (loop_pending()) {
		netif_poll_all();
		work++;
	}
#endif
#if TCP_PCB_HASH && defined(__GLIBC__)
	/* Connections come from the heap: when half of them have gone since the peak, give the
	 * C library's free pages back (it keeps what it freed in the middle of its heap). */
	if (tcp_pcb_count > s->pcb_peak) {
		s->pcb_peak = tcp_pcb_count;
	} else if (s->pcb_peak >= 1024 && tcp_pcb_count < s->pcb_peak / 2) {
		malloc_trim(0);
		s->pcb_peak = tcp_pcb_count;
	}
#endif
	/* lwIP's timers count milliseconds; a busy-polled device comes back every few hundred
	 * nanoseconds, and the clock read behind each check was a tenth of a busy client's time.
	 * Every 16th poll is a few microseconds late at worst. */
	if (!s->busy_poll || ++s->timer_skip >= 16) {
		s->timer_skip = 0;
		sys_check_timeouts();
	}
	/* What lwIP sent while taking this burst in (ACKs, replies) and on its timers leaves in
	 * one burst. */
	weir__stack_tx_batch_end(s);
	return work;
}

int weir_stack_get_addr(const struct weir_stack *s, struct weir_ipaddr *ip, uint8_t *prefix_len,
			struct weir_ipaddr *gw)
{
	u32_t mask;
	uint8_t plen = 0;

	WEIR_EINVAL_IF(s == NULL);
	mask = lwip_ntohl(ip4_addr_get_u32(netif_ip4_netmask(&s->netif)));
	while (plen < 32 && (mask & (0x80000000u >> plen)))
		plen++;
	if (ip != NULL)
		ip->v4 = ip4_addr_get_u32(netif_ip4_addr(&s->netif));
	if (prefix_len != NULL)
		*prefix_len = plen;
	if (gw != NULL)
		gw->v4 = ip4_addr_get_u32(netif_ip4_gw(&s->netif));
	return !ip4_addr_isany_val(*netif_ip4_addr(&s->netif));
}

struct weir_loop *weir_stack_loop(const struct weir_stack *s)
{
	return s ? s->loop : NULL;
}

struct weir_shard_group *weir_stack_group(const struct weir_stack *s)
{
	return s != NULL ? s->group : NULL;
}

int weir_stack_get_stats(const struct weir_stack *s, struct weir_stack_stats *out)
{
	WEIR_EINVAL_IF(s == NULL || out == NULL);
	*out = s->st;
#if LWIP_STATS
	out->ip_drops = lwip_stats.ip.drop;
	out->tcp_drops = lwip_stats.tcp.drop;
	out->etharp_drops = lwip_stats.etharp.drop;
	out->icmp_drops = lwip_stats.icmp.drop;
#endif
#if defined(TCP_SYNCOOKIES) && TCP_SYNCOOKIES
	out->syncookies_sent = tcp_syncookies_sent;
	out->syncookies_accepted = tcp_syncookies_accepted;
	out->syncookies_rejected = tcp_syncookies_rejected;
#endif
#if TCP_PCB_HASH
	out->tcp_connections = tcp_pcb_count - tcp_tw_count;
	out->tcp_time_wait = tcp_tw_count;
	out->tcp_refused = tcp_pcb_refused;
	out->tcp_time_wait_dropped = tcp_tw_dropped;
	out->tcp_time_wait_reused = tcp_tw_recycled;
#endif
	return 0;
}

int weir_stack_get_mac(const struct weir_stack *s, uint8_t mac[WEIR_ETH_ALEN])
{
	WEIR_EINVAL_IF(s == NULL || mac == NULL);
	memcpy(mac, s->netif.hwaddr, WEIR_ETH_ALEN);
	return 0;
}

int weir_stack_ping(struct weir_stack *s, struct weir_ipaddr dst, uint16_t seq, size_t payload_len)
{
	struct icmp_echo_hdr *h;
	struct pbuf *p;
	ip_addr_t to;
	err_t err;

	WEIR_EINVAL_IF(s == NULL || dst.v4 == 0);
	if (payload_len > (size_t)s->mtu - 20 - sizeof(*h))
		return WEIR_EMSGSIZE;
	p = pbuf_alloc(PBUF_IP, (u16_t)(sizeof(*h) + payload_len), PBUF_RAM);
	if (p == NULL)
		return WEIR_ENOMEM;
	h = p->payload;
	h->type = ICMP_ECHO;
	h->code = 0;
	h->chksum = 0;
	h->id = lwip_htons(s->ping_id);
	h->seqno = lwip_htons(seq);
	for (size_t i = 0; i < payload_len; i++)
		((u8_t *)(h + 1))[i] = (u8_t)i;
	h->chksum = inet_chksum(h, p->len);
	ip_addr_set_ip4_u32(&to, dst.v4);
	err = raw_sendto(s->icmp_pcb, p, &to);
	pbuf_free(p);
	if (err != ERR_OK)
		return weir__err_from_lwip(err);
	s->st.icmp_echo_requests_out++;
	return 0;
}

int weir_stack_arp_resolved(struct weir_stack *s, struct weir_ipaddr dst)
{
	struct eth_addr *eth;
	const ip4_addr_t *ip;
	ip4_addr_t q;

	WEIR_EINVAL_IF(s == NULL);
	q.addr = dst.v4;
	return etharp_find_addr(&s->netif, &q, &eth, &ip) >= 0;
}
