/* board_virt_aarch64.h - QEMU's aarch64 `virt` machine (-M virt,gic-version=2 -cpu cortex-a53):
 * where its devices are and what its interrupt lines are. */
#ifndef WEIR_BOARD_VIRT_AARCH64_H
#define WEIR_BOARD_VIRT_AARCH64_H

/* 32 virtio-mmio transports, 0x200 bytes apart; transport n raises SPI 16 + n, which is GIC
 * interrupt 48 + n (the number weir_board_irq_attach takes). QEMU fills them from the top: the
 * first -device virtio-...-device on its command line gets transport 31. */
#define WEIR_VIRT_VIRTIO_BASE	0x0a000000u
#define WEIR_VIRT_VIRTIO_STRIDE 0x200u
#define WEIR_VIRT_VIRTIO_COUNT	32u
#define WEIR_VIRT_VIRTIO_IRQ(n) (48u + (n))

/* Where a runner may place 32 bytes of seed for the entropy pool before boot (QEMU:
 * -device loader,file=SEED,addr=0x401ff000,force-raw=on), just below the image; left all zero,
 * the boot-time timer jitter and virtio-rng (when the image finds one) seed the pool. */
#define WEIR_VIRT_SEED_ADDR 0x401ff000u
#define WEIR_VIRT_SEED_LEN  32u

#endif /* WEIR_BOARD_VIRT_AARCH64_H */
