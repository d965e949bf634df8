// LazyPanels: packs once, on first use, identically to kernels::PackPanels,
// from borrowed, transposed or owned weights, and from several threads at
// once (std::call_once; a -DQASR_SANITIZE=thread build checks the races);
// hands a borrowed source to its release function once packed. And the
// release the engine uses: MappedFile::ReleasePages drops resident pages of
// a file mapping without changing what reading it returns.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/format/mapped_file.h"
#include "engine/ops/linear.h"
#include "gtest/gtest.h"

namespace qasr::engine {
namespace {

std::vector<float> Weights(size_t n, size_t k) {
  std::vector<float> w(n * k);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97) - 48.0f;
  return w;
}

void ExpectSame(const kernels::DensePanels& got, const std::vector<float>& w, size_t n, size_t k) {
  kernels::DensePanels want;
  ASSERT_TRUE(kernels::PackPanels(w.data(), k, n, k, false, want).ok());
  ASSERT_EQ(got.n, n);
  ASSERT_EQ(got.k, k);
  ASSERT_EQ(got.panels, want.panels);
  for (size_t i = 0; i < want.panels * k * kernels::kPanelCols; ++i)
    ASSERT_EQ(got.data[i], want.data[i]) << i;
}

// The first Get() of `lazy` succeeds and packs exactly what PackPanels packs from `w`.
void ExpectPacks(const LazyPanels& lazy, const std::vector<float>& w, size_t n, size_t k) {
  auto p = lazy.Get();
  ASSERT_TRUE(p.ok());
  ExpectSame(**p, w, n, k);
}

TEST(LazyPanels, BorrowedPacksOnFirstGetOnly) {
  const size_t n = 37, k = 19;
  const std::vector<float> w = Weights(n, k);
  const LazyPanels lazy(w.data(), n, k);
  auto first = lazy.Get();
  ASSERT_TRUE(first.ok());
  ExpectSame(**first, w, n, k);
  auto again = lazy.Get();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
}

TEST(LazyPanels, Transposed) {
  const size_t n = 21, k = 33;
  const std::vector<float> w = Weights(n, k);  // [n][k]
  std::vector<float> t(k * n);                 // [k][n]
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k; ++j) t[j * n + i] = w[i * k + j];
  ExpectPacks(LazyPanels(t.data(), n, k, true), w, n, k);
}

TEST(LazyPanels, Owned) {
  const size_t n = 16, k = 5;
  const std::vector<float> w = Weights(n, k);
  ExpectPacks(LazyPanels(std::vector<float>(w), n, k), w, n, k);
}

TEST(LazyPanels, ConcurrentFirstUse) {
  const size_t n = 100, k = 300;
  const std::vector<float> w = Weights(n, k);
  for (int round = 0; round < 20; ++round) {
    const LazyPanels lazy(w.data(), n, k);
    std::vector<const kernels::DensePanels*> seen(4, nullptr);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < seen.size(); ++t)
      threads.emplace_back([&, t] {
        auto p = lazy.Get();
        if (p.ok()) seen[t] = *p;
      });
    for (auto& t : threads) t.join();
    for (const auto* p : seen) ASSERT_EQ(p, seen[0]);
    ASSERT_NE(seen[0], nullptr);
    ExpectSame(*seen[0], w, n, k);
  }
}

TEST(LazyPanels, ReleasesTheBorrowedSourceOnceAfterPacking) {
  const size_t n = 24, k = 40;
  const std::vector<float> w = Weights(n, k);
  std::vector<std::span<const uint8_t>> released;
  const LazyPanels lazy(w.data(), n, k, false,
                        [&](std::span<const uint8_t> r) { released.push_back(r); });
  EXPECT_TRUE(released.empty());  // nothing before the first use
  ExpectPacks(lazy, w, n, k);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].data(), reinterpret_cast<const uint8_t*>(w.data()));
  EXPECT_EQ(released[0].size(), n * k * sizeof(float));
  ASSERT_TRUE(lazy.Get().ok());
  EXPECT_EQ(released.size(), 1u);
}

TEST(LazyPanels, AFailedPackReleasesNothing) {
  bool called = false;
  const LazyPanels lazy(static_cast<const float*>(nullptr), 4, 4, false,
                        [&](std::span<const uint8_t>) { called = true; });
  EXPECT_FALSE(lazy.Get().ok());
  EXPECT_FALSE(called);
}

// Resident kB of the mapping that starts at `p` (/proc/self/smaps), -1 if absent.
long ResidentKb(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::ostringstream want;
  want << std::hex << reinterpret_cast<uintptr_t>(p) << "-";
  std::string line;
  bool in = false;
  while (std::getline(smaps, line)) {
    if (line.rfind(want.str(), 0) == 0) in = true;
    if (in && line.rfind("Rss:", 0) == 0) return std::stol(line.substr(4));
  }
  return -1;
}

TEST(MappedFile, ReleasedPagesReadBackFromTheFile) {
  const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t size = 64 * page + 123;
  std::vector<uint8_t> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  const auto path = std::filesystem::temp_directory_path() /
                    ("qasr_release_test_" + std::to_string(::getpid()) + ".bin");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(size));
  }
  auto file = MappedFile::Open(path.string());
  std::filesystem::remove(path);  // the mapping keeps the data
  ASSERT_TRUE(file.ok());
  const std::span<const uint8_t> bytes = file->bytes();
  ASSERT_EQ(bytes.size(), size);
  unsigned sum = 0;
  for (size_t i = 0; i < size; i += page) sum += bytes[i];  // make every page resident
  EXPECT_GT(sum, 0u);
  const long before = ResidentKb(bytes.data());
  EXPECT_GE(before, static_cast<long>(64 * page / 1024));
  // A range that starts mid-page, ends past the mapping (clipped), and an
  // empty range and one outside the mapping (ignored).
  MappedFile::ReleasePages(bytes, {bytes.data() + 100, size + 4096});
  MappedFile::ReleasePages(bytes, {});
  MappedFile::ReleasePages(bytes, {data.data(), data.size()});
  const long after = ResidentKb(bytes.data());
  EXPECT_LE(after, static_cast<long>(2 * page / 1024)) << "before " << before;
  EXPECT_TRUE(std::equal(data.begin(), data.end(), bytes.begin()));  // faulted back in intact
}

TEST(LazyPanels, ErrorIsReturnedByEveryGet) {
  const LazyPanels lazy(static_cast<const float*>(nullptr), 4, 4);
  EXPECT_FALSE(lazy.Get().ok());
  EXPECT_FALSE(lazy.Get().ok());
}

}  // namespace
}  // namespace qasr::engine
