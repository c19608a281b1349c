# Packaging test (CTest: consumer_find_package): install the build tree into a private prefix,
# then use it the two ways a third party would.
#   1. find_package(tierswap) + tierswap::tierswap: configure, build and run tests/consumer.
#   2. pkg-config --cflags --libs tierswap: compile consumer.c by hand and run it.
# Each run checks that the installed library reports the version the package says it is.
#
# Invoked as: cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DGENERATOR=... -P run.cmake
# (the build tree must be built: install copies what is there). Any failing step stops the test
# with that step's command and output.
cmake_minimum_required(VERSION 3.25)

foreach(var SOURCE_DIR BINARY_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run.cmake: -D${var}=... is required")
  endif()
endforeach()

# The compiler and tools the main build used, so the consumer is built the same way.
load_cache("${BINARY_DIR}" READ_WITH_PREFIX main_
  CMAKE_C_COMPILER PKG_CONFIG_EXECUTABLE TIERSWAP_SANITIZE)
if(NOT main_PKG_CONFIG_EXECUTABLE)
  find_program(main_PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf REQUIRED)
endif()
set(c_flags "")
set(link_flags "")
if(main_TIERSWAP_SANITIZE)
  # A sanitized libtierswap.so needs its runtime loaded first: build the consumer with it too.
  set(c_flags "-fsanitize=${main_TIERSWAP_SANITIZE}")
  # clang's C driver leaves out the runtime's C++ part, which the library's UBSan vptr checks
  # call (the top-level CMakeLists.txt does the same for its C executables).
  if(main_CMAKE_C_COMPILER MATCHES "clang")
    set(link_flags "-fsanitize-link-c++-runtime -lstdc++")
  endif()
endif()

set(work "${BINARY_DIR}/consumer-test")
set(prefix "${work}/prefix")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

# run_step(<name> COMMAND <cmd...> [OUTPUT_VARIABLE <var>]): runs a command; on failure stops
# the test with the command line and everything it printed.
function(run_step name)
  cmake_parse_arguments(S "" "OUTPUT_VARIABLE" "COMMAND" ${ARGN})
  execute_process(COMMAND ${S_COMMAND}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN S_COMMAND " " cmdline)
    message(FATAL_ERROR "consumer test: step '${name}' failed (${rc}).\n"
      "command: ${cmdline}\nstdout:\n${out}\nstderr:\n${err}")
  endif()
  message(STATUS "consumer test: ${name}: ok")
  if(S_OUTPUT_VARIABLE)
    string(STRIP "${out}" out)
    set(${S_OUTPUT_VARIABLE} "${out}" PARENT_SCOPE)
  endif()
endfunction()

run_step("install into ${prefix}"
  COMMAND "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${prefix}")

# Where the library landed (lib, lib64 or lib/<multiarch>, as GNUInstallDirs chose).
file(GLOB_RECURSE pc_files "${prefix}/*/tierswap.pc")
list(LENGTH pc_files pc_count)
if(NOT pc_count EQUAL 1)
  message(FATAL_ERROR "consumer test: expected one installed tierswap.pc under ${prefix}, "
    "found ${pc_count}: ${pc_files}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
get_filename_component(lib_dir "${pc_dir}" DIRECTORY)
if(NOT EXISTS "${lib_dir}/libtierswap.so")
  message(FATAL_ERROR "consumer test: ${lib_dir}/libtierswap.so was not installed")
endif()

set(pkg_env "${CMAKE_COMMAND}" -E env "PKG_CONFIG_PATH=${pc_dir}" "PKG_CONFIG_LIBDIR=${pc_dir}")
run_step("pkg-config --modversion tierswap" OUTPUT_VARIABLE version
  COMMAND ${pkg_env} "${main_PKG_CONFIG_EXECUTABLE}" --modversion tierswap)

# 1. find_package.
set(cmake_build "${work}/cmake-build")
run_step("configure the find_package consumer"
  COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${cmake_build}"
          -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
          "-DCMAKE_C_COMPILER=${main_CMAKE_C_COMPILER}" "-DCMAKE_C_FLAGS=${c_flags}"
          "-DCMAKE_EXE_LINKER_FLAGS=${link_flags}")
run_step("build the find_package consumer"
  COMMAND "${CMAKE_COMMAND}" --build "${cmake_build}")
# No LD_LIBRARY_PATH: the build tree's RPATH must find the installed library.
run_step("run the find_package consumer"
  COMMAND "${cmake_build}/consumer" "${version}")

# 2. pkg-config.
run_step("pkg-config --cflags --libs tierswap" OUTPUT_VARIABLE pkg_flags
  COMMAND ${pkg_env} "${main_PKG_CONFIG_EXECUTABLE}" --cflags --libs tierswap)
separate_arguments(pkg_flags UNIX_COMMAND "${pkg_flags}")
separate_arguments(c_flags_list UNIX_COMMAND "${c_flags}")
separate_arguments(link_flags_list UNIX_COMMAND "${link_flags}")
set(pkg_consumer "${work}/pkg-config-consumer")
run_step("compile consumer.c with pkg-config flags"
  COMMAND "${main_CMAKE_C_COMPILER}" -std=c11 -Wall -Werror ${c_flags_list}
          "${SOURCE_DIR}/tests/consumer/consumer.c" -o "${pkg_consumer}" ${pkg_flags}
          ${link_flags_list})
run_step("run the pkg-config consumer"
  COMMAND "${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${lib_dir}" "${pkg_consumer}" "${version}")

# The pkg-config build must run the installed library, not one from the build tree.
run_step("ldd the pkg-config consumer" OUTPUT_VARIABLE ldd_out
  COMMAND "${CMAKE_COMMAND}" -E env "LD_LIBRARY_PATH=${lib_dir}" ldd "${pkg_consumer}")
string(FIND "${ldd_out}" "${lib_dir}/libtierswap.so" found)
if(found EQUAL -1)
  message(FATAL_ERROR "consumer test: the pkg-config consumer does not load "
    "${lib_dir}/libtierswap.so:\n${ldd_out}")
endif()

message(STATUS "consumer test: tierswap ${version} installs and is usable through "
  "find_package and pkg-config")
