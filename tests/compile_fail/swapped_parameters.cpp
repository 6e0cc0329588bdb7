#include "lowbit/lowbit.hpp"
int main() {
#ifdef LOWBIT_SHOULD_FAIL
  lowbit::quantizer<lowbit::int8, lowbit::per_channel, lowbit::symmetric> q;
#else
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q;
#endif
  (void)q;
}
