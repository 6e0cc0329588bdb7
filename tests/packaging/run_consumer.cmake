# cmake -DSOURCE=<lowbit> -DCONSUMER=<dir> -DSCRATCH=<dir> -DMODE=find_package|add_subdirectory
#       -DCOMMON=<configure args> -P run_consumer.cmake
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

if(MODE STREQUAL "find_package")
  # Install lowbit alone (no tests, examples or benchmarks) into a temporary prefix.
  run(${CMAKE_COMMAND} -S ${SOURCE} -B ${SCRATCH}/lowbit-build ${COMMON}
      -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_BENCHMARKS=OFF -DLOWBIT_BUILD_EXAMPLES=OFF
      -DLOWBIT_INSTALL=ON -DCMAKE_INSTALL_PREFIX=${SCRATCH}/prefix)
  run(${CMAKE_COMMAND} --build ${SCRATCH}/lowbit-build)
  run(${CMAKE_COMMAND} --install ${SCRATCH}/lowbit-build)
  if(NOT EXISTS ${SCRATCH}/prefix/share/cmake/lowbit/lowbitConfigVersion.cmake)
    message(FATAL_ERROR "install did not write lowbitConfigVersion.cmake")
  endif()
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build ${COMMON}
      -DCONSUMER_MODE=find_package -Dlowbit_DIR=${SCRATCH}/prefix/share/cmake/lowbit)
else()
  run(${CMAKE_COMMAND} -S ${CONSUMER} -B ${SCRATCH}/consumer-build ${COMMON}
      -DCONSUMER_MODE=add_subdirectory -DLOWBIT_SOURCE_DIR=${SOURCE})
endif()
run(${CMAKE_COMMAND} --build ${SCRATCH}/consumer-build)
run(${SCRATCH}/consumer-build/consumer)
message(STATUS "consumer built through ${MODE} and ran")
