# libqasr.so and everything `cmake --install` puts under the prefix: the
# library, the public headers (include/qasr/, the only installed ones),
# asr-cli, bundled models, a CMake package (find_package(qasr)) and qasr.pc.
#
# The shared library carries every internal layer linked in statically with
# their symbols hidden (--exclude-libs), so consumers see only the public API
# and need none of qasr's third-party headers or CMake packages.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(qasr SHARED ${QASR_API_SOURCES})
add_library(qasr::qasr ALIAS qasr)
target_link_libraries(qasr PRIVATE qasr_pipeline qasr_engine_backend)
target_compile_options(qasr PRIVATE -Wall -Wextra -Werror)
target_include_directories(qasr
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
         $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
         $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE ${PROJECT_SOURCE_DIR})
target_compile_features(qasr INTERFACE cxx_std_17)
set_target_properties(qasr PROPERTIES
  CXX_VISIBILITY_PRESET hidden
  VISIBILITY_INLINES_HIDDEN ON
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR})
target_link_options(qasr PRIVATE "LINKER:--exclude-libs,ALL")

set(QASR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/qasr)
install(TARGETS qasr EXPORT qasrTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/qasr/qasr.h ${PROJECT_SOURCE_DIR}/include/qasr/qasr.hpp
              ${PROJECT_BINARY_DIR}/include/qasr/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/qasr)
install(EXPORT qasrTargets NAMESPACE qasr:: DESTINATION ${QASR_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/qasrConfig.cmake.in
  ${PROJECT_BINARY_DIR}/qasrConfig.cmake INSTALL_DESTINATION ${QASR_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/qasrConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/qasrConfig.cmake ${PROJECT_BINARY_DIR}/qasrConfigVersion.cmake
        DESTINATION ${QASR_CMAKE_DIR})
# Relocatable: the prefix is found from the .pc file's own directory.
file(RELATIVE_PATH QASR_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" QASR_PC_TO_PREFIX "${QASR_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/qasr.pc.in ${PROJECT_BINARY_DIR}/qasr.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/qasr.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# Trained models, if any are present (asr-cli looks in share/qasr/models).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/models/ DESTINATION ${CMAKE_INSTALL_DATADIR}/qasr/models
        FILES_MATCHING PATTERN "*.qasr" PATTERN "samples" EXCLUDE)
