/* nic_virtio.c - the image's NIC on QEMU virt: the first virtio-net device among the
 * virtio-mmio transports, with the first virtio-rng device (if any) read for entropy first. */
#include <stdio.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/board_virt_aarch64.h>
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/virtio_net.h>

#include "nic.h"

static void say(const char *line, int n, size_t cap)
{
	if (n > 0)
		weir_board_console_write(line, (size_t)n < cap ? (size_t)n : cap - 1);
}

static void vnet_irq(void *arg)
{
	weir_virtio_net_irq(arg);
	weir_baremetal_wake();
}

int weir_image_nic_open(struct weir_netdev **out)
{
	struct weir_virtio_net_config c = { .irq = 1 };
	struct weir_virtio_net_stats vs;
	int net = -1, rng = -1, rc, n;
	char line[640], offered[256], taken[256];

	for (unsigned i = 0; i < WEIR_VIRT_VIRTIO_COUNT; i++) {
		struct weir_virtio_bus bus;
		uint32_t id;

		weir_virtio_mmio_bus(&bus, WEIR_VIRT_VIRTIO_BASE + i * WEIR_VIRT_VIRTIO_STRIDE);
		id = weir_virtio_mmio_probe(&bus, NULL);
		if (id == WEIR_VIRTIO_ID_NET && net < 0)
			net = (int)i;
		if (id == WEIR_VIRTIO_ID_RNG && rng < 0)
			rng = (int)i;
	}
	if (rng >= 0) {
		struct weir_virtio_bus bus;
		uint8_t seed[32];

		weir_virtio_mmio_bus(&bus, WEIR_VIRT_VIRTIO_BASE +
						   (unsigned)rng * WEIR_VIRT_VIRTIO_STRIDE);
		rc = weir_virtio_rng_read(&bus, seed, sizeof(seed), 500 * WEIR_NS_PER_MS);
		if (rc > 0)
			weir_baremetal_entropy_add(seed, (size_t)rc);
		n = snprintf(line, sizeof(line), "entropy: virtio-rng (transport %d): %s\r\n", rng,
			     rc > 0 ? "32 bytes into the pool" : weir_strerror(rc));
	} else {
		n = snprintf(line, sizeof(line),
			     "entropy: no virtio-rng; the runner's seed and timer jitter only\r\n");
	}
	say(line, n, sizeof(line));
	if (net < 0) {
		n = snprintf(line, sizeof(line),
			     "image: no virtio-net device on any transport\r\n");
		say(line, n, sizeof(line));
		return WEIR_ENODEV;
	}
	weir_virtio_mmio_bus(&c.bus,
			     WEIR_VIRT_VIRTIO_BASE + (unsigned)net * WEIR_VIRT_VIRTIO_STRIDE);
	weir_board_id(c.board_id);
	rc = weir_virtio_net_open(&c, out);
	if (rc < 0) {
		n = snprintf(line, sizeof(line), "image: virtio-net: %s %s\r\n", weir_strerror(rc),
			     weir_netdev_last_error());
		say(line, n, sizeof(line));
		return rc;
	}
	weir_virtio_net_get_stats(*out, &vs);
	weir_virtio_net_features_str(vs.features_offered, offered, sizeof(offered));
	weir_virtio_net_features_str(vs.features_taken, taken, sizeof(taken));
	n = snprintf(line, sizeof(line),
		     "virtio-net: transport %d irq %u queues %u/%u; offered: %s; taken: %s\r\n",
		     net, WEIR_VIRT_VIRTIO_IRQ((unsigned)net), (unsigned)vs.rx_queue_size,
		     (unsigned)vs.tx_queue_size, offered, taken);
	say(line, n, sizeof(line));
	return weir_board_irq_attach(WEIR_VIRT_VIRTIO_IRQ((unsigned)net), vnet_irq, *out);
}

int weir_image_nic_stats(const struct weir_netdev *nic, char *buf, size_t len)
{
	struct weir_virtio_net_stats vs;

	weir_virtio_net_get_stats(nic, &vs);
	return snprintf(buf, len,
			" frames_held %lu/%lu link %lu rx_csum_partial %lu rx_csum_valid %lu "
			"tx_csum %lu tx_super %lu rx_bad_header %lu irqs %lu notifies %lu "
			"device_errors %lu",
			(unsigned long)vs.frames_held, (unsigned long)vs.frames_total,
			(unsigned long)vs.link_up, (unsigned long)vs.rx_csum_partial,
			(unsigned long)vs.rx_csum_valid, (unsigned long)vs.tx_csum_offload,
			(unsigned long)vs.tx_super, (unsigned long)vs.rx_bad_header,
			(unsigned long)vs.irqs, (unsigned long)vs.notifies,
			(unsigned long)vs.device_errors);
}
