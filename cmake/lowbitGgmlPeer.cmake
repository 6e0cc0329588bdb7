# ggml (the tensor library under llama.cpp) as an optional peer, never for the library: the test
# lowbit_ggml_interop_tests (ggml's GGUF reader and block code against lowbit's files and blocks)
# and llama.cpp's Q4_0 x Q8_0 dot product beside lowbit's int4 kernels in bench_lowbit_gemm.
# Looked for only when LOWBIT_GGML_DIR names a ggml install prefix (Debian 12 packages no ggml):
#
#   git clone https://github.com/ggml-org/ggml && cd ggml
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF
#   cmake --build build && cmake --install build --prefix /opt/ggml
#   cmake --preset dev -DLOWBIT_GGML_DIR=/opt/ggml
#
# Defines the interface target lowbit_ggml_peer (ggml::ggml and LOWBIT_WITH_GGML=1).
if(TARGET lowbit_ggml_peer)
  return()
endif()
set(LOWBIT_GGML_DIR "" CACHE PATH "Install prefix of ggml, an optional test and benchmark peer (empty: none)")
if(NOT LOWBIT_GGML_DIR)
  return()
endif()
find_package(ggml CONFIG QUIET PATHS ${LOWBIT_GGML_DIR} NO_DEFAULT_PATH)
if(NOT ggml_FOUND)
  message(STATUS "lowbit: no ggml CMake package under LOWBIT_GGML_DIR=${LOWBIT_GGML_DIR}: the ggml peer is skipped")
  return()
endif()
add_library(lowbit_ggml_peer INTERFACE)
target_link_libraries(lowbit_ggml_peer INTERFACE ggml::ggml)
target_compile_definitions(lowbit_ggml_peer INTERFACE LOWBIT_WITH_GGML=1)
message(STATUS "lowbit: comparing with ggml ${ggml_VERSION} from ${LOWBIT_GGML_DIR}")
