# WeirInstall.cmake - `cmake --install`: weir's static libraries and lwIP's, the public headers and
# the generated weir/config.h, weir.pc for pkg-config, and a CMake package (find_package(weir
# CONFIG) gives weir::weir). weir's public headers include nothing of lwIP's, DPDK's or libpcap's,
# so none of those is installed; their link flags travel with the libraries (static: a program
# linking weir links them too).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WEIR_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/weir")
set(_weir_libs weir_flow weir_stack weir_lwip weir_drivers weir_platform)

install(TARGETS ${_weir_libs} weir weir_lwip_api EXPORT weirTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
file(GLOB _weir_public_headers
     "${CMAKE_SOURCE_DIR}/platform/include/weir/*.h" "${CMAKE_SOURCE_DIR}/drivers/include/weir/*.h"
     "${CMAKE_SOURCE_DIR}/stack/include/weir/*.h" "${CMAKE_SOURCE_DIR}/flow/include/weir/*.h")
install(FILES ${_weir_public_headers} "${WEIR_GEN_DIR}/weir/config.h"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/weir")

install(EXPORT weirTargets NAMESPACE weir:: DESTINATION "${WEIR_INSTALL_CMAKEDIR}")
configure_package_config_file("${CMAKE_SOURCE_DIR}/cmake/weirConfig.cmake.in"
                              "${CMAKE_BINARY_DIR}/weirConfig.cmake"
                              INSTALL_DESTINATION "${WEIR_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${CMAKE_BINARY_DIR}/weirConfigVersion.cmake"
                                 VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/weirConfig.cmake" "${CMAKE_BINARY_DIR}/weirConfigVersion.cmake"
        DESTINATION "${WEIR_INSTALL_CMAKEDIR}")

# weir.pc, relocatable: the prefix is found from the file's own place (pkg-config's ${pcfiledir}),
# so an install moved or made with `cmake --install --prefix DIR` works.
file(RELATIVE_PATH WEIR_PC_TO_PREFIX "/weir-prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/weir-prefix")
string(REGEX REPLACE "/$" "" WEIR_PC_TO_PREFIX "${WEIR_PC_TO_PREFIX}")
set(_libs "")
foreach(l IN LISTS _weir_libs)
  string(REGEX REPLACE "^weir_" "-lweir_" _l "${l}")
  string(APPEND _libs " ${_l}")
endforeach()
string(STRIP "${_libs}" WEIR_PC_LIBS)
string(REPLACE ";" " " WEIR_PC_REQUIRES "${WEIR_PKG_REQUIRES}")
string(REPLACE ";" " " WEIR_PC_EXTRA_LIBS "${WEIR_PKG_LIBS}")
configure_file("${CMAKE_SOURCE_DIR}/cmake/weir.pc.in" "${CMAKE_BINARY_DIR}/weir.pc" @ONLY)
install(FILES "${CMAKE_BINARY_DIR}/weir.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
