# Third-party libraries. Linux uses Debian's packages; the Windows cross build compiles SQLite
# and Boost.Filesystem from Debian's sources fetched by scripts/deps.sh into .deps/, and uses the
# header-only libraries through a private include folder that never exposes /usr/include.
set(STOCKADE_DEPS_DIR ${PROJECT_SOURCE_DIR}/.deps)

if(NOT WIN32)
  find_package(SQLite3 REQUIRED)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  find_package(Boost 1.74 REQUIRED COMPONENTS filesystem)
  find_package(spdlog REQUIRED)
  find_package(nlohmann_json REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(tomlplusplus REQUIRED)
  find_package(GTest REQUIRED)

  add_library(stockade_thirdparty INTERFACE)
  target_link_libraries(stockade_thirdparty INTERFACE
      SQLite::SQLite3 OpenSSL::Crypto Boost::filesystem spdlog::spdlog
      nlohmann_json::nlohmann_json CLI11::CLI11 tomlplusplus::tomlplusplus)
  set(STOCKADE_GTEST_MAIN GTest::gtest_main)
  set(STOCKADE_GTEST GTest::gtest)
else()
  set(inc ${STOCKADE_DEPS_DIR}/mingw-include)
  foreach(need sqlite/sqlite3.c boost-filesystem/src mingw-include/toml++)
    if(NOT EXISTS ${STOCKADE_DEPS_DIR}/${need})
      message(FATAL_ERROR "${STOCKADE_DEPS_DIR}/${need} is missing: run scripts/deps.sh first")
    endif()
  endforeach()

  add_library(stockade_sqlite STATIC ${STOCKADE_DEPS_DIR}/sqlite/sqlite3.c)
  target_include_directories(stockade_sqlite SYSTEM PUBLIC ${STOCKADE_DEPS_DIR}/sqlite)
  target_compile_definitions(stockade_sqlite PRIVATE SQLITE_THREADSAFE=1 SQLITE_OMIT_LOAD_EXTENSION
                             SQLITE_DQS=0 SQLITE_DEFAULT_FOREIGN_KEYS=1)
  target_compile_options(stockade_sqlite PRIVATE -w -O2)

  file(GLOB boost_fs_src ${STOCKADE_DEPS_DIR}/boost-filesystem/src/*.cpp)
  add_library(stockade_boost_filesystem STATIC ${boost_fs_src})
  target_include_directories(stockade_boost_filesystem SYSTEM PUBLIC ${inc})
  target_compile_definitions(stockade_boost_filesystem
      PUBLIC BOOST_FILESYSTEM_STATIC_LINK=1 BOOST_ALL_NO_LIB
      PRIVATE BOOST_FILESYSTEM_SOURCE)
  target_compile_options(stockade_boost_filesystem PRIVATE -w)
  target_link_libraries(stockade_boost_filesystem PUBLIC advapi32 bcrypt)

  add_library(stockade_thirdparty INTERFACE)
  target_include_directories(stockade_thirdparty SYSTEM INTERFACE ${inc})
  # spdlog and fmt header-only; Debian's spdlog is configured for an external fmt.
  target_compile_definitions(stockade_thirdparty INTERFACE FMT_HEADER_ONLY SPDLOG_FMT_EXTERNAL)
  target_link_libraries(stockade_thirdparty INTERFACE stockade_sqlite stockade_boost_filesystem
      bcrypt crypt32 advapi32 ole32 oleaut32 shell32 netapi32 userenv wtsapi32 ws2_32)

  # GoogleTest cross-compiled from Debian's source.
  set(gtest_force_shared_crt OFF CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  set(STOCKADE_GTEST_MAIN gtest_main)
  set(STOCKADE_GTEST gtest)
endif()
