# board.cmake - MPS2 AN386 (QEMU mps2-an386, Cortex-M4): the board's sources go into weir_platform
# and weir_baremetal_rt; weir_board_image(TARGET) links an image with the board's memory map.
target_sources(weir_platform PRIVATE "${CMAKE_CURRENT_LIST_DIR}/board.c")
target_include_directories(weir_platform PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>)
target_sources(weir_baremetal_rt PRIVATE "${CMAKE_CURRENT_LIST_DIR}/startup.c")
set(WEIR_BOARD_LDSCRIPT "${CMAKE_CURRENT_LIST_DIR}/mps2-an386.ld")
set(WEIR_BOARD_QEMU_MACHINE mps2-an386)
set(WEIR_BOARD_TOOL_PREFIX arm-none-eabi-)
set(WEIR_BOARD_LIBC_SPECS nano.specs)
set(WEIR_BOARD_NIC lan9118)
set(WEIR_BOARD_TITLE "MPS2 AN386 (Cortex-M4)")
set(WEIR_BOARD_RAM_BASE 0x20000000)
