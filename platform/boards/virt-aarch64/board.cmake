# board.cmake - QEMU's aarch64 virt machine (Cortex-A53, GICv2, PL011, virtio-mmio): the board's
# sources go into weir_platform and weir_baremetal_rt; the image links with its memory map.
target_sources(weir_platform PRIVATE "${CMAKE_CURRENT_LIST_DIR}/board.c")
target_include_directories(weir_platform PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>)
target_sources(weir_baremetal_rt PRIVATE "${CMAKE_CURRENT_LIST_DIR}/startup.S")
set(WEIR_BOARD_LDSCRIPT "${CMAKE_CURRENT_LIST_DIR}/virt-aarch64.ld")
set(WEIR_BOARD_QEMU_MACHINE virt)
set(WEIR_BOARD_TOOL_PREFIX aarch64-linux-gnu-)
set(WEIR_BOARD_LIBC_SPECS picolibc.specs)
set(WEIR_BOARD_NIC virtio)
set(WEIR_BOARD_TITLE "QEMU virt (Cortex-A53)")
set(WEIR_BOARD_RAM_BASE 0x40200000)
