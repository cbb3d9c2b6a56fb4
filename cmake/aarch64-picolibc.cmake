# aarch64-picolibc.cmake - toolchain for bare-metal AArch64 images (QEMU virt, Cortex-A53):
# Debian's gcc-aarch64-linux-gnu cross compiler with picolibc-aarch64-linux-gnu as the C
# library (--specs=picolibc.specs replaces glibc's headers, start files and libraries). Debian
# ships no aarch64-none-elf toolchain and no newlib for AArch64; picolibc is newlib's
# descendant for embedded targets and is packaged for exactly this compiler.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# No PIE (the image runs where it is linked), no stack protector or outline atomics (both want
# an OS: a guard value, getauxval), no red zone to lose; FP/SIMD is on (startup.S enables it).
set(WEIR_AARCH64_FLAGS "-mcpu=cortex-a53 --specs=picolibc.specs -fno-pie -fno-stack-protector -mno-outline-atomics")
set(CMAKE_C_FLAGS_INIT "${WEIR_AARCH64_FLAGS} -ffreestanding -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "-mcpu=cortex-a53")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-no-pie")
set(CMAKE_C_FLAGS_MINSIZEREL_INIT "-Os -DNDEBUG")
set(CMAKE_C_FLAGS_RELEASE_INIT "-O2 -DNDEBUG")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
