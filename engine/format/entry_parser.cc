#include "engine/format/entry_parser.h"

#include <algorithm>
#include <string>

namespace qasr::engine {

namespace {

std::string Str(uint64_t v) { return std::to_string(v); }

bool NameChar(uint8_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == ':';
}

// a * b, or false on overflow.
bool MulOk(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

}  // namespace

EntryParser::EntryParser(std::span<const uint8_t> file, uint64_t table_offset, uint64_t table_bytes,
                         uint32_t entry_count, uint32_t entry_bytes, uint32_t alignment)
    : file_(file),
      table_offset_(table_offset),
      table_end_(table_offset + table_bytes),  // checked by the header parser
      strings_offset_(table_offset + uint64_t{entry_count} * entry_bytes),
      entry_bytes_(entry_bytes),
      alignment_(alignment) {}

Result<TensorView> EntryParser::Parse(uint32_t index) const {
  const uint8_t* e = file_.data() + table_offset_ + uint64_t{index} * entry_bytes_;
  TensorView out;
  QASR_RETURN_IF_ERROR(CheckName(index, e, &out));
  const std::string who = "entry " + Str(index) + " '" + std::string(out.name) + "': ";
  Status s = CheckData(e, &out);
  if (s.ok()) {
    const uint8_t kind = e[EntryField::kind];
    out.kind = static_cast<EntryKind>(kind);
    if (kind == static_cast<uint8_t>(EntryKind::tensor)) {
      s = CheckTensor(e, &out);
    } else if (EntryKindName(kind) != nullptr) {
      s = CheckBlob(e, &out);
    }  // unknown kinds (newer minor version) are bounds-checked only
  }
  if (!s.ok()) return Status(s.code(), who + s.message());
  return out;
}

Status EntryParser::CheckName(uint32_t index, const uint8_t* e, TensorView* out) const {
  const auto offset = LoadLE<uint32_t>(e + EntryField::name_offset);
  const auto size = LoadLE<uint16_t>(e + EntryField::name_bytes);
  const std::string who = "entry " + Str(index) + ": ";
  if (size == 0 || size > Limits::max_name_bytes) return DataLoss(who + "bad name length");
  const uint64_t begin = strings_offset_ + offset;
  if (begin > table_end_ || size > table_end_ - begin) return DataLoss(who + "name out of bounds");
  const uint8_t* p = file_.data() + begin;
  if (!std::all_of(p, p + size, NameChar)) return DataLoss(who + "name has invalid characters");
  out->name = {reinterpret_cast<const char*>(p), size};
  return Status::Ok();
}

Status EntryParser::CheckData(const uint8_t* e, TensorView* out) const {
  const auto offset = LoadLE<uint64_t>(e + EntryField::data_offset);
  const auto size = LoadLE<uint64_t>(e + EntryField::data_bytes);
  if (offset % alignment_ != 0) return DataLoss("data offset " + Str(offset) + " misaligned");
  if (offset < table_end_) return DataLoss("data overlaps the header or table");
  if (offset > file_.size() || size > file_.size() - offset)
    return DataLoss("data [" + Str(offset) + ", +" + Str(size) + ") outside the file");
  out->offset = offset;
  out->bytes = file_.subspan(offset, size);
  return Status::Ok();
}

Status EntryParser::CheckTensor(const uint8_t* e, TensorView* out) const {
  const uint8_t dtype = e[EntryField::dtype];
  if (DTypeName(dtype) == nullptr || dtype == static_cast<uint8_t>(DType::raw))
    return Unimplemented("unknown tensor dtype " + Str(dtype));
  out->dtype = static_cast<DType>(dtype);
  out->rank = e[EntryField::rank];
  if (out->rank > spec::kMaxRank) return DataLoss("rank " + Str(out->rank) + " too large");
  const size_t dim_at[spec::kMaxRank] = {EntryField::dim0, EntryField::dim1, EntryField::dim2,
                                         EntryField::dim3};
  uint64_t elements = 1;
  for (size_t i = 0; i < spec::kMaxRank; ++i) {
    out->dims[i] = LoadLE<uint64_t>(e + dim_at[i]);
    if (i >= out->rank && out->dims[i] != 0) return DataLoss("nonzero dim beyond rank");
    if (i < out->rank && (out->dims[i] == 0 || out->dims[i] > Limits::max_dim))
      return DataLoss("dim " + Str(i) + " = " + Str(out->dims[i]) + " out of range");
    if (i < out->rank && !MulOk(elements, out->dims[i], &elements))
      return DataLoss("element count overflows");
  }
  out->group = LoadLE<uint32_t>(e + EntryField::group);
  const int bits = PackedBits(out->dtype);
  if (bits == 0) {
    if (out->group != 0) return DataLoss("group set on an unpacked tensor");
    uint64_t expected = 0;
    if (!MulOk(elements, static_cast<uint64_t>(DTypeBits(dtype)) / 8, &expected) ||
        expected != out->bytes.size())
      return DataLoss(Str(out->bytes.size()) + " bytes for " + Str(elements) + " " +
                      DTypeName(dtype) + " elements");
    return Status::Ok();
  }
  if (out->rank != 2) return DataLoss("packed weights must have rank 2");
  const kernels::WeightShape shape{bits, out->dims[0], out->dims[1], out->group};
  Result<kernels::PackedWeightsView> view =
      kernels::PackedWeightsView::FromBytes(shape, out->bytes.data(), out->bytes.size());
  if (!view.ok()) return Status(StatusCode::kDataLoss, view.status().message());
  out->packed = *view;
  return Status::Ok();
}

Status EntryParser::CheckBlob(const uint8_t* e, TensorView* out) const {
  if (e[EntryField::dtype] != static_cast<uint8_t>(DType::raw) || e[EntryField::rank] != 0 ||
      LoadLE<uint32_t>(e + EntryField::group) != 0)
    return DataLoss("a blob has no dtype, shape or group");
  for (size_t at : {EntryField::dim0, EntryField::dim1, EntryField::dim2, EntryField::dim3})
    if (LoadLE<uint64_t>(e + at) != 0) return DataLoss("a blob has no dims");
  if (out->name != BlobName(out->kind))
    return DataLoss("expected the name '" + std::string(BlobName(out->kind)) + "'");
  const uint64_t limit =
      out->kind == EntryKind::tokenizer ? Limits::max_tokenizer_bytes : Limits::max_json_bytes;
  if (out->bytes.size() > limit) return OutOfRange("blob larger than " + Str(limit) + " bytes");
  return Status::Ok();
}

Status CheckUniqueNames(const std::vector<TensorView>& entries) {
  std::vector<std::string_view> names;
  names.reserve(entries.size());
  for (const TensorView& e : entries) names.push_back(e.name);
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end()) return DataLoss("duplicate entry name '" + std::string(*dup) + "'");
  return Status::Ok();
}

Status CheckNoOverlap(const std::vector<TensorView>& entries) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [begin, end)
  ranges.reserve(entries.size());
  for (const TensorView& e : entries)
    if (!e.bytes.empty()) ranges.emplace_back(e.offset, e.offset + e.bytes.size());
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      return DataLoss("entries overlap at byte " + Str(ranges[i].first));
  return Status::Ok();
}

}  // namespace qasr::engine
