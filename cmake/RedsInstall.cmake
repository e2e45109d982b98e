# reds_install_library(<target> <name>): installs one library of ours as reds::<name> of the CMake package
# (export set redsTargets), with the public headers of the calling folder's include/. The target's own
# include directories must name its source tree through $<BUILD_INTERFACE:...> only: the installed target
# finds its headers under the prefix's include directory.
function(reds_install_library target name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS ${target} EXPORT redsTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h")
endfunction()
