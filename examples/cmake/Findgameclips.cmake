# Findgameclips.cmake: defines the imported target gameclips::gameclips (the shared library and its
# header). Copy this file into a project's CMake module path, or point GAMECLIPS_ROOT at a checkout.
#
#   GAMECLIPS_ROOT         the checkout (default: two levels above this file)
#   GAMECLIPS_LIBRARY_DIR  where cargo put the library (default: ${GAMECLIPS_ROOT}/target/release)
#   GAMECLIPS_INCLUDE_DIR  where gameclips.h is (default: ${GAMECLIPS_ROOT}/include)
get_filename_component(_gameclips_default_root "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(GAMECLIPS_ROOT "${_gameclips_default_root}" CACHE PATH "gameclips checkout")
set(GAMECLIPS_LIBRARY_DIR "${GAMECLIPS_ROOT}/target/release" CACHE PATH "directory holding the gameclips library")
set(GAMECLIPS_INCLUDE_DIR "${GAMECLIPS_ROOT}/include" CACHE PATH "directory holding gameclips.h")

if(WIN32)
    find_file(GAMECLIPS_LIBRARY gameclips.dll PATHS "${GAMECLIPS_LIBRARY_DIR}" NO_DEFAULT_PATH)
    find_file(GAMECLIPS_IMPORT_LIBRARY gameclips.dll.lib PATHS "${GAMECLIPS_LIBRARY_DIR}" NO_DEFAULT_PATH)
elseif(APPLE)
    find_file(GAMECLIPS_LIBRARY libgameclips.dylib PATHS "${GAMECLIPS_LIBRARY_DIR}" NO_DEFAULT_PATH)
else()
    find_file(GAMECLIPS_LIBRARY libgameclips.so PATHS "${GAMECLIPS_LIBRARY_DIR}" NO_DEFAULT_PATH)
endif()
find_path(GAMECLIPS_HEADER_DIR gameclips.h PATHS "${GAMECLIPS_INCLUDE_DIR}" NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(gameclips REQUIRED_VARS GAMECLIPS_LIBRARY GAMECLIPS_HEADER_DIR)

if(gameclips_FOUND AND NOT TARGET gameclips::gameclips)
    add_library(gameclips::gameclips SHARED IMPORTED)
    set_target_properties(gameclips::gameclips PROPERTIES
        IMPORTED_LOCATION "${GAMECLIPS_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${GAMECLIPS_HEADER_DIR}")
    if(WIN32)
        set_target_properties(gameclips::gameclips PROPERTIES IMPORTED_IMPLIB "${GAMECLIPS_IMPORT_LIBRARY}")
    endif()
endif()
