#include <cstdint>

#include "lowbit/lowbit.hpp"
int main() {
#ifdef LOWBIT_SHOULD_FAIL
  lowbit::quantizer<std::int8_t> q;
#else
  lowbit::quantizer<lowbit::int8> q;
#endif
  (void)q;
}
