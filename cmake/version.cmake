# Writes herohealthConfigVersion.cmake with CMake's own
# write_basic_package_version_file, so find_package's version rules are
# CMake's. Run by `make install`:
#   cmake -DVERSION=0.1.0 -DCOMPATIBILITY=SameMinorVersion -DPOINTER_BYTES=8 \
#         -DOUT=file -P cmake/version.cmake
# POINTER_BYTES is the library's pointer size: a 32-bit project then does
# not pick up a 64-bit library (script mode knows no CMAKE_SIZEOF_VOID_P).
cmake_minimum_required(VERSION 3.11)
include(CMakePackageConfigHelpers)
foreach(var VERSION COMPATIBILITY POINTER_BYTES OUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "version.cmake: -D${var}=... is required")
  endif()
endforeach()
set(CMAKE_SIZEOF_VOID_P "${POINTER_BYTES}")
write_basic_package_version_file("${OUT}" VERSION "${VERSION}" COMPATIBILITY "${COMPATIBILITY}")
