# Compile options for qasr's own targets (never applied to dependencies).

set(QASR_SANITIZE_FLAGS "")
if(QASR_SANITIZE STREQUAL "address")
  set(QASR_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)
elseif(QASR_SANITIZE STREQUAL "thread")
  set(QASR_SANITIZE_FLAGS -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT QASR_SANITIZE STREQUAL "")
  message(FATAL_ERROR "QASR_SANITIZE must be '', 'address' or 'thread', not '${QASR_SANITIZE}'")
endif()
if(QASR_SANITIZE_FLAGS)
  # Sanitizers must see every object and the link, including test mains.
  add_compile_options(${QASR_SANITIZE_FLAGS})
  add_link_options(${QASR_SANITIZE_FLAGS})
endif()

# qasr_target_defaults(<target>): warnings as errors and the project include roots.
function(qasr_target_defaults target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>)
endfunction()
