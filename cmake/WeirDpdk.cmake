# WeirDpdk.cmake - the DPDK driver (drivers/dpdk): built into weir_drivers when CONFIG_WEIR_DRIVER_DPDK
# is set and pkg-config finds libdpdk (Debian: libdpdk-dev); otherwise weir builds without it.
#
# Debian's DPDK is a shared build: the EAL loads every PMD installed under
# <libdir>/dpdk/pmds-<ABI>/ (RTE_EAL_PMD_PATH) at rte_eal_init, so net_tap, net_memif, net_ring
# and the PCI drivers need no link-time dependency, only their librte-net-* package.
set(_dpdk_usage "dpdk:EAL ARGS[,port=N][,KEY=VALUE]...")
if(NOT CONFIG_WEIR_DRIVER_DPDK)
  message(STATUS "weir: DPDK driver off (CONFIG_WEIR_DRIVER_DPDK is not set)")
  list(APPEND WEIR_NETDEV_DRIVERS_MISSING
       "dpdk|${_dpdk_usage}|the DPDK driver is not built in (CONFIG_WEIR_DRIVER_DPDK is off)")
  return()
endif()
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(DPDK QUIET IMPORTED_TARGET libdpdk)
endif()
if(NOT DPDK_FOUND)
  message(STATUS "weir: DPDK driver not built: pkg-config cannot find libdpdk "
                 "(apt-get install libdpdk-dev)")
  list(APPEND WEIR_NETDEV_DRIVERS_MISSING
       "dpdk|${_dpdk_usage}|the DPDK driver is not built in (no libdpdk-dev when weir was built)")
  return()
endif()
message(STATUS "weir: DPDK driver on (libdpdk ${DPDK_VERSION})")
set(WEIR_HAVE_DPDK ON)
target_sources(weir_drivers PRIVATE drivers/dpdk/dpdk.c)
list(APPEND WEIR_NETDEV_DRIVERS dpdk)
# DPDK's headers are not warning-clean under our flags: its include directories are system
# headers. libdpdk's cflags also carry -march=corei7 and -include rte_config.h: they apply to
# dpdk.c only, not to the rest of weir, and never reach weir's users (weir's public headers need
# nothing of DPDK's).
set_source_files_properties(drivers/dpdk/dpdk.c PROPERTIES
  COMPILE_OPTIONS "${DPDK_CFLAGS_OTHER}")
target_include_directories(weir_drivers SYSTEM PRIVATE ${DPDK_INCLUDE_DIRS})
# Only the libraries dpdk.c calls are needed (eal, ethdev, mbuf, mempool); libdpdk's link line
# starts with --as-needed, so the rest are dropped. The same flags go into weir.pc and the CMake
# package: weir's libraries are static, so a program linking weir links DPDK too.
target_link_libraries(weir_drivers PRIVATE ${DPDK_LDFLAGS})
string(REPLACE ";" " " _dpdk_libs "${DPDK_LDFLAGS}")
list(APPEND WEIR_PKG_LIBS "${_dpdk_libs}")
