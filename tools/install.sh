#!/bin/sh
# Installs gameclips like a C library: the shared library under its versioned names, the static library,
# the headers, a pkg-config file and a CMake package config.
#
#   tools/install.sh --prefix DIR [--from LIBDIR] [-- CARGO BUILD FLAGS...]
#
# Without --from it builds the library first (`cargo build --lib --release` plus any flags after --, e.g.
# `-- --no-default-features` for the console form). With --from it installs what LIBDIR already holds.
# Then:
#   DIR/lib/libgameclips.so.1            the library (its SONAME: 1 is CLIPS_ABI_VERSION)
#   DIR/lib/libgameclips.so -> .so.1     what the linker looks for (-lgameclips)
#   DIR/lib/libgameclips.a               the static library
#   DIR/include/gameclips.h, gameclips.hpp
#   DIR/lib/pkgconfig/gameclips.pc       pkg-config --cflags --libs gameclips
#   DIR/lib/cmake/gameclips/             find_package(gameclips): the imported target gameclips::gameclips
# (macOS gets libgameclips.dylib; Windows builds should use the CMake config from a checkout: see README.)
set -eu

prefix=""
from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --from) from="$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "install.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$from" ]; then
    (cd "$root" && cargo build --lib --release -p gameclips-capi "$@")
    from="$root/target/release"
fi
abi=$(sed -n 's/^pub const CLIPS_ABI_VERSION: u32 = \([0-9]*\);/\1/p' "$root/src/ffi/types.rs")
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
lib="$prefix/lib"
mkdir -p "$lib/pkgconfig" "$lib/cmake/gameclips" "$prefix/include"

case "$(uname -s)" in
    Darwin) shared="libgameclips.dylib"; cp "$from/libgameclips.dylib" "$lib/$shared" ;;
    *)
        shared="libgameclips.so.$abi"
        cp "$from/libgameclips.so" "$lib/$shared"
        ln -sf "$shared" "$lib/libgameclips.so"
        ;;
esac
cp "$from/libgameclips.a" "$lib/libgameclips.a"
cp "$root/include/gameclips.h" "$root/include/gameclips.hpp" "$prefix/include/"

cat > "$lib/pkgconfig/gameclips.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: gameclips
Description: Upload gameplay clips to Xbox Live GameClips from game engines
Version: $version
Libs: -L\${libdir} -lgameclips
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC

cat > "$lib/cmake/gameclips/gameclipsConfig.cmake" <<CMAKE
# find_package(gameclips): the imported target gameclips::gameclips. Relocatable: paths are found
# from this file's place in the installed tree (lib/cmake/gameclips).
get_filename_component(_gameclips_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT TARGET gameclips::gameclips)
    add_library(gameclips::gameclips SHARED IMPORTED)
    set_target_properties(gameclips::gameclips PROPERTIES
        IMPORTED_LOCATION "\${_gameclips_prefix}/lib/$shared"
        IMPORTED_SONAME "$shared"
        INTERFACE_INCLUDE_DIRECTORIES "\${_gameclips_prefix}/include")
endif()
if(NOT TARGET gameclips::gameclips_static)
    add_library(gameclips::gameclips_static STATIC IMPORTED)
    set_target_properties(gameclips::gameclips_static PROPERTIES
        IMPORTED_LOCATION "\${_gameclips_prefix}/lib/libgameclips.a"
        INTERFACE_INCLUDE_DIRECTORIES "\${_gameclips_prefix}/include"
        INTERFACE_LINK_LIBRARIES "pthread;dl;m")
endif()
unset(_gameclips_prefix)
CMAKE

cat > "$lib/cmake/gameclips/gameclipsConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
    if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
        set(PACKAGE_VERSION_EXACT TRUE)
    endif()
endif()
CMAKE

echo "installed gameclips $version (ABI $abi) under $prefix"
