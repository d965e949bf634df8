// Read-only memory map of a whole file (RAII). The mapping's address never
// changes while the object lives, so views into it survive moves.
// Thread-safety: immutable after Open; bytes() may be read from any thread.
// If another process truncates the file while it is mapped, reads fault
// (SIGBUS): model files are replaced by rename, never rewritten in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kernels/base/status.h"

namespace qasr::engine {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  // Maps `path` read-only. An empty file gives an empty span, no mapping.
  static Result<MappedFile> Open(const std::string& path);

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  // Drops this process's resident copies of the whole pages of `range` that
  // lie within `mapping` (the bytes() of a live MappedFile; nothing outside
  // it is touched): a later read of them faults them back in from the file,
  // so nothing but the resident set changes. For data the engine has copied
  // into another layout and no longer reads.
  static void ReleasePages(std::span<const uint8_t> mapping, std::span<const uint8_t> range);

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void Reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace qasr::engine
