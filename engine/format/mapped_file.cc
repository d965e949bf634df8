#include "engine/format/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace qasr::engine {

namespace {

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

Status Errno(StatusCode code, const std::string& what, const std::string& path) {
  return {code, what + " " + path + ": " + std::strerror(errno)};
}

}  // namespace

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() { Reset(); }

void MappedFile::Reset() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

void MappedFile::ReleasePages(std::span<const uint8_t> mapping, std::span<const uint8_t> range) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto map_lo = reinterpret_cast<uintptr_t>(mapping.data());
  const uintptr_t map_hi = map_lo + mapping.size();
  const uintptr_t lo = std::max(reinterpret_cast<uintptr_t>(range.data()), map_lo);
  const uintptr_t hi = std::min(reinterpret_cast<uintptr_t>(range.data()) + range.size(), map_hi);
  if (mapping.empty() || range.empty() || lo >= hi) return;
  const uintptr_t first = (lo + page - 1) / page * page, last = hi / page * page;
  // A private, read-only, never-written file mapping: MADV_DONTNEED unmaps
  // the pages and the next access re-reads them from the page cache.
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Result<MappedFile> MappedFile::Open(const std::string& path) {
  const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return Errno(errno == ENOENT ? StatusCode::kNotFound : StatusCode::kInvalidArgument,
                 "cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Errno(StatusCode::kInternal, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("not a regular file: " + path);
  if (st.st_size == 0) return MappedFile();
  const auto size = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) return Errno(StatusCode::kResourceExhausted, "cannot map", path);
  return MappedFile(static_cast<const uint8_t*>(p), size);
}

}  // namespace qasr::engine
