# WeftInstall.cmake -- how libweft is installed and found again by other projects.
#
# Included by the top-level CMakeLists.txt after the targets `weft` (shared) and `weft_static`
# (static, OUTPUT_NAME weft) exist.  Installs, under the install prefix:
#   lib/libweft.so*, lib/libweft.a               the library, both flavours
#   include/weft/weft.h                          the whole public API (nothing else is API)
#   lib/pkgconfig/weft.pc                        for `pkg-config --cflags --libs weft`
#   lib/cmake/weft/weft-config*.cmake            for `find_package(weft CONFIG)`, giving the
#   lib/cmake/weft/weft-targets*.cmake           imported targets weft::weft and weft::weft_static
#
# Invariants: both files are relocatable (the CMake package computes its prefix from its own
# location, weft.pc from ${pcfiledir}), so `cmake --install build --prefix DIR` works for any DIR
# chosen at install time, and a tarball of the prefix can be unpacked anywhere.  The private
# dependencies (libczmq libzmq lmdb msgpack, all found through pkg-config) are named once, in
# WEFT_PC_REQUIRES below, and reach both the .pc file and the CMake package from there.

include(CMakePackageConfigHelpers)

set(WEFT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
set(WEFT_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# pkg-config module names and the prefixes the top-level CMakeLists gave them in
# pkg_check_modules(<prefix> IMPORTED_TARGET <module>): the static target's link interface
# names PkgConfig::<prefix>, so weft-config.cmake must recreate exactly these targets.
set(WEFT_PC_REQUIRES "libczmq libzmq lmdb msgpack")
set(WEFT_PC_DEPS "CZMQ=libczmq;ZMQ=libzmq;LMDB=lmdb;MSGPACK=msgpack")

# In-tree users get the same names as installed ones.
if(NOT TARGET weft::weft_static)
  add_library(weft::weft_static ALIAS weft_static)
endif()

# ---- the libraries and the header ----
install(TARGETS weft weft_static
        EXPORT weft-targets
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/weft/weft.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weft)

# ---- pkg-config ----
# ${pcfiledir} is where pkg-config found weft.pc; the prefix is a fixed number of levels above
# it, whatever --prefix the install was given.
file(RELATIVE_PATH WEFT_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" WEFT_PC_UP "${WEFT_PC_UP}")
if(WEFT_PC_UP STREQUAL "")
  set(WEFT_PC_PREFIX "\${pcfiledir}")
else()
  set(WEFT_PC_PREFIX "\${pcfiledir}/${WEFT_PC_UP}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/weft.pc.in ${PROJECT_BINARY_DIR}/weft.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/weft.pc DESTINATION ${WEFT_PKGCONFIG_DIR})

# ---- CMake package ----
install(EXPORT weft-targets
        NAMESPACE weft::
        FILE weft-targets.cmake
        DESTINATION ${WEFT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/weft-config.cmake.in
                              ${PROJECT_BINARY_DIR}/weft-config.cmake
                              INSTALL_DESTINATION ${WEFT_CMAKE_DIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# 0.x: SemVer lets any minor release break the API, so only the same major.minor is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/weft-config-version.cmake
                                 VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weft-config.cmake ${PROJECT_BINARY_DIR}/weft-config-version.cmake
        DESTINATION ${WEFT_CMAKE_DIR})
