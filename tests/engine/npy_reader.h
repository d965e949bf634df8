// Minimal reader of little-endian float32 .npy files (format 1.0/2.0, C order)
// for the engine's parity tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace qasr::engine::testing {

struct NpyArray {
  std::vector<size_t> shape;
  std::vector<float> data;
};

// Empty shape and data on any error.
inline NpyArray ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  NpyArray a;
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) return a;
  const int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    offset = 10;
  } else {
    uint32_t v = 0;
    std::memcpy(&v, bytes.data() + 8, 4);
    header_len = v;
    offset = 12;
  }
  const std::string header = bytes.substr(offset, header_len);
  if (header.find("'<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos)
    return a;
  const size_t open = header.find('(', header.find("'shape'"));
  const size_t close = header.find(')', open);
  std::string dims = header.substr(open + 1, close - open - 1);
  size_t count = 1;
  for (size_t pos = 0; pos < dims.size();) {
    const size_t comma = dims.find(',', pos);
    const std::string tok =
        dims.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (tok.find_first_of("0123456789") != std::string::npos) {
      a.shape.push_back(std::stoul(tok));
      count *= a.shape.back();
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const size_t data_at = offset + header_len;
  if (bytes.size() - data_at != count * sizeof(float)) return {};
  a.data.resize(count);
  std::memcpy(a.data.data(), bytes.data() + data_at, count * sizeof(float));
  return a;
}

}  // namespace qasr::engine::testing
