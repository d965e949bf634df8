#include "engine/format/model_file.h"

#include <isa-l/crc.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <utility>
#include <vector>

#include "engine/format/entry_parser.h"
#include "kernels/base/thread_pool.h"

namespace qasr::engine {

namespace {

constexpr size_t kChecksumAt = HeaderField::checksum;
constexpr size_t kMaxHeaderBytes = 4096;
constexpr size_t kMaxEntryBytes = 1024;
constexpr uint32_t kMaxAlignment = 1u << 16;
constexpr size_t kMinChecksumRange = size_t{4} << 20;
constexpr int kMaxThreads = 1024;

// zlib's CRC-32 (same value and chaining as zlib's crc32_z): ISA-L folds
// with carry-less multiplication (PCLMULQDQ / PMULL, chosen at run time),
// 2-3x zlib 1.2.13's table-driven loop on a mapped file (bench_load). zlib's
// crc32_combine joins the CRCs of ranges computed in parallel.
uint32_t Crc(uint32_t crc, const uint8_t* p, size_t n) {
  return n == 0 ? crc : crc32_gzip_refl(crc, p, n);
}

std::string Str(uint64_t v) { return std::to_string(v); }

// The checksum of bytes [0, n) of a file (the field zeroed when inside).
uint32_t HeadChecksum(const uint8_t* p, size_t n) {
  if (n < kChecksumAt + 4) return Crc(0, p, n);
  const uint8_t zeros[4] = {0, 0, 0, 0};
  uint32_t crc = Crc(0, p, kChecksumAt);
  crc = Crc(crc, zeros, 4);
  return Crc(crc, p + kChecksumAt + 4, n - kChecksumAt - 4);
}

}  // namespace

uint32_t FileChecksum(std::span<const uint8_t> bytes, int threads) {
  const size_t n = bytes.size();
  const size_t parts = std::min<size_t>(static_cast<size_t>(std::clamp(threads, 1, kMaxThreads)),
                                        std::max<size_t>(1, n / kMinChecksumRange));
  if (parts <= 1) return HeadChecksum(bytes.data(), n);
  // Range i is [i * n / parts, (i + 1) * n / parts); range 0 holds the header.
  // (i * n cannot overflow: i <= 1024 and n is a file size.)
  std::vector<uint32_t> crcs(parts);
  auto range = [&](size_t i) { return i * n / parts; };
  try {
    kernels::ThreadPool pool(parts);
    pool.ParallelFor(parts, [&](size_t i) {
      const uint8_t* p = bytes.data() + range(i);
      const size_t len = range(i + 1) - range(i);
      crcs[i] = i == 0 ? HeadChecksum(p, len) : Crc(0, p, len);
    });
  } catch (const std::exception&) {  // no threads to be had: one range
    return HeadChecksum(bytes.data(), n);
  }
  uLong crc = crcs[0];
  for (size_t i = 1; i < parts; ++i)
    crc = crc32_combine(crc, crcs[i], static_cast<z_off_t>(range(i + 1) - range(i)));
  return static_cast<uint32_t>(crc);
}

uint64_t TensorView::num_elements() const {
  uint64_t n = 1;
  for (size_t i = 0; i < rank; ++i) n *= dims[i];  // bounded at load
  return n;
}

std::span<const float> TensorView::f32() const {
  if (dtype != DType::f32) return {};
  return {reinterpret_cast<const float*>(bytes.data()), bytes.size() / sizeof(float)};
}

std::span<const uint16_t> TensorView::f16() const {
  if (dtype != DType::f16) return {};
  return {reinterpret_cast<const uint16_t*>(bytes.data()), bytes.size() / sizeof(uint16_t)};
}

Result<ModelFile> ModelFile::Open(const std::string& path, const LoadOptions& options) {
  Result<MappedFile> map = MappedFile::Open(path);
  if (!map.ok()) return map.status();
  ModelFile file;
  file.map_ = std::move(*map);
  file.bytes_ = file.map_.bytes();
  if (Status s = file.Parse(options); !s.ok()) return Status(s.code(), path + ": " + s.message());
  return file;
}

Result<ModelFile> ModelFile::FromBytes(std::span<const uint8_t> bytes, const LoadOptions& options) {
  ModelFile file;
  if (!bytes.empty()) {
    file.owned_ = hwy::AllocateAligned<uint8_t>(bytes.size());
    if (!file.owned_) return Status(StatusCode::kResourceExhausted, "copying model bytes");
    std::memcpy(file.owned_.get(), bytes.data(), bytes.size());
    file.bytes_ = {file.owned_.get(), bytes.size()};
  }
  QASR_RETURN_IF_ERROR(file.Parse(options));
  return file;
}

const TensorView* ModelFile::Find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](uint32_t i, std::string_view n) { return tensors_[i].name < n; });
  if (it == by_name_.end() || tensors_[*it].name != name) return nullptr;
  return &tensors_[*it];
}

Status ModelFile::ParseHeader(const LoadOptions& options, uint64_t* table_offset,
                              uint64_t* table_bytes, uint32_t* entry_count, uint32_t* entry_bytes,
                              uint32_t* alignment) {
  const size_t size = bytes_.size();
  const uint8_t* h = bytes_.data();
  if (size < spec::kHeaderBytes)
    return DataLoss("truncated: " + Str(size) + " bytes, the header alone needs " +
                    Str(spec::kHeaderBytes));
  if (std::memcmp(h + HeaderField::magic, spec::kMagic, 8) != 0)
    return DataLoss("not a qasr model file (bad magic)");
  version_major_ = LoadLE<uint16_t>(h + HeaderField::version_major);
  version_minor_ = LoadLE<uint16_t>(h + HeaderField::version_minor);
  if (version_major_ != spec::kVersionMajor)
    return Unimplemented("format version " + Str(version_major_) + "." + Str(version_minor_) +
                         " is not supported (this reader reads " + Str(spec::kVersionMajor) +
                         ".x)");
  const auto header_bytes = LoadLE<uint32_t>(h + HeaderField::header_bytes);
  if (header_bytes < spec::kHeaderBytes || header_bytes > kMaxHeaderBytes || header_bytes > size)
    return DataLoss("bad header size " + Str(header_bytes));
  const auto file_bytes = LoadLE<uint64_t>(h + HeaderField::file_bytes);
  if (file_bytes != size)
    return DataLoss("file is " + Str(size) + " bytes but its header says " + Str(file_bytes) +
                    " (truncated or padded)");
  checksum_ = LoadLE<uint32_t>(h + HeaderField::checksum);
  if (options.verify_checksum && FileChecksum(bytes_, options.threads) != checksum_)
    return DataLoss("checksum mismatch (file corrupted)");
  *alignment = LoadLE<uint32_t>(h + HeaderField::alignment);
  if (*alignment < spec::kAlignment || *alignment > kMaxAlignment ||
      (*alignment & (*alignment - 1)) != 0)
    return DataLoss("bad alignment " + Str(*alignment));
  *entry_count = LoadLE<uint32_t>(h + HeaderField::entry_count);
  *entry_bytes = LoadLE<uint32_t>(h + HeaderField::entry_bytes);
  *table_offset = LoadLE<uint64_t>(h + HeaderField::table_offset);
  *table_bytes = LoadLE<uint64_t>(h + HeaderField::table_bytes);
  if (*entry_bytes < spec::kEntryBytes || *entry_bytes > kMaxEntryBytes)
    return DataLoss("bad table entry size " + Str(*entry_bytes));
  if (*entry_count > Limits::max_entries) return DataLoss("too many entries " + Str(*entry_count));
  if (*table_offset < header_bytes || *table_offset > size || *table_bytes > size - *table_offset)
    return DataLoss("table [" + Str(*table_offset) + ", +" + Str(*table_bytes) +
                    ") outside the file");
  if (uint64_t{*entry_count} * *entry_bytes > *table_bytes)
    return DataLoss(Str(*entry_count) + " entries do not fit the table");
  return Status::Ok();
}

Status ModelFile::Parse(const LoadOptions& options) {
  uint64_t table_offset = 0, table_bytes = 0;
  uint32_t entry_count = 0, entry_bytes = 0, alignment = 0;
  QASR_RETURN_IF_ERROR(
      ParseHeader(options, &table_offset, &table_bytes, &entry_count, &entry_bytes, &alignment));

  EntryParser parser(bytes_, table_offset, table_bytes, entry_count, entry_bytes, alignment);
  std::vector<TensorView> entries;
  entries.reserve(entry_count);
  for (uint32_t i = 0; i < entry_count; ++i) {
    Result<TensorView> e = parser.Parse(i);
    if (!e.ok()) return e.status();
    entries.push_back(*e);
  }
  QASR_RETURN_IF_ERROR(CheckUniqueNames(entries));
  QASR_RETURN_IF_ERROR(CheckNoOverlap(entries));

  for (const TensorView& e : entries) {
    if (e.kind == EntryKind::tensor) {
      tensors_.push_back(e);
    } else {
      QASR_RETURN_IF_ERROR(ParseBlob(e));
    }
  }
  if (config_json_.empty()) return DataLoss("no model config");
  if (feature_json_.empty()) return DataLoss("no feature config");
  if (spm_.empty()) return DataLoss("no tokenizer model");
  if (metadata_json_.empty()) return DataLoss("no metadata");
  if (feature_config_.num_mel_bins != config_.input_feat * config_.in_channels)
    return DataLoss("feature config has " + Str(feature_config_.num_mel_bins) +
                    " mel bins but the model reads " +
                    Str(uint64_t(config_.input_feat) * config_.in_channels));

  by_name_.resize(tensors_.size());
  for (uint32_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
  std::sort(by_name_.begin(), by_name_.end(),
            [&](uint32_t a, uint32_t b) { return tensors_[a].name < tensors_[b].name; });
  return Status::Ok();
}

Status ModelFile::ParseBlob(const TensorView& e) {
  const std::string_view text(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
  switch (e.kind) {
    case EntryKind::model_config: {
      Result<ModelConfig> c = ParseModelConfig(text);
      if (!c.ok()) return c.status();
      config_ = std::move(*c);
      config_json_ = text;
      return Status::Ok();
    }
    case EntryKind::feature_config: {
      Result<FeatureConfig> c = ParseFeatureConfig(text);
      if (!c.ok()) return c.status();
      feature_config_ = std::move(*c);
      feature_json_ = text;
      return Status::Ok();
    }
    case EntryKind::tokenizer:
      spm_ = e.bytes;
      return Status::Ok();
    case EntryKind::metadata:
      QASR_RETURN_IF_ERROR(ValidateJsonObject(text, "metadata"));
      metadata_json_ = text;
      return Status::Ok();
    default:
      return Status::Ok();  // kinds from a newer minor version: ignored
  }
}

}  // namespace qasr::engine
