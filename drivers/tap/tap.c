/* tap.c - Linux TUN/TAP netdev: non-blocking, batched reads into a fixed pool of frame buffers.
 *
 * With offload (the default), the device carries a virtio_net_hdr before each frame
 * (IFF_VNET_HDR) and tells Linux it takes TCP super-frames and unfinished checksums
 * (TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4). Linux then hands over up to 64 KiB of a TCP stream
 * per read() instead of one MSS, and skips summing what it sends: such frames come from Linux's
 * memory, so the stack is told to skip their TCP/UDP checksum check (tap_finish_offload). Frames
 * we send ask Linux to finish their TCP checksums and to cut TCP super-frames into segments
 * (TSO), as a virtio NIC's driver would: see tap_tx_vnet. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "tap"
#include <weir/compiler.h>
#include <weir/csum.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/tap.h>

#include "netdev_priv.h"

/* Room for a VLAN tag past the Ethernet header and MTU. */
#define TAP_FRAME_EXTRA (WEIR_ETH_HLEN + 4)
/* With offload: the largest frame Linux hands over (a 64 KiB IPv4 packet plus its Ethernet
 * header); a larger one would not fit the stack's 16-bit buffer lengths and is dropped. */
#define TAP_SUPER_FRAME_MAX 65535u
/* Gather-list pieces of one frame we send (Linux's UIO_MAXIOV is 1024, one is the header). */
#define TAP_TX_IOV_MAX 1023

struct tap_dev {
	struct weir_netdev nd;
	char name[IFNAMSIZ + 4];
	int fd;
	uint16_t mtu;
	unsigned burst;
	uint32_t buf_size;
	int vnet;		   /* frames carry a virtio_net_hdr: offload on */
	uint16_t nqueues, queue;   /* multi-queue: this object reads queue `queue` of nqueues */
	int steered;		   /* our steering program picks the queues (tap_rx_queue_of) */
	struct weir_frame *frames; /* all frames; buffers in one allocation */
	uint8_t *bufs;
	struct weir_frame **free_list;
	unsigned nfree, nframes;
	struct weir_netdev_stats st;
	struct weir_tap_stats tst;
	/* One frame's gather list for writev: here, not on the stack, since transmit runs on the
	 * fibers' stacks too (a flow's write flushes the stack's queue). */
	struct iovec tx_iov[TAP_TX_IOV_MAX + 1];
};

/* Takes what Linux left to the device (virtio_net_hdr). A frame whose TCP or UDP checksum
 * field holds only the pseudo-header sum came from Linux's own memory: it is flagged for the
 * stack to skip that one check, or, where the stack could not (another protocol, a fragment),
 * its checksum is finished here. A super-frame (TCPv4 GSO) needs nothing else: its IPv4 header
 * already gives the whole length and a valid checksum, and the stack takes it as one large
 * segment. Returns 0, or -1 for a header we did not ask for. */
static int tap_finish_offload(struct tap_dev *t, const struct virtio_net_hdr *vh,
			      struct weir_frame *f, size_t len)
{
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (gso != VIRTIO_NET_HDR_GSO_NONE && gso != VIRTIO_NET_HDR_GSO_TCPV4)
		return -1;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (weir__netdev_rx_csum_partial(f, len, vh->csum_start, vh->csum_offset) != 0)
			return -1;
		t->tst.rx_csum_partial++;
	}
	if (gso != VIRTIO_NET_HDR_GSO_NONE)
		t->tst.rx_super++;
	return 0;
}

static int tap_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct tap_dev *t = (struct tap_dev *)nd;
	struct virtio_net_hdr vh; /* with offload: Linux's header before each frame */
	int got = 0;

	if (n > (int)t->burst)
		n = (int)t->burst;
	/* A TAP fd delivers one frame per read(); keep reading until the kernel queue is empty or
	 * the burst is full, so one wake-up drains many frames. */
	while (got < n) {
		struct weir_frame *f;
		ssize_t r;

		if (t->nfree == 0) {
			t->st.rx_nobuf++;
			break;
		}
		f = t->free_list[t->nfree - 1];
		if (t->vnet) {
			struct iovec iov[2] = { { &vh, sizeof(vh) }, { f->data, t->buf_size } };

			r = readv(t->fd, iov, 2);
		} else {
			r = read(t->fd, f->data, t->buf_size);
		}
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			t->st.rx_errors++;
			return got > 0 ? got : WEIR_EIO;
		}
		if (t->vnet) {
			if ((size_t)r < sizeof(vh)) {
				t->st.rx_errors++;
				continue;
			}
			r -= (ssize_t)sizeof(vh);
		}
		if ((size_t)r > t->buf_size - 1 || (t->vnet && (size_t)r > TAP_SUPER_FRAME_MAX)) {
			/* read() filled the whole buffer: the frame may have been cut. */
			t->st.rx_oversize++;
			continue;
		}
		f->flags = 0;
		if (t->vnet && tap_finish_offload(t, &vh, f, (size_t)r) != 0) {
			t->st.rx_errors++;
			continue;
		}
		f->len = weir__netdev_rx_len(f->data, (uint32_t)r, &t->st);
		if (f->len == 0)
			continue;
		t->nfree--;
		t->st.rx_frames++;
		t->st.rx_bytes += f->len;
		out[got++] = f;
	}
	return got;
}

static void tap_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct tap_dev *t = (struct tap_dev *)nd;

	WEIR_BUG_ON(f < t->frames || f >= t->frames + t->nframes);
	WEIR_BUG_ON(t->nfree >= t->nframes);
	t->free_list[t->nfree++] = f;
}

/* The virtio header for a frame we send: what the stack left to the device (its checksum, its
 * segmentation), or nothing. */
static void tap_tx_vnet(const struct weir_tx_frame *tf, struct virtio_net_hdr *vh)
{
	memset(vh, 0, sizeof(*vh));
	if (tf->flags & WEIR_TX_L4_CSUM) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = tf->l4_offset;
		vh->csum_offset = 16; /* the TCP checksum field */
	}
	if (tf->flags & WEIR_TX_TSO4) {
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		vh->gso_size = tf->gso_size;
		vh->hdr_len = (uint16_t)(tf->l4_offset + tf->l4_hlen);
	}
}

static int tap_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct tap_dev *t = (struct tap_dev *)nd;
	int i;

	for (i = 0; i < n; i++) {
		const struct weir_tx_frame *tf = &frames[i];
		struct virtio_net_hdr vh;
		struct iovec *iov = t->tx_iov;
		unsigned k0 = 0;
		ssize_t w;

		if (tf->iovcnt > TAP_TX_IOV_MAX || tf->iov == NULL ||
		    (!t->vnet && (tf->flags & (WEIR_TX_L4_CSUM | WEIR_TX_TSO4))))
			return i > 0 ? i : WEIR_EINVAL;
		if (t->vnet) {
			tap_tx_vnet(tf, &vh);
			iov[0].iov_base = &vh;
			iov[0].iov_len = sizeof(vh);
			k0 = 1;
		}
		for (unsigned k = 0; k < tf->iovcnt; k++) {
			iov[k0 + k].iov_base = (void *)(uintptr_t)tf->iov[k].base;
			iov[k0 + k].iov_len = tf->iov[k].len;
		}
		w = writev(t->fd, iov, (int)(tf->iovcnt + k0));
		if (w > 0)
			w -= (ssize_t)(k0 * sizeof(vh));
		if (w < 0) {
			if (errno == EAGAIN || errno == ENOBUFS) {
				t->st.tx_full++;
				break;
			}
			if (errno == EINTR) {
				i--;
				continue;
			}
			/* EIO: the interface is down. The frame is lost, as on a cable. */
			t->st.tx_errors++;
			if (i == 0)
				return WEIR_EIO;
			break;
		}
		t->st.tx_frames++;
		t->st.tx_bytes += (uint64_t)w;
		if (tf->flags & WEIR_TX_TSO4)
			t->tst.tx_super++;
	}
	return i;
}

static void tap_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	const struct tap_dev *t = (const struct tap_dev *)nd;

	/* The MAC stays zero: the kernel's side of the TAP has its own; the stack picks ours. */
	caps->mtu = t->mtu;
	/* With the virtio header Linux takes what a virtio NIC's driver would hand it: TCP
	 * checksums to finish and TCP super-frames to cut (it accepts them whatever it was told
	 * it may send us). */
	caps->offloads = t->vnet ? WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_TX_TSO4 : 0;
	caps->rx_queues = t->nqueues ? t->nqueues : 1;
	caps->tx_queues = caps->rx_queues;
	caps->rx_queue = t->queue;
	caps->fd = t->fd;
	caps->poll_mode = 0;
}

static void tap_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *stats)
{
	*stats = ((const struct tap_dev *)nd)->st;
}

static void tap_close(struct weir_netdev *nd)
{
	struct tap_dev *t = (struct tap_dev *)nd;

	if (t->nfree != t->nframes)
		weir_log_warn("%s closed with %u frames still held by the stack", t->name,
			      t->nframes - t->nfree);
	close(t->fd);
	free(t->free_list);
	free(t->frames);
	free(t->bufs);
	free(t);
}

/* Low when fewer than an eighth of the receive buffers are free (TCP's queues hold the rest). */
static int tap_rx_buffers_low(struct weir_netdev *nd)
{
	const struct tap_dev *t = (const struct tap_dev *)nd;

	return t->nfree < t->nframes / 8;
}

/* --- several queues (shards) ------------------------------------------------------------------ */

/* The queue a multi-queue TAP hands a packet to is what this program returns, modulo the number of
 * queues (TUNSETSTEERINGEBPF; without it Linux hashes flows to queues with a secret key and
 * keeps a flow on the queue that last sent for it, forgetting idle flows after 3 s). For IPv4
 * TCP and UDP, not fragmented: the top 16 bits of (source port XOR destination port) times
 * 0x9e3779b1, so both directions of a flow agree and a shard can pick ephemeral ports whose
 * replies come to it (tap_rx_queue_of). (The XOR alone would not do: Linux connects from even
 * ports, so every client's flows to one server port would share a parity and a queue.)
 * anything else, ARP and ICMP included, goes to queue 0 (the stack shares those between shards).
 * LD_ABS/LD_IND load from the Ethernet header in host byte order; a load past the end ends the
 * program with 0. */
#define STEER_MUL 0x9e3779b1u

static int tap_steering_load(void)
{
#define INSN(c, d, s, o, i)                                                                        \
	{                                                                                          \
		.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)                \
	}
	static const struct bpf_insn prog[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),	    /* 0: r6 = skb (for LD_ABS) */
		INSN(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 12),	    /* 1: r0 = ethertype */
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 17, 0x0800),  /* 2: not IPv4 -> 20 */
		INSN(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 23),	    /* 3: r0 = protocol */
		INSN(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1, 6),	    /* 4: TCP -> 6 */
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 14, 17),	    /* 5: not UDP -> 20 */
		INSN(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 20),	    /* 6: r0 = flags, offset */
		INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 0x3fff), /* 7: MF or an offset */
		INSN(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 11, 0),	    /* 8: a fragment -> 20 */
		INSN(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 14),	    /* 9: r0 = version, IHL */
		INSN(BPF_ALU64 | BPF_AND | BPF_K, 0, 0, 0, 0x0f),   /* 10 */
		INSN(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, 2),	    /* 11: r0 = IP header length */
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0),	    /* 12: r7 = r0 */
		INSN(BPF_LD | BPF_IND | BPF_H, 0, 7, 0, 14),	    /* 13: r0 = source port */
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, 8, 0, 0, 0),	    /* 14: r8 = r0 */
		INSN(BPF_LD | BPF_IND | BPF_H, 0, 7, 0, 16),	    /* 15: r0 = destination port */
		INSN(BPF_ALU64 | BPF_XOR | BPF_X, 0, 8, 0, 0),	    /* 16: r0 ^= r8 */
		INSN(BPF_ALU | BPF_MUL | BPF_K, 0, 0, 0, (int32_t)STEER_MUL), /* 17: u32 product */
		INSN(BPF_ALU | BPF_RSH | BPF_K, 0, 0, 0, 16),  /* 18: its top 16 bits */
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),	       /* 19 */
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0), /* 20: r0 = 0 */
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),	       /* 21 */
	};
#undef INSN
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)WEIR_ARRAY_SIZE(prog);
	a.license = (uint64_t)(uintptr_t) "GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static int tap_rx_queue_of(const struct weir_netdev *nd, const struct weir_flow_key *k)
{
	const struct tap_dev *t = (const struct tap_dev *)nd;

	if (!t->steered || (k->proto != 6 && k->proto != 17))
		return -1;
	return (int)weir_tap_steer_queue(k->remote_port, k->local_port, t->nqueues);
}

unsigned weir_tap_steer_queue(uint16_t port_a, uint16_t port_b, unsigned nqueues)
{
	if (nqueues == 0)
		return 0;
	return ((((uint32_t)(port_a ^ port_b)) * STEER_MUL) >> 16) % nqueues;
}

static const struct weir_netdev_ops tap_ops = {
	.rx_burst = tap_rx_burst,	      /* required */
	.release = tap_release,		      /* required */
	.tx_burst = tap_tx_burst,	      /* required */
	.get_caps = tap_get_caps,	      /* required */
	.get_stats = tap_get_stats,	      /* optional */
	.rx_buffers_low = tap_rx_buffers_low, /* optional */
	.rx_queue_of = tap_rx_queue_of,	      /* optional */
	.close = tap_close,		      /* required */
};

int weir_tap_parse_spec(const char *spec, struct weir_tap_config *cfg, char *name, size_t cap)
{
	const char *opt, *end;
	size_t n;

	WEIR_EINVAL_IF(spec == NULL || cfg == NULL || name == NULL);
	memset(cfg, 0, sizeof(*cfg));
	opt = strchr(spec, ',');
	n = opt ? (size_t)(opt - spec) : strlen(spec);
	if (n == 0 || n >= IFNAMSIZ || n >= cap) {
		weir__netdev_set_error("tap:%s: the interface name must be 1..%d characters", spec,
				       IFNAMSIZ - 1);
		return WEIR_EINVAL;
	}
	memcpy(name, spec, n);
	name[n] = '\0';
	cfg->ifname = name;
	for (; opt != NULL; opt = end) {
		const char *item = opt + 1;
		size_t len;

		end = strchr(item, ',');
		len = end ? (size_t)(end - item) : strlen(item);
		if (len == 9 && memcmp(item, "offload=", 8) == 0 &&
		    (item[8] == '0' || item[8] == '1'))
			cfg->no_offload = item[8] == '0';
		else if (len > 4 && len < 9 && memcmp(item, "mtu=", 4) == 0 &&
			 strspn(item + 4, "0123456789") == len - 4 && atoi(item + 4) >= 576 &&
			 atoi(item + 4) <= 9000)
			cfg->mtu = (uint16_t)atoi(item + 4);
		else {
			weir__netdev_set_error(
				"tap:%s: '%.*s' is not a TAP option (offload=0 or offload=1, "
				"mtu=576..9000)",
				spec, (int)len, item);
			return WEIR_EINVAL;
		}
	}
	return 0;
}

static int tap_open_queues_spec(const char *args, const struct weir_netdev_params *params,
				unsigned n, struct weir_netdev **out)
{
	struct weir_tap_config cfg;
	char name[IFNAMSIZ];
	int rc = weir_tap_parse_spec(args, &cfg, name, sizeof(name));

	if (rc < 0)
		return rc;
	if (cfg.mtu == 0)
		cfg.mtu = params->mtu;
	return weir_tap_open_queues(&cfg, n, out);
}

static int tap_open_spec(const char *args, const struct weir_netdev_params *params,
			 struct weir_netdev **out)
{
	return tap_open_queues_spec(args, params, 1, out);
}

const struct weir__netdev_driver weir__netdev_driver_tap = {
	.prefix = "tap",
	.usage = "tap:IFNAME[,offload=0|1][,mtu=N]",
	.open = tap_open_spec,
	.open_queues = tap_open_queues_spec,
};

int weir_tap_get_stats(const struct weir_netdev *nd, struct weir_tap_stats *out)
{
	WEIR_EINVAL_IF(nd == NULL || out == NULL || nd->ops != &tap_ops);
	*out = ((const struct tap_dev *)nd)->tst;
	return 0;
}

static int tap_open_one(const struct weir_tap_config *cfg, int multi_queue,
			struct weir_netdev **out)
{
	int attached;
	struct tap_dev *t;
	struct ifreq ifr;
	size_t namelen;
	int fd, rc;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || cfg->ifname == NULL);
	namelen = strlen(cfg->ifname);
	if (namelen == 0 || namelen >= IFNAMSIZ || strchr(cfg->ifname, '/') != NULL) {
		weir__netdev_set_error(
			"tap:%s: the interface name must be 1..%d characters without "
			"'/'",
			cfg->ifname, IFNAMSIZ - 1);
		return WEIR_EINVAL;
	}
	if (cfg->mtu != 0 && (cfg->mtu < 576 || cfg->mtu > 9000)) {
		weir__netdev_set_error("tap:%s: mtu %u outside 576..9000", cfg->ifname, cfg->mtu);
		return WEIR_EINVAL;
	}

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		weir__netdev_set_error("tap:%s: cannot open /dev/net/tun: %s", cfg->ifname,
				       strerror(e));
		return e == ENOENT || e == ENXIO || e == ENODEV ? WEIR_ENODEV
		       : e == EACCES || e == EPERM		? WEIR_EPERM
								: WEIR_EIO;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (cfg->no_offload ? 0 : IFF_VNET_HDR) |
				(multi_queue ? IFF_MULTI_QUEUE : 0));
	memcpy(ifr.ifr_name, cfg->ifname, namelen);
	attached = ioctl(fd, TUNSETIFF, &ifr);
	if (attached < 0 && errno == EINVAL && !multi_queue) {
		/* A device made with multi_queue takes one queue only if asked so. */
		ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_MULTI_QUEUE);
		multi_queue = 1;
		attached = ioctl(fd, TUNSETIFF, &ifr);
	}
	if (attached < 0) {
		int e = errno;

		weir__netdev_set_error(
			"tap:%s: cannot attach: %s%s", cfg->ifname, strerror(e),
			e == EPERM || e == EACCES
				? " (creating a TAP device needs root or CAP_NET_ADMIN)"
			: e == EBUSY ? " (another process has the device)"
			: e == EINVAL && multi_queue
				? " (several queues need a device made with multi_queue: ip tuntap "
				  "add dev NAME mode tap multi_queue)"
				: "");
		close(fd);
		return e == EPERM || e == EACCES ? WEIR_EPERM : e == EBUSY ? WEIR_EBUSY : WEIR_EIO;
	}

	t = weir__zalloc_lines(1, sizeof(*t)); /* per queue: a shard's each */
	if (t == NULL)
		goto nomem;
	t->fd = fd;
	t->mtu = cfg->mtu ? cfg->mtu : 1500;
	t->burst = cfg->rx_burst ? cfg->rx_burst : 32;
	t->nframes = cfg->rx_frames ? cfg->rx_frames : CONFIG_WEIR_TAP_RX_FRAMES;
	/* One spare byte tells a frame that filled the buffer (cut) from one that fit. */
	t->buf_size = ((uint32_t)t->mtu + TAP_FRAME_EXTRA + 1 + 63) & ~63u;
	if (cfg->no_offload) {
		/* Offloads stay on a device after the process that asked for them: take them
		 * back, or Linux would keep sending super-frames this reader cannot take. */
		if (ioctl(fd, TUNSETOFFLOAD, 0) != 0)
			weir_log_warn("%s: cannot turn TCP offload off (%s)", cfg->ifname,
				      strerror(errno));
	} else {
		/* The header size is the device's too (QEMU may have left 12): say ours. */
		int hsz = (int)sizeof(struct virtio_net_hdr);

		t->vnet = 1;
		if (ioctl(fd, TUNSETVNETHDRSZ, &hsz) != 0) {
			weir__netdev_set_error("tap:%s: cannot set the virtio header size: %s",
					       cfg->ifname, strerror(errno));
			close(fd);
			free(t);
			return WEIR_EIO;
		}
		if (ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4) == 0)
			t->buf_size = (TAP_SUPER_FRAME_MAX + 1 + 63) & ~63u;
		else
			/* Plain frames, each with a header that asks nothing. */
			weir_log_info("%s: no TCP offload from Linux (%s)", cfg->ifname,
				      strerror(errno));
	}
	t->frames = weir__zalloc_lines(t->nframes, sizeof(*t->frames));
	t->free_list = weir__zalloc_lines(t->nframes, sizeof(*t->free_list));
	t->bufs = malloc((size_t)t->nframes * t->buf_size);
	if (t->frames == NULL || t->free_list == NULL || t->bufs == NULL)
		goto nomem;
	for (unsigned i = 0; i < t->nframes; i++) {
		struct weir_frame *f = &t->frames[i];

		f->data = t->bufs + (size_t)i * t->buf_size;
		f->cap = t->buf_size;
		f->dev = &t->nd;
		t->free_list[i] = f;
	}
	t->nfree = t->nframes;
	snprintf(t->name, sizeof(t->name), "tap:%s", cfg->ifname);
	t->nd.ops = &tap_ops;
	t->nd.name = t->name;
	*out = &t->nd;
	return 0;

nomem:
	weir__netdev_set_error("tap:%s: no memory for %u receive buffers", cfg->ifname,
			       t ? t->nframes : 0);
	rc = WEIR_ENOMEM;
	if (t != NULL) {
		free(t->frames);
		free(t->free_list);
		free(t->bufs);
		free(t);
	}
	close(fd);
	return rc;
}

int weir_tap_open(const struct weir_tap_config *cfg, struct weir_netdev **out)
{
	return tap_open_one(cfg, 0, out);
}

int weir_tap_open_queues(const struct weir_tap_config *cfg, unsigned n, struct weir_netdev **out)
{
	int prog, rc = 0;
	unsigned i;

	WEIR_EINVAL_IF(cfg == NULL || out == NULL || n == 0 || n > WEIR_NETDEV_QUEUES_MAX);
	if (n == 1)
		return weir_tap_open(cfg, out);
	/* Linux numbers the queues in the order they attach. */
	for (i = 0; i < n && rc == 0; i++)
		rc = tap_open_one(cfg, 1, &out[i]);
	if (rc < 0) {
		while (--i > 0)
			weir_netdev_close(out[i - 1]);
		return rc;
	}
	prog = tap_steering_load();
	if (prog >= 0 && ioctl(((struct tap_dev *)out[0])->fd, TUNSETSTEERINGEBPF, &prog) == 0) {
		close(prog); /* the device holds it */
		prog = 1;
	} else {
		weir_log_warn("%s: no steering program (%s; loading one needs CAP_BPF or root): "
			      "Linux steers flows to queues, and a connection idle for 3 s may "
			      "come back on another shard's queue",
			      out[0]->name, strerror(errno));
		if (prog >= 0)
			close(prog);
		prog = 0;
	}
	for (i = 0; i < n; i++) {
		struct tap_dev *t = (struct tap_dev *)out[i];

		t->nqueues = (uint16_t)n;
		t->queue = (uint16_t)i;
		t->steered = prog;
		snprintf(t->name, sizeof(t->name), "tap:%s/%u", cfg->ifname, i);
	}
	return 0;
}
