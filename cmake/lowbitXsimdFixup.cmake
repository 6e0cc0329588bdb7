# Debian 12's xsimd 8.1 package exports its target with a link to "xtl" (xsimd's optional xtl
# complex-number support) but does not depend on xtl, so anything linking the target fails with
# "cannot find -lxtl". lowbit does not use that support: when no xtl target exists, drop the link.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_lowbit_xsimd_libs xsimd INTERFACE_LINK_LIBRARIES)
  if(_lowbit_xsimd_libs)
    list(REMOVE_ITEM _lowbit_xsimd_libs xtl)
    set_target_properties(xsimd PROPERTIES INTERFACE_LINK_LIBRARIES "${_lowbit_xsimd_libs}")
  endif()
  unset(_lowbit_xsimd_libs)
endif()
