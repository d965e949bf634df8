// FileChecksum (ISA-L) against zlib's crc32_z, the CRC the Python writer
// stores (zlib.crc32): every length to 300 bytes at every start offset to 64
// (the folding code's head/tail paths), large odd lengths, ranges computed
// on several threads and combined, and the header's checksum field read as
// zeros.
#include <zlib.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/format/model_file.h"
#include "gtest/gtest.h"

namespace qasr::engine {
namespace {

constexpr size_t kChecksumAt = 52;  // docs/FORMAT.md §2

uint32_t Reference(std::vector<uint8_t> b) {
  if (b.size() >= kChecksumAt + 4)
    for (size_t i = 0; i < 4; ++i) b[kChecksumAt + i] = 0;
  return static_cast<uint32_t>(crc32_z(0, b.data(), b.size()));
}

std::vector<uint8_t> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(FileChecksum, MatchesZlibForEveryLengthAndAlignment) {
  const std::vector<uint8_t> data = Random(64 + 300, 1);
  for (size_t offset = 0; offset < 64; ++offset) {
    for (size_t n = 0; n <= 300; ++n) {
      const std::span<const uint8_t> s(data.data() + offset, n);
      ASSERT_EQ(FileChecksum(s), Reference({s.begin(), s.end()}))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(FileChecksum, MatchesZlibOnLargeBuffers) {
  for (size_t n : {size_t{4095}, size_t{65537}, size_t{1} << 20, (size_t{3} << 20) + 13}) {
    const std::vector<uint8_t> data = Random(n + 7, static_cast<uint32_t>(n));
    for (size_t offset : {0, 1, 7}) {
      const std::span<const uint8_t> s(data.data() + offset, n);
      EXPECT_EQ(FileChecksum(s), Reference({s.begin(), s.end()}))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(FileChecksum, ParallelRangesGiveTheSameValue) {
  for (size_t n : {(size_t{8} << 20) - 1, (size_t{8} << 20) + 13, (size_t{17} << 20) + 5}) {
    const std::vector<uint8_t> data = Random(n, static_cast<uint32_t>(n));
    const uint32_t want = Reference(data);
    for (int threads : {1, 2, 3, 4, 16, 5000}) {
      EXPECT_EQ(FileChecksum(data, threads), want) << "length " << n << " threads " << threads;
    }
  }
}

TEST(FileChecksum, IgnoresTheChecksumFieldOnly) {
  std::vector<uint8_t> data = Random(4096, 2);
  const uint32_t crc = FileChecksum(data);
  for (size_t i = 0; i < 4; ++i) {
    data[kChecksumAt + i] ^= 0xff;
    EXPECT_EQ(FileChecksum(data), crc);
  }
  data[kChecksumAt - 1] ^= 1;
  EXPECT_NE(FileChecksum(data), crc);
}

TEST(FileChecksum, KnownValues) {
  EXPECT_EQ(FileChecksum({}), 0u);
  const std::string s = "123456789";  // the CRC-32 check value
  EXPECT_EQ(FileChecksum({reinterpret_cast<const uint8_t*>(s.data()), s.size()}), 0xCBF43926u);
}

}  // namespace
}  // namespace qasr::engine
