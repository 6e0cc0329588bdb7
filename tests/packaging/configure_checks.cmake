# Configure checks for optional dependencies (issue 13): each configures lowbit in a scratch
# directory as a user would and checks that it succeeds and says what it skipped.
#
#   cmake -DSOURCE=<lowbit> -DSCRATCH=<dir> -DCHECK=<name> "-DCOMMON=<configure args>" -P configure_checks.cmake
#
#   plain_install      a top-level build with neither GoogleTest nor Google Benchmark (hidden with
#                      CMAKE_DISABLE_FIND_PACKAGE_*), default options: configure and install work,
#                      tests and benchmarks are skipped with a message
#   half_installed_onednn  benchmarks on, OpenCL hidden: Debian's oneDNN config would fail the
#                      configure; lowbit skips oneDNN with a message
#   no_peers           benchmarks on, oneDNN and OpenBLAS hidden
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH})

function(configure expect)
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${SCRATCH}/build ${COMMON} ${ARGN}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "configure failed (${rc}) with ${ARGN}:\n${out}\n${err}")
  endif()
  if(NOT "${out}${err}" MATCHES "${expect}")
    message(FATAL_ERROR "configure did not say '${expect}':\n${out}\n${err}")
  endif()
  set(configure_output "${out}" PARENT_SCOPE)
endfunction()

if(CHECK STREQUAL "plain_install")
  configure("GoogleTest \\(libgtest-dev\\) not found: LOWBIT_BUILD_TESTS is OFF"
            -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON
            -DCMAKE_INSTALL_PREFIX=${SCRATCH}/prefix)
  if(NOT configure_output MATCHES "Google Benchmark \\(libbenchmark-dev\\) not found")
    message(FATAL_ERROR "benchmarks were not skipped:\n${configure_output}")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} --install ${SCRATCH}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT EXISTS ${SCRATCH}/prefix/include/lowbit/lowbit.hpp)
    message(FATAL_ERROR "install failed (${rc}):\n${out}\n${err}")
  endif()
  # Asked for explicitly, a missing dependency is an error.
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE} -B ${SCRATCH}/explicit ${COMMON}
                  -DLOWBIT_BUILD_TESTS=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "LOWBIT_BUILD_TESTS=ON needs GoogleTest")
    message(FATAL_ERROR "LOWBIT_BUILD_TESTS=ON without GoogleTest must fail with a message:\n${err}")
  endif()
elseif(CHECK STREQUAL "half_installed_onednn")
  configure("(needs OpenCL, which is missing|oneDNN not found)"
            -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=OFF -DLOWBIT_BUILD_BENCHMARKS=ON
            -DCMAKE_DISABLE_FIND_PACKAGE_OpenCL=ON)
elseif(CHECK STREQUAL "no_peers")
  # find_path / find_library confined to an empty root: no peer header or library is visible
  # (Eigen, xsimd and Google Benchmark come through their CMake packages, which are not).
  configure("oneDNN not found"
            -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_EXAMPLES=OFF -DLOWBIT_BUILD_BENCHMARKS=ON
            -DCMAKE_FIND_ROOT_PATH=${SCRATCH}/nowhere -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY
            -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY)
  if(configure_output MATCHES "comparing with")
    message(FATAL_ERROR "a peer was found although none is visible:\n${configure_output}")
  endif()
else()
  message(FATAL_ERROR "unknown CHECK ${CHECK}")
endif()
message(STATUS "configure check ${CHECK}: passed")
