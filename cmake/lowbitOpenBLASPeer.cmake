# OpenBLAS as an optional float comparator for the benchmarks and examples (never for the library).
# When Debian's libopenblas-dev (or another OpenBLAS with cblas.h) is found, defines the interface
# target lowbit_openblas_peer: its headers, the library and LOWBIT_PEER_OPENBLAS=1.
if(TARGET lowbit_openblas_peer)
  return()
endif()
find_path(LOWBIT_OPENBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas-pthread openblas
  PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
find_library(LOWBIT_OPENBLAS_LIBRARY openblas)
if(LOWBIT_OPENBLAS_INCLUDE_DIR AND LOWBIT_OPENBLAS_LIBRARY)
  add_library(lowbit_openblas_peer INTERFACE)
  target_include_directories(lowbit_openblas_peer SYSTEM INTERFACE ${LOWBIT_OPENBLAS_INCLUDE_DIR})
  target_link_libraries(lowbit_openblas_peer INTERFACE ${LOWBIT_OPENBLAS_LIBRARY})
  target_compile_definitions(lowbit_openblas_peer INTERFACE LOWBIT_PEER_OPENBLAS=1)
  message(STATUS "lowbit: comparing with OpenBLAS (${LOWBIT_OPENBLAS_LIBRARY})")
endif()
