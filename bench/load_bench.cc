// Model load time, split into its parts, with zlib's CRC-32 as the baseline
// for the checksum (same run, same file, same mapping state):
//
//   bench_load MODEL... [--reps N] [--threads T] [--cold] [--only CASE]
//
// Per model and repetition, each case maps the file afresh (so page faults
// are counted in every case, as in a real load):
//   crc_zlib      zlib 1.2.13 crc32_z over the mapping (the old checksum)
//   crc           engine::FileChecksum (ISA-L) over the mapping, on --threads
//   open_nocrc    ModelFile::Open without / with the checksum
//   open
//   load_nocrc    Model::Load without / with the checksum (the default):
//   load          Open + registry check + weight resolution (no packing)
//   pack          Model::PackWeights after load_nocrc: the fp32 panel packing
//                 the first transcription pays (0 for packed models)
//   load_packed   Model::Load with the checksum and pack_at_load
//   load_before   the load before lazy packing and ISA-L (commit 260410e):
//                 zlib's CRC over a mapping, load_nocrc, packing on 1 thread
// --cold evicts the file from the page cache before every case
// (posix_fadvise DONTNEED; needs no privileges, but only drops clean pages
// no other process has mapped). One JSON line per model and case:
// {"model", "case", "cold", "reps", "min_ms", "median_ms", "max_ms"}.
#include <fcntl.h>
#include <isa-l/crc.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/format/mapped_file.h"
#include "engine/format/model_file.h"
#include "engine/runtime/session.h"

namespace {

using qasr::Status;
namespace engine = qasr::engine;

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Evict(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

// The case's own time in ms, or a negative value on error (printed).
using Case = std::function<double()>;

double Checked(const Status& s, double ms) {
  if (s.ok()) return ms;
  std::fprintf(stderr, "bench_load: %s\n", s.message().c_str());
  return -1;
}

uint32_t ZlibChecksum(std::span<const uint8_t> b) {
  constexpr size_t at = 52;  // header field `checksum` (docs/FORMAT.md §2)
  const uint8_t zeros[4] = {0, 0, 0, 0};
  uLong crc = crc32_z(0, b.data(), at);
  crc = crc32_z(crc, zeros, 4);
  return static_cast<uint32_t>(crc32_z(crc, b.data() + at + 4, b.size() - at - 4));
}

constexpr const char* kUsage =
    "usage: bench_load MODEL... [--reps N] [--threads T] [--cold] [--only CASE]\n";

struct Args {
  std::vector<std::string> models;
  int reps = 7;
  int threads = 1;
  bool cold = false;
  std::string only;  // run this case alone (profiling)
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    if (s == "--reps" && i + 1 < argc) {
      a.reps = std::max(1, std::atoi(argv[++i]));
    } else if (s == "--threads" && i + 1 < argc) {
      a.threads = std::max(1, std::atoi(argv[++i]));
    } else if (s == "--only" && i + 1 < argc) {
      a.only = argv[++i];
    } else if (s == "--cold") {
      a.cold = true;
    } else if (!s.empty() && s[0] != '-') {
      a.models.push_back(s);
    } else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (a.models.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  int failed = 0;
  for (const std::string& path : a.models) {
    engine::ModelOptions nocrc{a.threads, false, false}, crc{a.threads, true, false},
        packed{a.threads, true, true};
    uint32_t crc_isal = 0, crc_zlib = 0;
    // The case shapes: a checksum over a fresh mapping (optionally pre-faulted),
    // ModelFile::Open / Model::Load with some options, and PackWeights after a load.
    auto time_crc = [&](uint32_t* out, bool populate, auto checksum) -> Case {
      return [&path, out, populate, checksum] {
        auto m = engine::MappedFile::Open(path);
        if (!m.ok()) return Checked(m.status(), 0);
        const double t0 = NowMs();
        if (populate)
          ::madvise(const_cast<uint8_t*>(m->bytes().data()), m->bytes().size(), MADV_POPULATE_READ);
        *out = checksum(m->bytes());
        return NowMs() - t0;
      };
    };
    auto time_open = [&](bool verify) -> Case {
      return [&path, &a, verify] {
        const double t0 = NowMs();
        auto f = engine::ModelFile::Open(path, {verify, a.threads});
        return Checked(f.status(), NowMs() - t0);
      };
    };
    auto time_load = [&](const engine::ModelOptions& options) -> Case {
      return [&path, options] {
        const double t0 = NowMs();
        auto m = engine::Model::Load(path, options);
        return Checked(m.status(), NowMs() - t0);
      };
    };
    auto time_pack = [&](const engine::ModelOptions& options) -> Case {
      return [&path, &a, options] {
        auto m = engine::Model::Load(path, options);
        if (!m.ok()) return Checked(m.status(), 0);
        const double t0 = NowMs();
        const Status s = (*m)->PackWeights(a.threads);  // before reading the clock
        return Checked(s, NowMs() - t0);
      };
    };
    auto isal = [&a](std::span<const uint8_t> b) { return engine::FileChecksum(b, a.threads); };
    const std::vector<std::pair<const char*, Case>> cases = {
        {"crc_zlib", time_crc(&crc_zlib, false, ZlibChecksum)},
        {"crc", time_crc(&crc_isal, false, isal)},
        {"crc_populate", time_crc(&crc_isal, true, isal)},
        {"crc_pread",
         [&] {
           const double t0 = NowMs();
           const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
           std::vector<uint8_t> buf(size_t{1} << 20);
           uint32_t c = 0;
           size_t off = 0;
           for (;;) {
             const ssize_t r = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
             if (r <= 0) break;
             if (off == 0) std::memset(buf.data() + 52, 0, 4);
             c = crc32_gzip_refl(c, buf.data(), static_cast<uint64_t>(r));
             off += static_cast<size_t>(r);
           }
           ::close(fd);
           crc_isal = c;
           return NowMs() - t0;
         }},
        {"pack_after_crc", time_pack(crc)},
        {"open_nocrc", time_open(false)},
        {"open", time_open(true)},
        {"load_nocrc", time_load(nocrc)},
        {"load", time_load(crc)},
        {"pack", time_pack(nocrc)},
        {"load_packed", time_load(packed)},
        {"load_before",
         [&] {
           const double t0 = NowMs();
           {
             auto map = engine::MappedFile::Open(path);
             if (!map.ok()) return Checked(map.status(), 0);
             crc_zlib = ZlibChecksum(map->bytes());
           }
           auto m = engine::Model::Load(path, nocrc);
           if (!m.ok()) return Checked(m.status(), 0);
           const Status s = (*m)->PackWeights(1);
           return Checked(s, NowMs() - t0);
         }},
    };
    for (const auto& [name, run] : cases) {
      if (!a.only.empty() && a.only != name) continue;
      std::vector<double> ms;
      for (int r = 0; r < a.reps; ++r) {
        if (a.cold && !Evict(path)) {
          std::fprintf(stderr, "bench_load: cannot evict %s\n", path.c_str());
          return 1;
        }
        const double t = run();
        if (t < 0) {
          ++failed;
          break;
        }
        ms.push_back(t);
      }
      if (ms.empty()) continue;
      std::sort(ms.begin(), ms.end());
      std::printf(
          "{\"model\": \"%s\", \"case\": \"%s\", \"cold\": %s, \"threads\": %d, \"reps\": %zu, "
          "\"min_ms\": %.3f, \"median_ms\": %.3f, \"max_ms\": %.3f}\n",
          path.c_str(), name, a.cold ? "true" : "false", a.threads, ms.size(), ms.front(),
          ms[ms.size() / 2], ms.back());
      std::fflush(stdout);
    }
    if (a.only.empty() && crc_isal != crc_zlib) {
      std::fprintf(stderr, "bench_load: %s: ISA-L CRC %08x != zlib CRC %08x\n", path.c_str(),
                   crc_isal, crc_zlib);
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
