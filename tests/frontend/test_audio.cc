#include "tests/frontend/test_audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <random>

namespace qasr::frontend::testing {
namespace {

struct Buffer {
  std::vector<uint8_t> bytes;
  sf_count_t pos = 0;
};
sf_count_t Len(void* u) { return static_cast<sf_count_t>(static_cast<Buffer*>(u)->bytes.size()); }
sf_count_t Seek(sf_count_t off, int whence, void* u) {
  auto* b = static_cast<Buffer*>(u);
  sf_count_t base = whence == SEEK_CUR ? b->pos : whence == SEEK_END ? Len(u) : 0;
  b->pos = std::max<sf_count_t>(0, base + off);
  return b->pos;
}
sf_count_t Read(void* ptr, sf_count_t n, void* u) {
  auto* b = static_cast<Buffer*>(u);
  const sf_count_t got = std::clamp<sf_count_t>(Len(u) - b->pos, 0, n);
  if (got > 0) std::memcpy(ptr, b->bytes.data() + b->pos, static_cast<size_t>(got));
  b->pos += got;
  return got;
}
sf_count_t Write(const void* ptr, sf_count_t n, void* u) {
  auto* b = static_cast<Buffer*>(u);
  const auto end = static_cast<size_t>(b->pos + n);
  if (end > b->bytes.size()) b->bytes.resize(end);
  std::memcpy(b->bytes.data() + b->pos, ptr, static_cast<size_t>(n));
  b->pos += n;
  return n;
}
sf_count_t Tell(void* u) { return static_cast<Buffer*>(u)->pos; }

}  // namespace

std::vector<float> Sine(size_t n, double rate, double freq, double amplitude) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(amplitude * std::sin(2.0 * std::numbers::pi * freq * i / rate));
  }
  return x;
}

std::vector<float> Noise(size_t n, uint32_t seed, float amplitude) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-amplitude, amplitude);
  std::vector<float> x(n);
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<uint8_t> Encode(const std::vector<float>& interleaved, int rate, int channels,
                            int format) {
  Buffer buffer;
  SF_VIRTUAL_IO io{Len, Seek, Read, Write, Tell};
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open_virtual(&io, SFM_WRITE, &info, &buffer);
  if (f == nullptr) return {};
  const auto frames = static_cast<sf_count_t>(interleaved.size() / channels);
  const bool ok = sf_writef_float(f, interleaved.data(), frames) == frames;
  sf_close(f);
  return ok ? buffer.bytes : std::vector<uint8_t>{};
}

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("qasr_frontend_" + std::to_string(::getpid()) + "_" + info->name());
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f != nullptr) {
    if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  return path;
}

std::vector<uint8_t> PcmWav(const std::vector<int16_t>& samples, int rate, int channels) {
  std::vector<uint8_t> b;
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto u16 = [&](uint16_t v) {
    b.push_back(static_cast<uint8_t>(v));
    b.push_back(static_cast<uint8_t>(v >> 8));
  };
  auto tag = [&](const char* t) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(t[i]));
  };
  const auto data = static_cast<uint32_t>(samples.size() * 2);
  b.reserve(44 + data);
  tag("RIFF");
  u32(36 + data);
  tag("WAVE");
  tag("fmt ");
  u32(16);
  u16(1);
  u16(static_cast<uint16_t>(channels));
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate * channels * 2));
  u16(static_cast<uint16_t>(channels * 2));
  u16(16);
  tag("data");
  u32(data);
  for (int16_t s : samples) u16(static_cast<uint16_t>(s));
  return b;
}

}  // namespace qasr::frontend::testing
