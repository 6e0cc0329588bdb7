#!/usr/bin/env bash
# The README's quick start on Debian 12 (root, or a user with sudo):
#   bash cmake/quickstart.sh demo   installs what is missing, builds in Release, runs the main demo
#                                   (Fashion-MNIST: train, quantize every way, print the table)
#   bash cmake/quickstart.sh test   installs what is missing, builds (Release + assertions) and runs
#                                   the whole test suite
#   bash cmake/quickstart.sh install  installs Eigen, xsimd and the build tools if missing, then
#                                   installs lowbit's headers and CMake package under $PREFIX
#                                   (default /usr/local)
# LOWBIT_PRESET overrides the configure preset of the test command (.ci/run uses "ci", which adds
# warnings as errors, leaves the fuzz seed replays to CI's fuzz stage and builds the examples at -O0).
set -euo pipefail
mode=${1:-demo}
cd "$(dirname "$0")/.."

common="g++ cmake ninja-build libeigen3-dev libxsimd-dev zlib1g-dev dataset-fashion-mnist"
case "$mode" in
  demo) packages="$common libopenblas-dev" ;;  # OpenBLAS: the demo's fp32 baseline
  test) packages="$common libgtest-dev libbenchmark-dev libsimde-dev" ;;
  install) packages="g++ cmake ninja-build libeigen3-dev libxsimd-dev" ;;
  *) echo "usage: bash cmake/quickstart.sh demo|test|install" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "quickstart: installing Debian packages:$missing"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
case "$mode" in
  demo)
    cmake --preset release >/dev/null
    cmake --build --preset release --target fashion_mnist
    ./build/release/examples/fashion_mnist
    ;;
  test)
    preset=${LOWBIT_PRESET:-dev}
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    ctest --preset "$preset" -j "$jobs"
    ;;
  install)
    prefix=${PREFIX:-/usr/local}
    cmake -S . -B build/install -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
      -DLOWBIT_BUILD_TESTS=OFF -DLOWBIT_BUILD_BENCHMARKS=OFF -DLOWBIT_BUILD_EXAMPLES=ON -DLOWBIT_INSTALL=ON >/dev/null
    cmake --build build/install --target lowbit-quantize  # the command-line quantizer, installed beside the headers
    sudo=""
    [ -w "$prefix" ] || [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo cmake --install build/install
    echo "quickstart: lowbit installed under $prefix (find_package(lowbit) finds it; $prefix/bin/lowbit-quantize)"
    ;;
esac
