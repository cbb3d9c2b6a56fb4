/* nic_lan9118.c - the image's NIC on MPS2 AN386: the LAN9118 at its fixed address and line. */
#include <stdio.h>

#include <weir/baremetal.h>
#include <weir/board.h>
#include <weir/board_mps2_an386.h>
#include <weir/error.h>
#include <weir/lan9118.h>

#include "nic.h"

static void eth_irq(void *arg)
{
	weir_lan9118_irq(arg);
	weir_baremetal_wake();
}

int weir_image_nic_open(struct weir_netdev **out)
{
	struct weir_lan9118_config lc = { .irq = 1 };
	char line[160];
	int rc, n;

	weir_lan9118_mmio_bus(&lc.bus, WEIR_MPS2_ETH_BASE);
	weir_board_id(lc.board_id);
	rc = weir_lan9118_open(&lc, out);
	if (rc < 0) {
		n = snprintf(line, sizeof(line), "image: lan9118: %s %s\r\n", weir_strerror(rc),
			     weir_netdev_last_error());
		if (n > 0)
			weir_board_console_write(line, (size_t)n < sizeof(line) ? (size_t)n
										: sizeof(line) - 1);
		return rc;
	}
	return weir_board_irq_attach(WEIR_MPS2_ETH_IRQ, eth_irq, *out);
}

int weir_image_nic_stats(const struct weir_netdev *nic, char *buf, size_t len)
{
	struct weir_lan9118_stats ls;

	weir_lan9118_get_stats(nic, &ls);
	return snprintf(buf, len, " frames_held %lu/%lu link %lu", (unsigned long)ls.frames_held,
			(unsigned long)ls.frames_total, (unsigned long)ls.link_up);
}
