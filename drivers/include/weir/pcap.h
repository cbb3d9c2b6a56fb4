/* pcap.h - capture every frame of a netdev (both directions) to a pcap file (hosted, libpcap).
 *
 * The capture device wraps another netdev and behaves exactly like it; frames are written with
 * libpcap's dump API (Ethernet link type), so the file opens in tshark and Wireshark.
 */
#ifndef WEIR_PCAP_H
#define WEIR_PCAP_H

#include <weir/netdev.h>

/* Wraps inner; the capture device owns inner from then on (closing it closes inner). Returns 0
 * and sets *out, or WEIR_EINVAL (NULL arguments), WEIR_EIO (file cannot be written),
 * WEIR_ENOMEM. On failure inner stays the caller's. */
int weir_pcap_wrap(struct weir_netdev *inner, const char *path, struct weir_netdev **out);

#endif /* WEIR_PCAP_H */
