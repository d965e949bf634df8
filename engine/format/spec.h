// Typed view of the generated container spec (format_spec.json): entry kinds,
// dtypes, header/entry field offsets and little-endian field readers.
// Thread-safety: constants and pure functions only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/format/format_spec.h"

namespace qasr::engine {

enum class EntryKind : uint8_t {
#define QASR_X(name, code) name = code,
  QASR_FORMAT_KINDS(QASR_X)
#undef QASR_X
};

enum class DType : uint8_t {
#define QASR_X(name, code, bits) name = code,
  QASR_FORMAT_DTYPES(QASR_X)
#undef QASR_X
};

// Byte offsets of header and table entry fields.
struct HeaderField {
#define QASR_X(name, offset, type) static constexpr size_t name = offset;
  QASR_FORMAT_HEADER_FIELDS(QASR_X)
#undef QASR_X
};
struct EntryField {
#define QASR_X(name, offset, type) static constexpr size_t name = offset;
  QASR_FORMAT_ENTRY_FIELDS(QASR_X)
#undef QASR_X
};
struct Limits {
#define QASR_X(name, value) static constexpr uint64_t name = value;
  QASR_FORMAT_LIMITS(QASR_X)
#undef QASR_X
};

// Name of a known kind or dtype, or nullptr.
const char* EntryKindName(uint8_t code);
const char* DTypeName(uint8_t code);
// Bits per stored element (0 for unknown codes); packed formats count codes only.
int DTypeBits(uint8_t code);
// Weight bit width of a packed dtype (w2/w3/w4/w8), or 0.
int PackedBits(DType dtype);
// Fixed entry name of a non-tensor kind, or empty.
std::string_view BlobName(EntryKind kind);

// Little-endian loads; `p` must have sizeof(T) readable bytes.
template <typename T>
T LoadLE(const uint8_t* p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(p[i]) << (8 * i)));
  return v;
}

}  // namespace qasr::engine
