/* board_mps2_an386.h - Arm's MPS2 board with the AN386 FPGA image (Cortex-M4), as QEMU's
 * mps2-an386 machine models it: where its devices are and what its interrupt lines are. */
#ifndef WEIR_BOARD_MPS2_AN386_H
#define WEIR_BOARD_MPS2_AN386_H

/* The SMSC LAN9118 (LAN9220 on the real board) and its interrupt line. */
#define WEIR_MPS2_ETH_BASE 0x40200000u
#define WEIR_MPS2_ETH_IRQ  13u

/* Where a runner may place 32 bytes of seed for weir_entropy_fill before boot (QEMU:
 * -device loader,file=SEED,addr=0x203ff000); left all zero, only boot-time timer jitter seeds
 * the generator (docs/porting.md says what that is worth). */
#define WEIR_MPS2_SEED_ADDR 0x203ff000u
#define WEIR_MPS2_SEED_LEN  32u

#endif /* WEIR_BOARD_MPS2_AN386_H */
