# Compiler settings shared by every target.
set(STOCKADE_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference)

if(WIN32)
  set(STOCKADE_OS win)
  # Unicode Win32 API everywhere; Windows 10 is the oldest target.
  add_compile_definitions(UNICODE _UNICODE WIN32_LEAN_AND_MEAN NOMINMAX
                          _WIN32_WINNT=0x0A00 WINVER=0x0A00)
  # Static linking: no mingw runtime DLLs to ship.
  add_link_options(-static -static-libgcc -static-libstdc++)
else()
  set(STOCKADE_OS linux)
  add_compile_options(-fstack-protector-strong -D_FORTIFY_SOURCE=2)
endif()

# stockade_add_module(NAME DIR [DEPS ...]): a static library made of DIR/*.cc plus
# DIR/<os>/*.cc, where <os> is linux or win. Each module's portable code sits at the top of its
# folder and never includes OS headers; the OS folders hold the platform layer.
function(stockade_add_module name dir)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  file(GLOB_RECURSE portable CONFIGURE_DEPENDS ${dir}/*.cc)
  list(FILTER portable EXCLUDE REGEX "/(linux|win)/")
  file(GLOB_RECURSE native CONFIGURE_DEPENDS ${dir}/${STOCKADE_OS}/*.cc)
  add_library(${name} STATIC ${portable} ${native})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${STOCKADE_WARNINGS})
  target_link_libraries(${name} PUBLIC ${M_DEPS})
endfunction()
