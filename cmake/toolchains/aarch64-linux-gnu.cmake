# Cross build for AArch64 with Debian's g++-aarch64-linux-gnu; tests run under qemu-aarch64
# (Debian's qemu-user). Header-only dependencies come from the build machine: Eigen through its
# CMake package, xsimd through a staging directory that holds only xsimd's headers (its CMake
# package would add the build machine's /usr/include), GoogleTest from its sources.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/usr/aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(_lowbit_stage ${CMAKE_BINARY_DIR}/cross-include)
if(NOT EXISTS ${_lowbit_stage}/xsimd)
  file(MAKE_DIRECTORY ${_lowbit_stage})
  file(CREATE_LINK /usr/include/xsimd ${_lowbit_stage}/xsimd SYMBOLIC)
endif()
set(LOWBIT_XSIMD_INCLUDE_DIR ${_lowbit_stage} CACHE PATH "xsimd headers for the cross build")
set(Eigen3_DIR /usr/share/eigen3/cmake CACHE PATH "Eigen's CMake package (headers only)")
set(LOWBIT_GTEST_SOURCE_DIR /usr/src/googletest CACHE PATH "GoogleTest sources for the cross build")
