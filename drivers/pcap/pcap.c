/* pcap.c - a netdev that records every frame of another netdev to a pcap file. */
#define _GNU_SOURCE
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define WEIR_LOG_COMPONENT "pcap"
#include <weir/compiler.h>
#include <weir/error.h>
#include <weir/log.h>
#include <weir/pcap.h>

struct pcap_dev {
	struct weir_netdev nd;
	struct weir_netdev *inner;
	pcap_t *dead;
	pcap_dumper_t *dumper;
	char name[64];
	uint8_t scratch[65536]; /* one transmitted frame, gathered */
};

static void dump(struct pcap_dev *p, const uint8_t *data, size_t len)
{
	struct pcap_pkthdr h;

	gettimeofday(&h.ts, NULL);
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)p->dumper, &h, data);
}

static int pd_rx_burst(struct weir_netdev *nd, struct weir_frame **frames, int n)
{
	struct pcap_dev *p = (struct pcap_dev *)nd;
	int got = weir_netdev_rx_burst(p->inner, frames, n);

	for (int i = 0; i < got; i++)
		dump(p, frames[i]->data, frames[i]->len);
	return got;
}

static void pd_release(struct weir_netdev *nd, struct weir_frame *f)
{
	/* Frames carry their own (inner) device; this is only reached through a wrapper pointer. */
	weir_netdev_release(f);
	WEIR_UNUSED(nd);
}

static int pd_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	struct pcap_dev *p = (struct pcap_dev *)nd;
	int sent = weir_netdev_tx_burst(p->inner, frames, n);

	/* Record what the device took, as it left. */
	for (int i = 0; i < sent; i++) {
		size_t off = 0;

		for (unsigned k = 0; k < frames[i].iovcnt && off < sizeof(p->scratch); k++) {
			size_t l = WEIR_MIN(frames[i].iov[k].len, sizeof(p->scratch) - off);

			memcpy(p->scratch + off, frames[i].iov[k].base, l);
			off += l;
		}
		dump(p, p->scratch, off);
	}
	return sent;
}

static void pd_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	weir_netdev_get_caps(((const struct pcap_dev *)nd)->inner, caps);
}

static void pd_get_stats(const struct weir_netdev *nd, struct weir_netdev_stats *st)
{
	weir_netdev_get_stats(((const struct pcap_dev *)nd)->inner, st);
}

static uint64_t pd_next_deadline(struct weir_netdev *nd)
{
	return weir_netdev_next_deadline_ns(((struct pcap_dev *)nd)->inner);
}

static int pd_poll(struct weir_netdev *nd)
{
	return weir_netdev_poll(((struct pcap_dev *)nd)->inner);
}

static void pd_close(struct weir_netdev *nd)
{
	struct pcap_dev *p = (struct pcap_dev *)nd;

	pcap_dump_close(p->dumper);
	pcap_close(p->dead);
	weir_netdev_close(p->inner);
	free(p);
}

static int pd_rx_buffers_low(struct weir_netdev *nd)
{
	return weir_netdev_rx_buffers_low(((struct pcap_dev *)nd)->inner);
}

static int pd_rx_queue_of(const struct weir_netdev *nd, const struct weir_flow_key *k)
{
	return weir_netdev_rx_queue_of(((const struct pcap_dev *)nd)->inner, k);
}

static const struct weir_netdev_ops pcap_ops = {
	.rx_burst = pd_rx_burst,	      /* required */
	.release = pd_release,		      /* required */
	.tx_burst = pd_tx_burst,	      /* required */
	.get_caps = pd_get_caps,	      /* required */
	.get_stats = pd_get_stats,	      /* optional */
	.next_deadline_ns = pd_next_deadline, /* optional */
	.poll = pd_poll,		      /* optional */
	.rx_buffers_low = pd_rx_buffers_low,  /* optional */
	.rx_queue_of = pd_rx_queue_of,	      /* optional */
	.close = pd_close,		      /* required */
};

int weir_pcap_wrap(struct weir_netdev *inner, const char *path, struct weir_netdev **out)
{
	struct pcap_dev *p;

	WEIR_EINVAL_IF(inner == NULL || path == NULL || out == NULL);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return WEIR_ENOMEM;
	p->dead = pcap_open_dead(DLT_EN10MB, 65535);
	p->dumper = p->dead ? pcap_dump_open(p->dead, path) : NULL;
	if (p->dumper == NULL) {
		weir_log_debug("cannot write %s: %s", path, p->dead ? pcap_geterr(p->dead) : "?");
		if (p->dead)
			pcap_close(p->dead);
		free(p);
		return WEIR_EIO;
	}
	p->inner = inner;
	snprintf(p->name, sizeof(p->name), "%s+pcap", inner->name ? inner->name : "?");
	p->nd.ops = &pcap_ops;
	p->nd.name = p->name;
	*out = &p->nd;
	return 0;
}
