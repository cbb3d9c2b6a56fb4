/* tap.c - Linux TUN/TAP netdev: non-blocking, batched reads into a fixed pool of frame buffers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <weir/config.h>
#define WEIR_LOG_COMPONENT "tap"
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/tap.h>

#include "../netdev_priv.h"

/* Room for a VLAN tag past the Ethernet header and MTU. */
#define TAP_FRAME_EXTRA (WEIR_ETH_HLEN + 4)

struct tap_dev {
	struct weir_netdev nd;
	char name[IFNAMSIZ + 4];
	int fd;
	uint16_t mtu;
	unsigned burst;
	uint32_t buf_size;
	struct weir_frame *frames; /* all frames; buffers in one allocation */
	uint8_t *bufs;
	struct weir_frame **free_list;
	unsigned nfree, nframes;
	struct weir_netdev_stats st;
};

static int tap_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	struct tap_dev *t = (struct tap_dev *)nd;
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
		r = read(t->fd, f->data, t->buf_size);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			t->st.rx_errors++;
			return got > 0 ? got : WEIR_EIO;
		}
		if ((size_t)r > t->buf_size - 1) {
			/* read() filled the whole buffer: the frame may have been cut. */
			t->st.rx_oversize++;
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

static int tap_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct tap_dev *t = (struct tap_dev *)nd;
	int i;

	for (i = 0; i < n; i++) {
		const struct weir_tx_frame *tf = &frames[i];
		struct iovec iov[64];
		ssize_t w;

		if (tf->iovcnt > WEIR_ARRAY_SIZE(iov) || tf->iov == NULL)
			return i > 0 ? i : WEIR_EINVAL;
		for (unsigned k = 0; k < tf->iovcnt; k++) {
			iov[k].iov_base = (void *)(uintptr_t)tf->iov[k].base;
			iov[k].iov_len = tf->iov[k].len;
		}
		w = writev(t->fd, iov, (int)tf->iovcnt);
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
	}
	return i;
}

static void tap_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	const struct tap_dev *t = (const struct tap_dev *)nd;

	/* The MAC stays zero: the kernel's side of the TAP has its own; the stack picks ours. */
	caps->mtu = t->mtu;
	caps->offloads = 0;
	caps->rx_queues = 1;
	caps->tx_queues = 1;
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

static const struct weir_netdev_ops tap_ops = {
	.rx_burst = tap_rx_burst,   /* required */
	.release = tap_release,	    /* required */
	.tx_burst = tap_tx_burst,   /* required */
	.get_caps = tap_get_caps,   /* required */
	.get_stats = tap_get_stats, /* optional */
	.rx_buffers_low = tap_rx_buffers_low, /* optional */
	.close = tap_close,	    /* required */
};

int weir_tap_open(const struct weir_tap_config *cfg, struct weir_netdev **out)
{
	struct tap_dev *t;
	struct ifreq ifr;
	size_t namelen;
	int fd, rc;

	if (cfg == NULL || out == NULL || cfg->ifname == NULL)
		return WEIR_EINVAL;
	namelen = strlen(cfg->ifname);
	if (namelen == 0 || namelen >= IFNAMSIZ || strchr(cfg->ifname, '/') != NULL) {
		weir_log_debug("interface name '%s' must be 1..%d characters", cfg->ifname,
			       IFNAMSIZ - 1);
		return WEIR_EINVAL;
	}
	if (cfg->mtu != 0 && (cfg->mtu < 576 || cfg->mtu > 9000))
		return WEIR_EINVAL;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		weir_log_debug("open /dev/net/tun: %s", strerror(errno));
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ? WEIR_ENODEV
		       : errno == EACCES || errno == EPERM		    ? WEIR_EPERM
									    : WEIR_EIO;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, cfg->ifname, namelen);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		weir_log_debug("attach to TAP %s: %s", cfg->ifname, strerror(e));
		close(fd);
		return e == EPERM || e == EACCES ? WEIR_EPERM : e == EBUSY ? WEIR_EBUSY : WEIR_EIO;
	}

	t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	t->fd = fd;
	t->mtu = cfg->mtu ? cfg->mtu : 1500;
	t->burst = cfg->rx_burst ? cfg->rx_burst : 32;
	t->nframes = cfg->rx_frames ? cfg->rx_frames : CONFIG_WEIR_TAP_RX_FRAMES;
	/* One spare byte tells a frame that filled the buffer (cut) from one that fit. */
	t->buf_size = ((uint32_t)t->mtu + TAP_FRAME_EXTRA + 1 + 63) & ~63u;
	t->frames = calloc(t->nframes, sizeof(*t->frames));
	t->free_list = calloc(t->nframes, sizeof(*t->free_list));
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
