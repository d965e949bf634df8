// Helpers for the model-file tests: the Python-written test files and a
// mutable copy of a file whose table fields can be patched and resealed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/format/model_file.h"

namespace qasr::engine::testing {

// $QASR_TESTDATA/<name> (written by `python3 -m qasr.export testdata`).
std::string TestFile(const std::string& name);
std::vector<uint8_t> ReadBytes(const std::string& path);

// A file image with helpers to patch fields and recompute the checksum.
class FileImage {
 public:
  explicit FileImage(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  std::vector<uint8_t>& bytes() { return bytes_; }
  // Byte offset of the table entry named `name` (the test fails if absent).
  size_t Entry(std::string_view name) const;
  size_t EntryIndex(std::string_view name) const;
  size_t table_end() const;
  template <typename T>
  void Store(size_t at, T value) {
    for (size_t i = 0; i < sizeof(T); ++i) bytes_[at + i] = static_cast<uint8_t>(value >> (8 * i));
  }
  template <typename T>
  T Load(size_t at) const {
    return LoadLE<T>(bytes_.data() + at);
  }
  // Replaces the first occurrence of `from` (inside entry `name`'s data) by
  // `to` of the same length; the test fails if absent.
  void ReplaceInBlob(std::string_view name, std::string_view from, std::string_view to);
  void Reseal();  // recompute the checksum
  Result<ModelFile> Parse(bool verify_checksum = true) const;

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace qasr::engine::testing
