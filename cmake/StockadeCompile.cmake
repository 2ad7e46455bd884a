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

# stockade_add_module(NAME DIR [DEPS ...]): a static library made of every .cc below DIR, where
# files under a linux/ or win/ folder are taken only for that OS. Each module's portable code sits at the top of its
# folder and never includes OS headers; the OS folders hold the platform layer.
function(stockade_add_module name dir)
  cmake_parse_arguments(M "" "" "DEPS" ${ARGN})
  # Relative paths, so that the OS filter never matches a folder above the repository.
  file(GLOB_RECURSE all RELATIVE ${dir} CONFIGURE_DEPENDS ${dir}/*.cc)
  set(sources "")
  foreach(f ${all})
    if(f MATCHES "(^|/)(linux|win)/")
      if(NOT f MATCHES "(^|/)${STOCKADE_OS}/")
        continue()
      endif()
    endif()
    list(APPEND sources ${dir}/${f})
  endforeach()
  add_library(${name} STATIC ${sources})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${STOCKADE_WARNINGS})
  target_link_libraries(${name} PUBLIC ${M_DEPS})
endfunction()
