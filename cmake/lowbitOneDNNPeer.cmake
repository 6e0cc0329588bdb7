# oneDNN as an optional comparator for bench_gemm (never for the library). Defines the interface
# target lowbit_onednn_peer (DNNL::dnnl and LOWBIT_BENCH_ONEDNN=1) when a usable oneDNN is found
# (dnnl_DIR points at another install).
#
# Debian's libdnnl-dev is built with the OpenCL GPU runtime, and its CMake config stops the whole
# configure with an error when OpenCL's headers or loader (ocl-icd-opencl-dev, opencl-headers) are
# missing. The config file is read first: a oneDNN whose OpenCL dependency cannot be met is
# skipped with a message instead.
if(TARGET lowbit_onednn_peer)
  return()
endif()
find_path(LOWBIT_DNNL_CONFIG_DIR dnnl-config.cmake
  HINTS ${dnnl_DIR}
  PATH_SUFFIXES lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/dnnl lib/cmake/dnnl lib64/cmake/dnnl cmake/dnnl)
if(NOT LOWBIT_DNNL_CONFIG_DIR)
  message(STATUS "lowbit: oneDNN not found (libdnnl-dev): bench_gemm runs without it")
  return()
endif()
file(READ ${LOWBIT_DNNL_CONFIG_DIR}/dnnl-config.cmake lowbit_dnnl_config)
if(lowbit_dnnl_config MATCHES "DNNL_GPU_RUNTIME \"OCL\"")
  find_package(OpenCL QUIET)
  if(NOT OpenCL_FOUND)
    message(STATUS "lowbit: oneDNN at ${LOWBIT_DNNL_CONFIG_DIR} needs OpenCL, which is missing "
                   "(ocl-icd-opencl-dev, opencl-headers): bench_gemm runs without oneDNN")
    return()
  endif()
endif()
find_package(dnnl QUIET CONFIG HINTS ${LOWBIT_DNNL_CONFIG_DIR})
if(NOT dnnl_FOUND)
  message(STATUS "lowbit: oneDNN's CMake package at ${LOWBIT_DNNL_CONFIG_DIR} did not load: bench_gemm runs without it")
  return()
endif()
add_library(lowbit_onednn_peer INTERFACE)
target_link_libraries(lowbit_onednn_peer INTERFACE DNNL::dnnl)
target_compile_definitions(lowbit_onednn_peer INTERFACE LOWBIT_BENCH_ONEDNN=1)
message(STATUS "lowbit: comparing with oneDNN ${dnnl_VERSION}")
