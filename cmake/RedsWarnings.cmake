# reds_set_warnings(<target>): the warning flags of our own code. They are PRIVATE compile options of each
# target, never a link dependency, so an installed library carries nothing of how it was built.
# REDS_WARNINGS_AS_ERRORS adds -Werror (scripts/test turns it on).
function(reds_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                                           -Wno-sign-conversion)
  if(REDS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # GCC 12 reports -Wrestrict on ordinary string concatenation ("x" + std::to_string(i)) after inlining
  # (GCC bug 105651, fixed in GCC 13): a false positive in libstdc++'s code, not ours.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
endfunction()
