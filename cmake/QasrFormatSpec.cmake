# qasr_generate_format_spec(<json> <header>): turns engine/format/format_spec.json
# (the single source of truth for the .qasr container, also read by the Python
# exporter) into a C++ header of constants and X-macro lists.

# Appends "X(key, value[, extra])" for every member of object <member>.
function(_qasr_spec_object spec member extra_member out_var)
  set(text "")
  string(JSON count LENGTH "${spec}" ${member})
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON key MEMBER "${spec}" ${member} ${i})
    string(JSON value GET "${spec}" ${member} ${key})
    if(extra_member)
      string(JSON extra GET "${spec}" ${extra_member} ${key})
      string(APPEND text "  X(${key}, ${value}, ${extra}) \\\n")
    else()
      string(APPEND text "  X(${key}, ${value}) \\\n")
    endif()
  endforeach()
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

# Appends "X(name, offset, type)" for every [name, offset, type] of array <member>.
function(_qasr_spec_fields spec member out_var)
  set(text "")
  string(JSON count LENGTH "${spec}" ${member})
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${spec}" ${member} ${i} 0)
    string(JSON offset GET "${spec}" ${member} ${i} 1)
    string(JSON type GET "${spec}" ${member} ${i} 2)
    string(APPEND text "  X(${name}, ${offset}, ${type}) \\\n")
  endforeach()
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

function(qasr_generate_format_spec json header)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${json})
  file(READ ${json} spec)
  foreach(key magic version_major version_minor alignment header_bytes entry_bytes max_rank
              checksum)
    string(JSON ${key} GET "${spec}" ${key})
  endforeach()
  _qasr_spec_fields("${spec}" header_fields header_fields)
  _qasr_spec_fields("${spec}" entry_fields entry_fields)
  _qasr_spec_object("${spec}" kinds "" kinds)
  _qasr_spec_object("${spec}" dtypes dtype_bits dtypes)
  _qasr_spec_object("${spec}" limits "" limits)
  set(blob_names "")
  string(JSON count LENGTH "${spec}" blob_names)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON key MEMBER "${spec}" blob_names ${i})
    string(JSON value GET "${spec}" blob_names ${key})
    string(APPEND blob_names "  X(${key}, \"${value}\") \\\n")
  endforeach()
  file(CONFIGURE OUTPUT ${header} @ONLY CONTENT [=[
// Generated from engine/format/format_spec.json by cmake/QasrFormatSpec.cmake.
// Do not edit: change the JSON (append-only) and re-run CMake.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qasr::engine::spec {

inline constexpr char kMagic[] = "@magic@";
inline constexpr uint16_t kVersionMajor = @version_major@;
inline constexpr uint16_t kVersionMinor = @version_minor@;
inline constexpr size_t kAlignment = @alignment@;
inline constexpr size_t kHeaderBytes = @header_bytes@;
inline constexpr size_t kEntryBytes = @entry_bytes@;
inline constexpr size_t kMaxRank = @max_rank@;
inline constexpr char kChecksum[] = "@checksum@";

}  // namespace qasr::engine::spec

// X(name, byte offset, type) of every header field.
#define QASR_FORMAT_HEADER_FIELDS(X) \
@header_fields@
// X(name, byte offset, type) of every table entry field.
#define QASR_FORMAT_ENTRY_FIELDS(X) \
@entry_fields@
// X(name, code) of every entry kind.
#define QASR_FORMAT_KINDS(X) \
@kinds@
// X(name, code, bits per element) of every dtype.
#define QASR_FORMAT_DTYPES(X) \
@dtypes@
// X(name, value) of every limit.
#define QASR_FORMAT_LIMITS(X) \
@limits@
// X(kind, entry name) of every non-tensor blob.
#define QASR_FORMAT_BLOB_NAMES(X) \
@blob_names@
]=])
endfunction()
