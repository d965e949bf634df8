# Finds every third-party library qasr uses. Each is a Debian 12 package;
# a missing one stops configuration with the package name to install
# (tools/install-deps.sh installs all of them).

function(qasr_missing what debian_package)
  message(FATAL_ERROR
    "qasr: ${what} not found. Install the Debian package '${debian_package}' "
    "(or run tools/install-deps.sh, which installs every dependency).")
endfunction()

find_package(Threads REQUIRED)

find_package(PkgConfig QUIET)
if(NOT PkgConfig_FOUND)
  qasr_missing("pkg-config" "pkg-config")
endif()

# oneDNN 2.6 (baseline matmuls, convolutions). Its config pulls OpenCL's.
find_package(dnnl 2.6 CONFIG QUIET)
if(NOT dnnl_FOUND)
  qasr_missing("oneDNN (dnnl CMake package)" "libdnnl-dev ocl-icd-opencl-dev")
endif()

# Google Highway (portable SIMD with dynamic dispatch).
find_package(hwy 1.0 CONFIG QUIET)
if(NOT hwy_FOUND)
  qasr_missing("Google Highway (hwy CMake package)" "libhwy-dev")
endif()

# XNNPACK ships a header and a library without CMake or pkg-config files.
find_path(QASR_XNNPACK_INCLUDE xnnpack.h)
find_library(QASR_XNNPACK_LIB XNNPACK)
find_path(QASR_PTHREADPOOL_INCLUDE pthreadpool.h)
find_library(QASR_PTHREADPOOL_LIB pthreadpool)
if(NOT QASR_XNNPACK_INCLUDE OR NOT QASR_XNNPACK_LIB)
  qasr_missing("XNNPACK (xnnpack.h, libXNNPACK)" "libxnnpack-dev")
endif()
if(NOT QASR_PTHREADPOOL_INCLUDE OR NOT QASR_PTHREADPOOL_LIB)
  qasr_missing("pthreadpool (pthreadpool.h, needed by xnnpack.h)" "libpthreadpool-dev")
endif()
if(NOT TARGET qasr_dep::xnnpack)
  add_library(qasr_dep::xnnpack INTERFACE IMPORTED)
  set_target_properties(qasr_dep::xnnpack PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${QASR_XNNPACK_INCLUDE};${QASR_PTHREADPOOL_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "${QASR_XNNPACK_LIB};${QASR_PTHREADPOOL_LIB}")
endif()

# pkg-config packages: module name -> Debian package.
function(qasr_pkg_config target module debian_package)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    qasr_missing("${module} (pkg-config module)" "${debian_package}")
  endif()
  add_library(qasr_dep::${target} ALIAS PkgConfig::${target})
endfunction()

qasr_pkg_config(sentencepiece sentencepiece libsentencepiece-dev)
qasr_pkg_config(sndfile sndfile libsndfile1-dev)
qasr_pkg_config(soxr soxr libsoxr-dev)
qasr_pkg_config(fftw3 fftw3 libfftw3-dev)
# ISA-L: the model file's CRC-32 (zlib's polynomial) with PCLMULQDQ folding.
qasr_pkg_config(isal libisal libisal-dev)
# zlib: crc32_combine (the checksum's parallel ranges) and the reference CRC-32
# in tests and bench_load (the Python writer's zlib.crc32).
find_package(ZLIB QUIET)
if(NOT ZLIB_FOUND)
  qasr_missing("zlib (CRC-32 of model files)" "zlib1g-dev")
endif()
# FFTW's thread-safe planner lives in a separate library without a .pc file.
find_library(QASR_FFTW3_THREADS_LIB fftw3_threads)
if(NOT QASR_FFTW3_THREADS_LIB)
  qasr_missing("fftw3_threads (FFTW threads library)" "libfftw3-dev")
endif()

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  qasr_missing("CLI11 (command-line parser)" "libcli11-dev")
endif()
find_package(nlohmann_json 3 CONFIG QUIET)
if(NOT nlohmann_json_FOUND)
  qasr_missing("nlohmann_json" "nlohmann-json3-dev")
endif()

if(QASR_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND)
    qasr_missing("GoogleTest" "libgtest-dev libgmock-dev")
  endif()
  include(GoogleTest)
endif()
if(QASR_BUILD_BENCH OR QASR_BUILD_TESTS)
  find_package(benchmark CONFIG QUIET)
  if(NOT benchmark_FOUND)
    qasr_missing("Google Benchmark" "libbenchmark-dev")
  endif()
endif()
