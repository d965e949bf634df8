#include "tests/engine/model_file_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace qasr::engine::testing {

std::string TestFile(const std::string& name) {
  const char* dir = std::getenv("QASR_TESTDATA");
  return std::string(dir != nullptr ? dir : "tests/engine/testdata") + "/" + name;
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

size_t FileImage::EntryIndex(std::string_view name) const {
  const auto count = Load<uint32_t>(HeaderField::entry_count);
  const auto table = Load<uint64_t>(HeaderField::table_offset);
  const auto entry_bytes = Load<uint32_t>(HeaderField::entry_bytes);
  const size_t strings = table + size_t{count} * entry_bytes;
  for (size_t i = 0; i < count; ++i) {
    const size_t e = table + i * entry_bytes;
    const std::string_view n(reinterpret_cast<const char*>(bytes_.data()) + strings +
                                 Load<uint32_t>(e + EntryField::name_offset),
                             Load<uint16_t>(e + EntryField::name_bytes));
    if (n == name) return i;
  }
  ADD_FAILURE() << "no entry " << name;
  return 0;
}

size_t FileImage::Entry(std::string_view name) const {
  return Load<uint64_t>(HeaderField::table_offset) +
         EntryIndex(name) * Load<uint32_t>(HeaderField::entry_bytes);
}

size_t FileImage::table_end() const {
  return Load<uint64_t>(HeaderField::table_offset) + Load<uint64_t>(HeaderField::table_bytes);
}

void FileImage::ReplaceInBlob(std::string_view name, std::string_view from, std::string_view to) {
  ASSERT_EQ(from.size(), to.size());
  const size_t e = Entry(name);
  const auto begin = bytes_.begin() + static_cast<ptrdiff_t>(Load<uint64_t>(e));
  const auto end = begin + static_cast<ptrdiff_t>(Load<uint64_t>(e + EntryField::data_bytes));
  auto it = std::search(begin, end, from.begin(), from.end());
  ASSERT_NE(it, end) << "'" << from << "' not in " << name;
  std::copy(to.begin(), to.end(), it);
}

void FileImage::Reseal() { Store<uint32_t>(HeaderField::checksum, FileChecksum(bytes_)); }

Result<ModelFile> FileImage::Parse(bool verify_checksum) const {
  LoadOptions options;
  options.verify_checksum = verify_checksum;
  return ModelFile::FromBytes(bytes_, options);
}

}  // namespace qasr::engine::testing
