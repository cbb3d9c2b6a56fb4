/* nic.h - the board's NIC as the image uses it: one file per kind (nic_lan9118.c,
 * nic_virtio.c), the board's build picks which (WEIR_BOARD_NIC in its board.cmake). */
#ifndef WEIR_IMAGE_NIC_H
#define WEIR_IMAGE_NIC_H

#include <stddef.h>

#include <weir/netdev.h>

/* Finds and opens the board's NIC, routes its interrupt and prints on the console what it found
 * (and, where the device negotiates them, its offloads). Returns 0 and sets *out, or a WEIR_E*
 * error after printing why. */
int weir_image_nic_open(struct weir_netdev **out);

/* Appends the driver's own counters to a stats line (" frames_held 0/8 link 1 ..."): receive
 * buffers the stack holds of all there are, then whatever else the driver counts. Returns what
 * snprintf returns. */
int weir_image_nic_stats(const struct weir_netdev *nic, char *buf, size_t len);

#endif /* WEIR_IMAGE_NIC_H */
