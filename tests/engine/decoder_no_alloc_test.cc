// After BeginDecode, decoder steps must not allocate (docs/ARCHITECTURE.md,
// engine memory plan). This binary counts every global operator new while a
// step runs. (Kernel buffers come from hwy::AllocateAligned, i.e. malloc;
// those are sized at BeginDecode too but are not counted here.)
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "engine/runtime/session.h"
#include "engine_fixture.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_news{0};

void* Allocate(size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_news.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace qasr::engine {
namespace {

TEST(DecoderMemory, StepsDoNotAllocate) {
  const std::string dir = testing::EngineFixtureDir();
  if (dir.empty()) GTEST_SKIP() << "QASR_ENGINE_FIXTURE not set";
  for (const char* variant : {"fp32", "w4g64"}) {
    SCOPED_TRACE(variant);
    auto model = Model::Load(dir + "/" + variant + ".qasr");
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    for (int threads : {1, 2}) {
      Session s(*model, threads);
      std::vector<float> feats(50 * 80, 0.1f);
      for (size_t i = 0; i < feats.size(); ++i) feats[i] = static_cast<float>(i % 7) * 0.3f - 1.0f;
      g_news = 0;
      g_counting = true;  // the hook works: the first Encode sizes its buffers
      ASSERT_TRUE(s.Encode(feats, 50).ok());
      g_counting = false;
      EXPECT_GT(g_news.load(), 0u);
      ASSERT_TRUE(s.BeginDecode(4, 64).ok());
      std::vector<float> lp(4 * 40);
      std::vector<int32_t> parents{0, 0, 0, 0}, tokens{2, 5, 6, 7};
      g_news = 0;
      g_counting = true;
      ASSERT_TRUE(s.Step({parents.data(), 1}, {tokens.data(), 1}, lp).ok());
      for (int step = 1; step < 60; ++step) {
        const size_t n = step % 5 == 0 ? 2 : 4;
        for (size_t i = 0; i < n; ++i) {
          parents[i] = step == 1 ? 0 : static_cast<int32_t>((i + static_cast<size_t>(step)) % 2);
          tokens[i] = static_cast<int32_t>(4 + (i + static_cast<size_t>(step)) % 30);
        }
        ASSERT_TRUE(s.Step({parents.data(), n}, {tokens.data(), n}, lp).ok());
      }
      g_counting = false;
      EXPECT_EQ(g_news.load(), 0u) << "threads " << threads;
    }
  }
}

}  // namespace
}  // namespace qasr::engine
