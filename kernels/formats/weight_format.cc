#include "kernels/formats/weight_format.h"

#include <cstring>
#include <string>

#include "kernels/formats/fp16.h"

namespace qasr::kernels {

namespace {

std::string ShapeText(const WeightShape& s) {
  // Appends (not operator+ on literals) to dodge GCC 12's false -Wrestrict.
  std::string text = "w";
  text += std::to_string(s.bits);
  text += ' ';
  text += std::to_string(s.rows);
  text += 'x';
  text += std::to_string(s.cols);
  text += " group ";
  text += std::to_string(s.group);
  return text;
}

// Byte and bit of code (row r in tile, column c in superblock) relative to
// the superblock start. 3-bit codes return the 2-bit plane position; their
// high bit lives in the 1-bit plane at byte 64 + (r*4 + c%4), bit (c%32)/4.
struct CodeSlot {
  size_t byte;
  int shift;
};
CodeSlot SlotOf(int bits, size_t r, size_t c) {
  const size_t kb = c / 4, lane = r * 4 + c % 4;
  const int plane_bits = bits == 3 ? 2 : bits;
  const size_t per_byte = static_cast<size_t>(8 / plane_bits);
  return {(kb / per_byte) * 32 + lane, plane_bits * static_cast<int>(kb % per_byte)};
}

}  // namespace

Result<WeightLayout> WeightLayout::Make(const WeightShape& s) {
  if (FormatIndex(s.bits) < 0) return InvalidArgument("unsupported bit width: " + ShapeText(s));
  if (s.rows == 0 || s.cols == 0 || s.rows > kMaxDim || s.cols > kMaxDim)
    return OutOfRange("weight dimensions out of range: " + ShapeText(s));
  if (s.group == 0) return InvalidArgument("group size 0: " + ShapeText(s));
  WeightLayout l;
  l.shape = s;
  l.group_cols = s.group < s.cols ? s.group : s.cols;
  if (l.group_cols < s.cols && l.group_cols % kSuperblockCols != 0)
    return InvalidArgument("group size must be a multiple of 32 or cover the row: " + ShapeText(s));
  if (l.group_cols > kMaxGroup) return OutOfRange("group larger than 16384: " + ShapeText(s));
  l.groups = (s.cols + l.group_cols - 1) / l.group_cols;
  l.tiles = (s.rows + kTileRows - 1) / kTileRows;
  l.padded_cols = (s.cols + kSuperblockCols - 1) / kSuperblockCols * kSuperblockCols;
  l.superblocks = l.padded_cols / kSuperblockCols;
  l.superblock_bytes = kSuperblockCols * static_cast<size_t>(s.bits);
  l.tile_code_bytes = l.superblocks * l.superblock_bytes;
  l.code_bytes = l.tiles * l.tile_code_bytes;
  l.scale_bytes = l.tiles * l.groups * kTileRows * 2;
  l.zero_bytes = l.tiles * l.groups * kTileRows;
  l.scale_offset = l.code_bytes;
  l.zero_offset = l.code_bytes + l.scale_bytes;
  l.total_bytes = l.zero_offset + l.zero_bytes;
  return l;
}

Result<PackedWeightsView> PackedWeightsView::FromBytes(const WeightShape& shape,
                                                       const uint8_t* data, size_t size) {
  Result<WeightLayout> layout = WeightLayout::Make(shape);
  if (!layout.ok()) return layout.status();
  if (data == nullptr) return InvalidArgument("null packed weights: " + ShapeText(shape));
  if (size != layout->total_bytes)
    return DataLoss("packed weights are " + std::to_string(size) + " bytes, expected " +
                    std::to_string(layout->total_bytes) + ": " + ShapeText(shape));
  return PackedWeightsView(data, *layout);
}

Result<PackedWeights> Pack(const WeightShape& shape, std::span<const uint8_t> codes,
                           std::span<const uint16_t> scales, std::span<const uint8_t> zeros) {
  Result<WeightLayout> made = WeightLayout::Make(shape);
  if (!made.ok()) return made.status();
  const WeightLayout& l = *made;
  const size_t n = shape.rows, k = shape.cols, ng = l.groups;
  if (codes.size() != n * k || scales.size() != n * ng || zeros.size() != n * ng)
    return InvalidArgument("codes/scales/zeros sizes do not match " + ShapeText(shape));
  const unsigned limit = 1u << shape.bits;
  for (size_t i = 0; i < codes.size(); ++i)
    if (codes[i] >= limit) return InvalidArgument("code out of range at " + std::to_string(i));
  for (size_t i = 0; i < zeros.size(); ++i)
    if (zeros[i] >= limit)
      return InvalidArgument("zero point out of range at " + std::to_string(i));
  for (size_t i = 0; i < scales.size(); ++i)
    if (!F16IsFinite(scales[i])) return InvalidArgument("non-finite scale at " + std::to_string(i));

  PackedWeights out;
  out.storage_ = hwy::AllocateAligned<uint8_t>(l.total_bytes);
  if (!out.storage_) return Status(StatusCode::kResourceExhausted, "packing " + ShapeText(shape));
  uint8_t* base = out.storage_.get();
  std::memset(base, 0, l.total_bytes);
  for (size_t row = 0; row < n; ++row) {
    const size_t t = row / kTileRows, r = row % kTileRows;
    uint8_t* tile = base + t * l.tile_code_bytes;
    for (size_t col = 0; col < k; ++col) {
      const unsigned q = codes[row * k + col];
      uint8_t* sb = tile + (col / kSuperblockCols) * l.superblock_bytes;
      const size_t c = col % kSuperblockCols;
      const CodeSlot slot = SlotOf(shape.bits, r, c);
      const unsigned low = shape.bits == 3 ? (q & 3u) : q;
      sb[slot.byte] = static_cast<uint8_t>(sb[slot.byte] | (low << slot.shift));
      if (shape.bits == 3) {
        uint8_t& hi = sb[64 + r * 4 + c % 4];
        hi = static_cast<uint8_t>(hi | ((q >> 2) << (c / 4)));
      }
    }
    for (size_t g = 0; g < ng; ++g) {
      const size_t at = (t * ng + g) * kTileRows + r;
      const uint16_t s = scales[row * ng + g];
      base[l.scale_offset + 2 * at] = static_cast<uint8_t>(s & 0xFF);
      base[l.scale_offset + 2 * at + 1] = static_cast<uint8_t>(s >> 8);
      base[l.zero_offset + at] = zeros[row * ng + g];
    }
  }
  out.view_ = *PackedWeightsView::FromBytes(shape, base, l.total_bytes);
  return out;
}

UnpackedWeights Unpack(const PackedWeightsView& packed) {
  const WeightLayout& l = packed.layout();
  const size_t n = l.shape.rows, k = l.shape.cols, ng = l.groups;
  UnpackedWeights out{l.shape, std::vector<uint8_t>(n * k), std::vector<uint16_t>(n * ng),
                      std::vector<uint8_t>(n * ng)};
  const unsigned plane_mask = l.shape.bits == 3 ? 3u : (1u << l.shape.bits) - 1u;
  for (size_t row = 0; row < n; ++row) {
    const size_t t = row / kTileRows, r = row % kTileRows;
    for (size_t col = 0; col < k; ++col) {
      const uint8_t* sb = packed.tile_codes(t) + (col / kSuperblockCols) * l.superblock_bytes;
      const size_t c = col % kSuperblockCols;
      const CodeSlot slot = SlotOf(l.shape.bits, r, c);
      unsigned q = (sb[slot.byte] >> slot.shift) & plane_mask;
      if (l.shape.bits == 3) q |= ((sb[64 + r * 4 + c % 4] >> (c / 4)) & 1u) << 2;
      out.codes[row * k + col] = static_cast<uint8_t>(q);
    }
    for (size_t g = 0; g < ng; ++g) {
      const uint8_t* s = packed.tile_scales(t, g) + 2 * r;
      out.scales[row * ng + g] = static_cast<uint16_t>(s[0] | (s[1] << 8));
      out.zeros[row * ng + g] = packed.tile_zeros(t, g)[r];
    }
  }
  return out;
}

}  // namespace qasr::kernels
