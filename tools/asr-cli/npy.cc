#include "tools/asr-cli/npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace qasr::cli {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

std::string NpyHeader(const std::vector<size_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
  }
  dict += "), }";
  // magic(6) + version(2) + length(2) + dict + padding + '\n' is a multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string header("\x93NUMPY\x01\x00", 8);
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

}  // namespace

Status WriteNpyFloat32(const std::string& path, std::span<const float> data,
                       const std::vector<size_t>& shape) {
  size_t count = 1;
  for (size_t d : shape) count *= d;
  if (count != data.size()) return InvalidArgument("npy: shape does not match the data size");
  static_assert(sizeof(float) == 4);
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "wb"));
  if (!file) return NotFound("cannot write '" + path + "': " + std::strerror(errno));
  const std::string header = NpyHeader(shape);
  bool ok = std::fwrite(header.data(), 1, header.size(), file.get()) == header.size();
  if (ok && !data.empty()) {
    ok = std::fwrite(data.data(), sizeof(float), data.size(), file.get()) == data.size();
  }
  ok = std::fclose(file.release()) == 0 && ok;
  if (!ok) return DataLoss("error while writing '" + path + "': " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace qasr::cli
