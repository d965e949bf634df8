// libsndfile writes and reads back a WAV in memory; libsoxr resamples a sine
// from 48 kHz to 16 kHz with its frequency intact.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <vector>

namespace {

struct MemFile {
  std::vector<unsigned char> bytes;
  sf_count_t pos = 0;
};

sf_count_t Length(void* u) {
  return static_cast<sf_count_t>(static_cast<MemFile*>(u)->bytes.size());
}
sf_count_t Seek(sf_count_t off, int whence, void* u) {
  auto* f = static_cast<MemFile*>(u);
  const sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->pos : Length(u);
  f->pos = base + off;
  return f->pos;
}
sf_count_t Read(void* dst, sf_count_t n, void* u) {
  auto* f = static_cast<MemFile*>(u);
  const sf_count_t avail = std::max<sf_count_t>(0, Length(u) - f->pos);
  n = std::min(n, avail);
  std::memcpy(dst, f->bytes.data() + f->pos, static_cast<size_t>(n));
  f->pos += n;
  return n;
}
sf_count_t Write(const void* src, sf_count_t n, void* u) {
  auto* f = static_cast<MemFile*>(u);
  if (f->pos + n > Length(u)) f->bytes.resize(static_cast<size_t>(f->pos + n));
  std::memcpy(f->bytes.data() + f->pos, src, static_cast<size_t>(n));
  f->pos += n;
  return n;
}
sf_count_t Tell(void* u) { return static_cast<MemFile*>(u)->pos; }

TEST(AudioLibsSmoke, SndfileRoundTripsPcm16) {
  SF_VIRTUAL_IO io{Length, Seek, Read, Write, Tell};
  MemFile mem;
  std::vector<short> pcm(1000);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] = static_cast<short>((i * 37) % 2000 - 1000);
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* w = sf_open_virtual(&io, SFM_WRITE, &info, &mem);
  ASSERT_NE(w, nullptr) << sf_strerror(nullptr);
  ASSERT_EQ(sf_write_short(w, pcm.data(), static_cast<sf_count_t>(pcm.size())), 1000);
  sf_close(w);

  mem.pos = 0;
  SF_INFO rinfo{};
  SNDFILE* r = sf_open_virtual(&io, SFM_READ, &rinfo, &mem);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(rinfo.samplerate, 16000);
  EXPECT_EQ(rinfo.frames, 1000);
  std::vector<short> back(1000);
  EXPECT_EQ(sf_read_short(r, back.data(), 1000), 1000);
  sf_close(r);
  EXPECT_EQ(back, pcm);
}

TEST(AudioLibsSmoke, SoxrResamplesSine) {
  constexpr double kIn = 48000, kOut = 16000, kFreq = 1000;
  std::vector<float> in(48000);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] =
        static_cast<float>(std::sin(2 * std::numbers::pi * kFreq * static_cast<double>(i) / kIn));
  std::vector<float> out(16100);
  size_t done = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_error_t err = soxr_oneshot(kIn, kOut, 1, in.data(), in.size(), nullptr, out.data(),
                                  out.size(), &done, &io, &q, nullptr);
  ASSERT_EQ(err, nullptr) << err;
  ASSERT_NEAR(static_cast<double>(done), 16000.0, 2.0);
  // Away from the edges the output is the same sine sampled at 16 kHz.
  double max_err = 0;
  for (size_t i = 1000; i < 15000; ++i) {
    const double ref = std::sin(2 * std::numbers::pi * kFreq * static_cast<double>(i) / kOut);
    max_err = std::max(max_err, std::abs(out[i] - ref));
  }
  EXPECT_LT(max_err, 1e-3);
}

}  // namespace
