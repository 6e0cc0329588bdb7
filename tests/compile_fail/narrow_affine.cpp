#include "lowbit/lowbit.hpp"
int main() {
#ifdef LOWBIT_SHOULD_FAIL
  lowbit::quantizer<lowbit::int8_narrow, lowbit::affine> q;
#else
  lowbit::quantizer<lowbit::int8_narrow, lowbit::symmetric> q;
#endif
  (void)q;
}
