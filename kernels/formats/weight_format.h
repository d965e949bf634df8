// Low-bit weight formats: shape validation, the packed (on-disk, in-memory)
// layout, and Pack/Unpack between plain codes and that layout.
// docs/QUANTIZATION.md specifies every byte; the Python exporter writes the
// same bytes, and the engine uses them in place from a memory map.
// Thread-safety: all types are immutable after construction except
// PackedWeights, which owns its bytes; views may be shared across threads.
#pragma once

#include <hwy/aligned_allocator.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::kernels {

// One list drives declarations, tables, tests and benchmarks:
// X(name, bits). Appending is allowed; reordering is not.
#define QASR_WEIGHT_FORMATS(X) X(w2, 2) X(w3, 3) X(w4, 4) X(w8, 8)

inline constexpr int kNumWeightFormats = 4;
// Index of a bit width in QASR_WEIGHT_FORMATS order, or -1.
constexpr int FormatIndex(int bits) {
  return bits == 2 ? 0 : bits == 3 ? 1 : bits == 4 ? 2 : bits == 8 ? 3 : -1;
}
constexpr int FormatBits(int index) {
  constexpr int kBits[kNumWeightFormats] = {2, 3, 4, 8};
  return kBits[index];
}

inline constexpr size_t kTileRows = 8;         // output rows interleaved per tile (NR)
inline constexpr size_t kSuperblockCols = 32;  // input columns per superblock
inline constexpr size_t kMaxGroup = 16384;     // keeps every group dot inside int32
inline constexpr size_t kMaxDim = size_t{1} << 24;

// The logical shape of one weight matrix W[rows][cols] (rows = outputs N,
// cols = inputs K) quantized in groups of `group` consecutive columns.
// group >= cols means one group per row ("whole row").
struct WeightShape {
  int bits = 4;
  size_t rows = 0;
  size_t cols = 0;
  size_t group = 0;
};

// Everything derived from a shape; sizes in bytes.
struct WeightLayout {
  WeightShape shape;
  size_t group_cols = 0;        // effective group size: min(group, cols)
  size_t groups = 0;            // groups per row: ceil(cols / group_cols)
  size_t tiles = 0;             // ceil(rows / 8)
  size_t padded_cols = 0;       // cols rounded up to a multiple of 32
  size_t superblocks = 0;       // padded_cols / 32
  size_t superblock_bytes = 0;  // 32 * bits: 8 rows x 32 columns of codes
  size_t tile_code_bytes = 0;   // superblocks * superblock_bytes
  size_t code_bytes = 0, scale_bytes = 0, zero_bytes = 0, total_bytes = 0;
  size_t scale_offset = 0, zero_offset = 0;

  // Superblocks covered by group g (the last group may be shorter).
  size_t GroupBegin(size_t g) const { return g * group_cols / kSuperblockCols; }
  size_t GroupEnd(size_t g) const {
    return g + 1 == groups ? superblocks : (g + 1) * group_cols / kSuperblockCols;
  }

  static Result<WeightLayout> Make(const WeightShape& shape);
};

// Non-owning view of packed bytes (e.g. inside a memory-mapped model file).
class PackedWeightsView {
 public:
  PackedWeightsView() = default;
  // Validates the shape and that `size` is exactly the packed size.
  static Result<PackedWeightsView> FromBytes(const WeightShape& shape, const uint8_t* data,
                                             size_t size);

  const WeightLayout& layout() const { return layout_; }
  const uint8_t* data() const { return data_; }
  const uint8_t* tile_codes(size_t tile) const { return data_ + tile * layout_.tile_code_bytes; }
  // 8 little-endian fp16 scales (one per tile row) of group g in tile t.
  const uint8_t* tile_scales(size_t tile, size_t g) const {
    return data_ + layout_.scale_offset + (tile * layout_.groups + g) * kTileRows * 2;
  }
  const uint8_t* tile_zeros(size_t tile, size_t g) const {
    return data_ + layout_.zero_offset + (tile * layout_.groups + g) * kTileRows;
  }

 private:
  PackedWeightsView(const uint8_t* data, const WeightLayout& layout)
      : data_(data), layout_(layout) {}
  const uint8_t* data_ = nullptr;
  WeightLayout layout_;
};

// Owns 64-byte-aligned packed bytes.
class PackedWeights {
 public:
  const PackedWeightsView& view() const { return view_; }
  std::span<const uint8_t> bytes() const { return {view_.data(), view_.layout().total_bytes}; }

 private:
  friend Result<PackedWeights> Pack(const WeightShape&, std::span<const uint8_t>,
                                    std::span<const uint16_t>, std::span<const uint8_t>);
  hwy::AlignedFreeUniquePtr<uint8_t[]> storage_;
  PackedWeightsView view_;
};

// Plain row-major codes[rows][cols], scales[rows][groups] (fp16 bits) and
// zeros[rows][groups].
struct UnpackedWeights {
  WeightShape shape;
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales;
  std::vector<uint8_t> zeros;
};

// Validates sizes and value ranges (codes and zeros < 2^bits, finite scales).
Result<PackedWeights> Pack(const WeightShape& shape, std::span<const uint8_t> codes,
                           std::span<const uint16_t> scales, std::span<const uint8_t> zeros);
UnpackedWeights Unpack(const PackedWeightsView& packed);

}  // namespace qasr::kernels
