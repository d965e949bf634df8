// Decodes and validates one table entry of a .qasr file against the file's
// bounds and the per-dtype size rules (internal to engine/format).
// Thread-safety: stateless after construction.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/format/model_file.h"

namespace qasr::engine {

class EntryParser {
 public:
  EntryParser(std::span<const uint8_t> file, uint64_t table_offset, uint64_t table_bytes,
              uint32_t entry_count, uint32_t entry_bytes, uint32_t alignment);
  // Entry `index`; its name, data range and shape are checked.
  Result<TensorView> Parse(uint32_t index) const;

 private:
  Status CheckName(uint32_t index, const uint8_t* e, TensorView* out) const;
  Status CheckData(const uint8_t* e, TensorView* out) const;
  Status CheckTensor(const uint8_t* e, TensorView* out) const;
  Status CheckBlob(const uint8_t* e, TensorView* out) const;

  std::span<const uint8_t> file_;
  uint64_t table_offset_, table_end_;
  uint64_t strings_offset_;  // names live in [strings_offset_, table_end_)
  uint32_t entry_bytes_, alignment_;
};

// Every name appears once.
Status CheckUniqueNames(const std::vector<TensorView>& entries);
// No two data ranges share a byte.
Status CheckNoOverlap(const std::vector<TensorView>& entries);

}  // namespace qasr::engine
