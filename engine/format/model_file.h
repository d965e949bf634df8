// A .qasr model file (docs/FORMAT.md): memory-mapped, fully validated at Open,
// then used in place. Tensors are looked up by name (the names of
// tools/qasr/model.py's state_dict, decoder conv weight norm folded); f32/f16
// data and packed w2/w3/w4/w8 blobs are views into the mapping, no copies.
// Thread-safety: immutable after Open; share freely across threads. Views
// (TensorView, spans, string_views) live as long as the ModelFile.
#pragma once

#include <hwy/aligned_allocator.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/format/mapped_file.h"
#include "engine/format/model_config.h"
#include "engine/format/spec.h"
#include "kernels/base/status.h"
#include "kernels/formats/weight_format.h"

namespace qasr::engine {

struct LoadOptions {
  // CRC-32 over the whole file (docs/FORMAT.md §5). Skipping it saves one
  // sequential read of the file; structure is validated either way.
  bool verify_checksum = true;
  // Threads computing the checksum (1..1024): the file is split into that
  // many ranges (of at least 4 MiB) whose CRCs are combined.
  int threads = 1;
};

// One table entry. For tensors, `bytes` holds exactly the stored data.
struct TensorView {
  std::string_view name;
  EntryKind kind = EntryKind::tensor;
  DType dtype = DType::raw;
  size_t rank = 0;
  std::array<uint64_t, spec::kMaxRank> dims{};  // unused dims are 0
  uint64_t group = 0;                           // packed dtypes only
  uint64_t offset = 0;                          // byte offset in the file
  std::span<const uint8_t> bytes;
  kernels::PackedWeightsView packed;  // valid iff is_packed()

  std::span<const uint64_t> shape() const { return {dims.data(), rank}; }
  uint64_t num_elements() const;
  bool is_packed() const { return PackedBits(dtype) != 0; }
  // Typed data; empty unless dtype matches (the data is 64-byte aligned).
  std::span<const float> f32() const;
  std::span<const uint16_t> f16() const;  // IEEE binary16 bits
};

class ModelFile {
 public:
  // Maps and validates `path`; any defect is a Status naming it.
  static Result<ModelFile> Open(const std::string& path, const LoadOptions& options = {});
  // Copies `bytes` into an aligned buffer, then validates (tests, fuzzing).
  static Result<ModelFile> FromBytes(std::span<const uint8_t> bytes,
                                     const LoadOptions& options = {});

  // The tensor called `name`, or nullptr.
  const TensorView* Find(std::string_view name) const;
  // Tensor entries in file (table) order.
  std::span<const TensorView> tensors() const { return tensors_; }

  const ModelConfig& config() const { return config_; }
  const FeatureConfig& feature_config() const { return feature_config_; }
  std::string_view config_json() const { return config_json_; }
  std::string_view feature_config_json() const { return feature_json_; }
  std::span<const uint8_t> spm_model() const { return spm_; }
  // Free-form metadata: the text of a JSON object (nesting depth <= 64).
  std::string_view metadata() const { return metadata_json_; }

  uint16_t version_major() const { return version_major_; }
  uint16_t version_minor() const { return version_minor_; }
  uint64_t file_bytes() const { return bytes_.size(); }
  // The whole file when it is a read-only file mapping (Open), else empty
  // (FromBytes): what MappedFile::ReleasePages may release.
  std::span<const uint8_t> mapped_bytes() const {
    return owned_ == nullptr ? map_.bytes() : std::span<const uint8_t>();
  }
  uint32_t checksum() const { return checksum_; }

 private:
  ModelFile() = default;
  Status Parse(const LoadOptions& options);
  Status ParseHeader(const LoadOptions& options, uint64_t* table_offset, uint64_t* table_bytes,
                     uint32_t* entry_count, uint32_t* entry_bytes, uint32_t* alignment);
  Status ParseBlob(const TensorView& entry);

  MappedFile map_;
  hwy::AlignedFreeUniquePtr<uint8_t[]> owned_;
  std::span<const uint8_t> bytes_;
  std::vector<TensorView> tensors_;
  std::vector<uint32_t> by_name_;  // indices into tensors_, sorted by name
  ModelConfig config_;
  FeatureConfig feature_config_;
  std::string_view config_json_, feature_json_, metadata_json_;
  std::span<const uint8_t> spm_;
  uint16_t version_major_ = 0, version_minor_ = 0;
  uint32_t checksum_ = 0;
};

// CRC-32 (zlib polynomial) of `bytes` with the header's checksum field read
// as zeros; what the writer stores in that field. threads > 1 splits it into
// ranges of at least 4 MiB computed in parallel and combined (same value).
uint32_t FileChecksum(std::span<const uint8_t> bytes, int threads = 1);

}  // namespace qasr::engine
