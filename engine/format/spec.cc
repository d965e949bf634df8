#include "engine/format/spec.h"

namespace qasr::engine {

const char* EntryKindName(uint8_t code) {
  switch (code) {
#define QASR_X(name, code) \
  case code:               \
    return #name;
    QASR_FORMAT_KINDS(QASR_X)
#undef QASR_X
  }
  return nullptr;
}

const char* DTypeName(uint8_t code) {
  switch (code) {
#define QASR_X(name, code, bits) \
  case code:                     \
    return #name;
    QASR_FORMAT_DTYPES(QASR_X)
#undef QASR_X
  }
  return nullptr;
}

int DTypeBits(uint8_t code) {
  switch (code) {
#define QASR_X(name, code, bits) \
  case code:                     \
    return bits;
    QASR_FORMAT_DTYPES(QASR_X)
#undef QASR_X
  }
  return 0;
}

int PackedBits(DType dtype) {
  switch (dtype) {
    case DType::w2:
      return 2;
    case DType::w3:
      return 3;
    case DType::w4:
      return 4;
    case DType::w8:
      return 8;
    default:
      return 0;
  }
}

std::string_view BlobName(EntryKind kind) {
  switch (kind) {
#define QASR_X(k, name) \
  case EntryKind::k:    \
    return name;
    QASR_FORMAT_BLOB_NAMES(QASR_X)
#undef QASR_X
    default:
      return {};
  }
}

}  // namespace qasr::engine
