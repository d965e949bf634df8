# qasr_add_test(<name> SOURCES ... LIBS ... [TIMEOUT s] [FIXTURE name]
#               [ENVIRONMENT VAR=value])
# builds one GoogleTest binary and registers its cases with ctest: timeout
# QASR_TEST_TIMEOUT (default 600 s) unless given; the fixture, when named,
# must have run first; the variable is set for each case. Used by the main
# build (tests/) and the kernels-only cross build (kernels/cross), which sets
# longer timeouts for qemu.
include(GoogleTest)
if(NOT DEFINED QASR_TEST_TIMEOUT)
  set(QASR_TEST_TIMEOUT 600)
endif()
if(NOT DEFINED QASR_TEST_DISCOVERY_TIMEOUT)
  set(QASR_TEST_DISCOVERY_TIMEOUT 60)
endif()

function(qasr_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;FIXTURE;ENVIRONMENT" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT ${QASR_TEST_TIMEOUT})
  endif()
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(ARG_FIXTURE)
    list(APPEND props FIXTURES_REQUIRED ${ARG_FIXTURE})
  endif()
  if(ARG_ENVIRONMENT)
    list(APPEND props ENVIRONMENT ${ARG_ENVIRONMENT})
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  qasr_target_defaults(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT ${QASR_TEST_DISCOVERY_TIMEOUT} PROPERTIES ${props})
endfunction()
