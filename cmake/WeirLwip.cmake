# WeirLwip.cmake - build lwIP's core, IPv4 and Ethernet/ARP as a static library with our options.
#
# The source is WEIR_LWIP_DIR (fetched and verified by tools/fetch-lwip.sh, or a user's own 2.1.x
# tree). If stack/patches/ holds patch files, the tree is copied into the build directory and the
# patches are applied there in name order; the source tree itself is never modified.
if(NOT EXISTS "${WEIR_LWIP_DIR}/src/core/tcp.c")
  message(FATAL_ERROR "weir: no lwIP tree at ${WEIR_LWIP_DIR}. Run tools/fetch-lwip.sh "
                      "(or tools/setup.sh), or pass -DWEIR_LWIP_DIR=/path/to/lwip-2.1.x")
endif()
file(STRINGS "${WEIR_LWIP_DIR}/src/include/lwip/init.h" _lwip_ver
     REGEX "#define LWIP_VERSION_(MAJOR|MINOR) ")
string(REGEX MATCHALL "[0-9]+" _lwip_ver_nums "${_lwip_ver}")
list(GET _lwip_ver_nums 0 _lwip_major)
list(GET _lwip_ver_nums 1 _lwip_minor)
if(NOT (_lwip_major EQUAL 2 AND _lwip_minor EQUAL 1))
  message(FATAL_ERROR "weir: ${WEIR_LWIP_DIR} is lwIP ${_lwip_major}.${_lwip_minor}; weir needs 2.1.x")
endif()

file(GLOB WEIR_LWIP_PATCHES "${CMAKE_SOURCE_DIR}/stack/patches/*.patch")
list(SORT WEIR_LWIP_PATCHES)
set(WEIR_LWIP_SRC "${WEIR_LWIP_DIR}")
if(WEIR_LWIP_PATCHES)
  set(WEIR_LWIP_SRC "${CMAKE_BINARY_DIR}/lwip-patched")
  string(SHA256 _stamp "${WEIR_LWIP_DIR};${WEIR_LWIP_PATCHES}")
  foreach(p IN LISTS WEIR_LWIP_PATCHES)
    file(SHA256 "${p}" _h)
    string(SHA256 _stamp "${_stamp}${_h}")
  endforeach()
  if(NOT EXISTS "${WEIR_LWIP_SRC}/.stamp-${_stamp}")
    file(REMOVE_RECURSE "${WEIR_LWIP_SRC}")
    file(COPY "${WEIR_LWIP_DIR}/src" DESTINATION "${WEIR_LWIP_SRC}")
    foreach(p IN LISTS WEIR_LWIP_PATCHES)
      execute_process(COMMAND patch -p1 --forward --batch -i "${p}"
                      WORKING_DIRECTORY "${WEIR_LWIP_SRC}" RESULT_VARIABLE rc OUTPUT_VARIABLE o
                      ERROR_VARIABLE o)
      if(NOT rc EQUAL 0)
        message(FATAL_ERROR "weir: patch ${p} does not apply to ${WEIR_LWIP_DIR}:\n${o}")
      endif()
      message(STATUS "weir: applied ${p}")
    endforeach()
    file(WRITE "${WEIR_LWIP_SRC}/.stamp-${_stamp}" "")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${WEIR_LWIP_PATCHES})
endif()

set(LWIP_DIR "${WEIR_LWIP_SRC}")
set(_l "${LWIP_DIR}/src")
set(WEIR_LWIP_SOURCES
  ${_l}/core/init.c ${_l}/core/def.c ${_l}/core/dns.c ${_l}/core/inet_chksum.c ${_l}/core/ip.c
  ${_l}/core/mem.c ${_l}/core/memp.c ${_l}/core/netif.c ${_l}/core/pbuf.c ${_l}/core/raw.c
  ${_l}/core/stats.c ${_l}/core/sys.c ${_l}/core/tcp.c ${_l}/core/tcp_in.c ${_l}/core/tcp_out.c
  ${_l}/core/timeouts.c ${_l}/core/udp.c
  ${_l}/core/ipv4/dhcp.c ${_l}/core/ipv4/etharp.c ${_l}/core/ipv4/icmp.c ${_l}/core/ipv4/ip4.c
  ${_l}/core/ipv4/ip4_addr.c ${_l}/core/ipv4/ip4_frag.c
  ${_l}/netif/ethernet.c)
# The NO_SYS port (sys_now, LWIP_RAND, the ISN and SYN-cookie hooks, the core-lock check): stack
# code, built into lwIP's library so that lwIP links on its own.
set(WEIR_LWIP_PORT_SOURCES ${CMAKE_SOURCE_DIR}/stack/port/port.c
                           ${CMAKE_SOURCE_DIR}/stack/port/syncookie.c
                           ${CMAKE_SOURCE_DIR}/stack/port/mem.c)

# What code built on lwIP compiles against: lwipopts.h, lwIP's headers, the port's (arch/cc.h,
# the hooks) and the stack's interface for the flow layer (weir_stack_lwip.h). Only the stack,
# the flow layer and lwIP itself link it.
add_library(weir_lwip_api INTERFACE)
# Build tree only: nothing of lwIP is installed (weir's public headers need none of it).
target_include_directories(weir_lwip_api INTERFACE
  $<BUILD_INTERFACE:${WEIR_GEN_DIR}/lwipopts> $<BUILD_INTERFACE:${_l}/include>
  $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/stack/port/include>)
target_link_libraries(weir_lwip_api INTERFACE weir_platform) # arch/cc.h uses <weir/csum.h>

add_library(weir_lwip STATIC ${WEIR_LWIP_SOURCES} ${WEIR_LWIP_PORT_SOURCES})
target_link_libraries(weir_lwip PRIVATE weir_lwip_api PUBLIC weir_platform)
target_include_directories(weir_lwip PRIVATE "${CMAKE_SOURCE_DIR}/stack/priv")
# lwIP is not our code: no -Werror, and quiet about its style. It is sanitized like ours: the
# timestamp-option shift that UBSan reported is fixed by stack/patches/0002. The port is ours.
set_source_files_properties(${WEIR_LWIP_SOURCES} PROPERTIES COMPILE_OPTIONS -w)
set_source_files_properties(${WEIR_LWIP_PORT_SOURCES} PROPERTIES COMPILE_OPTIONS
                            "${WEIR_WARNINGS}")
