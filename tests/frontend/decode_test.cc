#include "frontend/audio/decode.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "tests/frontend/test_audio.h"

namespace qasr::frontend {
namespace {

using testing::Encode;
using testing::PcmWav;
using testing::WriteTemp;

std::span<const uint8_t> Bytes(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

// Correlation-based SNR (dB) of `got` against `want` (same length prefix).
double SnrDb(const std::vector<float>& want, const std::vector<float>& got, size_t skip = 0) {
  double signal = 0, noise = 0;
  const size_t n = std::min(want.size(), got.size());
  for (size_t i = skip; i < n; ++i) {
    signal += double(want[i]) * want[i];
    noise += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
  }
  return 10 * std::log10(signal / std::max(noise, 1e-30));
}

struct FormatCase {
  const char* name;
  int format;
  double min_snr_db;  // lossless formats: exact up to quantisation
};

class DecodeFormatTest : public ::testing::TestWithParam<FormatCase> {};

TEST_P(DecodeFormatTest, RoundTripsThroughFileAndMemory) {
  const FormatCase& c = GetParam();
  const int rate = 16000;
  // Stereo: left a tone, right noise; decoding averages them.
  const auto left = testing::Sine(rate, rate, 440.0, 0.4);
  const auto right = testing::Sine(rate, rate, 1000.0, 0.3);
  std::vector<float> interleaved;
  std::vector<float> mono;
  for (int i = 0; i < rate; ++i) {
    interleaved.push_back(left[i]);
    interleaved.push_back(right[i]);
    mono.push_back((left[i] + right[i]) * 0.5f * kInt16Scale);
  }
  const auto bytes = Encode(interleaved, rate, 2, c.format);
  ASSERT_FALSE(bytes.empty()) << c.name << ": libsndfile cannot write this format here";
  auto from_memory = DecodeMemory(Bytes(bytes));
  ASSERT_TRUE(from_memory.ok()) << from_memory.status().ToString();
  auto from_file = DecodeFile(WriteTemp(std::string("in.") + c.name, bytes));
  ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
  EXPECT_EQ(from_memory->samples, from_file->samples);
  EXPECT_EQ(from_memory->sample_rate, rate);
  // Lossy codecs add delay/padding: compare the best-aligned prefix.
  double best = -1e9;
  for (size_t lag = 0; lag < 2048 && lag < from_memory->samples.size(); ++lag) {
    std::vector<float> shifted(from_memory->samples.begin() + lag, from_memory->samples.end());
    best = std::max(best, SnrDb(mono, shifted, 0));
    if (c.min_snr_db > 60) break;  // lossless: no delay
  }
  EXPECT_GE(best, c.min_snr_db) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Formats, DecodeFormatTest,
    ::testing::Values(FormatCase{"wav16", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 80},
                      FormatCase{"wav24", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 120},
                      FormatCase{"wav32", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 120},
                      FormatCase{"wavu8", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 35},
                      FormatCase{"wavf32", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 120},
                      FormatCase{"wavf64", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 120},
                      FormatCase{"wavex", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 80},
                      FormatCase{"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 80},
                      FormatCase{"aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_24, 120},
                      FormatCase{"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 10},
                      FormatCase{"opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 5},
                      FormatCase{"mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 5}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(DecodeTest, ManyChannelsAreAveraged) {
  const int channels = 8;
  std::vector<float> interleaved;
  for (int i = 0; i < 1000; ++i) {
    for (int c = 0; c < channels; ++c) interleaved.push_back(0.01f * static_cast<float>(c));
  }
  const auto bytes = Encode(interleaved, 16000, channels, SF_FORMAT_WAVEX | SF_FORMAT_FLOAT);
  auto wave = DecodeMemory(Bytes(bytes));
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  ASSERT_EQ(wave->samples.size(), 1000u);
  EXPECT_NEAR(wave->samples[10], 0.035f * kInt16Scale, 1e-2);
}

TEST(DecodeTest, RawPcmFromMemory) {
  std::vector<uint8_t> bytes;
  for (int16_t v : {0, 1, -1, 32767, -32768, 100}) {
    bytes.push_back(static_cast<uint8_t>(v));
    bytes.push_back(static_cast<uint8_t>(static_cast<uint16_t>(v) >> 8));
  }
  auto format = ParseRawFormat("8000:s16le:1");
  ASSERT_TRUE(format.ok());
  auto wave = DecodeRawMemory(Bytes(bytes), *format);
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  EXPECT_EQ(wave->sample_rate, 8000);
  EXPECT_EQ(wave->samples, (std::vector<float>{0, 1, -1, 32767, -32768, 100}));
  auto stereo = DecodeRawMemory(Bytes(bytes), *ParseRawFormat("8000:s16le:2"));
  ASSERT_TRUE(stereo.ok());
  EXPECT_EQ(stereo->samples, (std::vector<float>{0.5f, 16383.0f, -16334.0f}));
}

TEST(DecodeTest, ParseRawFormatRejectsBadSpecs) {
  for (const char* spec : {"", "16000", "16000:s16le", "16000:s16le:1:1", "x:s16le:1",
                           "16000:s17le:1", "16000:s16le:", "-5:s16le:1", "99999999999:u8:1"}) {
    EXPECT_FALSE(ParseRawFormat(spec).ok()) << spec;
  }
  auto f = ParseRawFormat("44100:f32be:2");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->sample_rate, 44100);
  EXPECT_EQ(f->encoding, RawEncoding::kF32);
  EXPECT_TRUE(f->big_endian);
  EXPECT_EQ(f->channels, 2);
}

TEST(DecodeTest, StreamingWavWithUnknownLengthIsAccepted) {
  std::vector<int16_t> samples(1600, 1000);
  auto bytes = PcmWav(samples, 16000, 1);
  for (int i = 40; i < 44; ++i) bytes[i] = 0xFF;  // data size "unknown"
  auto wave = DecodeMemory(Bytes(bytes));
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  EXPECT_EQ(wave->samples.size(), 1600u);
}

}  // namespace
}  // namespace qasr::frontend
