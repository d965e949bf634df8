// VAD segmentation on synthetic recordings built from known pieces.
#include "decoder/pipeline/vad.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace qasr::decoder {
namespace {

constexpr int kRate = 16000;

struct Piece {
  double start_s, end_s;
};

// "Speech": noise with a syllable-rate envelope at about -20 dBFS; between
// pieces, -70 dBFS background noise.
std::vector<float> Synthesize(const std::vector<Piece>& pieces, double total_s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(total_s * kRate));
  for (float& v : x) v = 10.0f * noise(rng);
  for (const Piece& p : pieces) {
    const auto a = static_cast<size_t>(p.start_s * kRate), b = static_cast<size_t>(p.end_s * kRate);
    for (size_t i = a; i < b && i < x.size(); ++i) {
      const double t = static_cast<double>(i - a) / kRate;
      const double env = 0.55 + 0.45 * std::sin(2 * M_PI * 4.0 * t);
      x[i] += static_cast<float>(3000.0 * env) * noise(rng);
    }
  }
  return x;
}

std::vector<AudioSegment> Segment(const std::vector<float>& x, const VadOptions& o, size_t chunk,
                                  size_t* max_buffer = nullptr) {
  auto seg = Segmenter::Create(o, kRate);
  EXPECT_TRUE(seg.ok());
  std::vector<AudioSegment> out;
  const Segmenter::Emit emit = [&](AudioSegment&& s) {
    out.push_back(std::move(s));
    return Status::Ok();
  };
  for (size_t i = 0; i < x.size(); i += chunk) {
    const size_t n = std::min(chunk, x.size() - i);
    EXPECT_TRUE(seg->Accept({x.data() + i, n}, emit).ok());
    if (max_buffer) *max_buffer = std::max(*max_buffer, seg->buffered_samples());
  }
  EXPECT_TRUE(seg->Finish(emit).ok());
  return out;
}

TEST(Vad, SegmentsMatchKnownPieces) {
  const std::vector<Piece> pieces = {{1.0, 3.5},   {4.2, 9.0},   {11.0, 12.0},
                                     {13.5, 31.0}, {33.0, 33.6}, {35.0, 50.0}};
  const auto x = Synthesize(pieces, 52.0, 1);
  VadOptions o;
  for (size_t chunk : {160u * 7 + 3, 16000u, 100000u}) {
    const auto segs = Segment(x, o, chunk);
    // The 17.5 s piece fits one segment; every piece is one segment.
    ASSERT_EQ(segs.size(), pieces.size()) << "chunk " << chunk;
    for (size_t i = 0; i < pieces.size(); ++i) {
      EXPECT_NEAR(segs[i].start_s(kRate), pieces[i].start_s, 0.5) << i;
      EXPECT_NEAR(segs[i].end_s(kRate), pieces[i].end_s, 0.5) << i;
      EXPECT_LE(segs[i].end_s(kRate) - segs[i].start_s(kRate), o.max_segment_s + 1e-9);
    }
  }
}

TEST(Vad, LongSpeechIsCutBelowMaxLength) {
  const auto x = Synthesize({{0.5, 70.0}}, 71.0, 2);
  VadOptions o;
  const auto segs = Segment(x, o, 4000);
  ASSERT_GE(segs.size(), 4u);
  EXPECT_NEAR(segs.front().start_s(kRate), 0.5, 0.5);
  EXPECT_NEAR(segs.back().end_s(kRate), 70.0, 0.5);
  for (size_t i = 0; i < segs.size(); ++i) {
    EXPECT_LE(segs[i].samples.size(), static_cast<size_t>(20.0 * kRate));
    if (i > 0) {
      EXPECT_EQ(segs[i].start_sample, segs[i - 1].start_sample + segs[i - 1].samples.size());
    }
  }
}

TEST(Vad, SilenceAndClicksGiveNoSegments) {
  std::vector<float> x(10 * kRate, 0.0f);
  x[5 * kRate] = 20000.0f;  // one click: far less than min_speech_s
  EXPECT_TRUE(Segment(x, VadOptions{}, 1600).empty());
  EXPECT_TRUE(Segment({}, VadOptions{}, 1600).empty());
}

TEST(Vad, DisabledCutsFixedLengthsCoveringEverything) {
  std::vector<float> x(45 * kRate + 77, 0.0f);
  VadOptions o;
  o.enabled = false;
  const auto segs = Segment(x, o, 3333);
  ASSERT_EQ(segs.size(), 3u);
  size_t total = 0;
  for (const auto& s : segs) total += s.samples.size();
  EXPECT_EQ(total, x.size());
}

TEST(Vad, MemoryStaysFlatOverAnHour) {
  // An hour alternating 8 s of speech and 2 s of pause, plus a 5-minute
  // monologue: the buffer never holds much more than one segment.
  std::vector<Piece> pieces;
  for (double t = 0; t < 3300; t += 10) pieces.push_back({t + 1, t + 9});
  pieces.push_back({3300.5, 3599});
  const auto x = Synthesize(pieces, 3600, 3);
  size_t max_buffer = 0;
  const auto segs = Segment(x, VadOptions{}, 8000, &max_buffer);
  EXPECT_GE(segs.size(), 330u + 15u);
  EXPECT_LT(max_buffer, static_cast<size_t>(22.0 * kRate));
}

TEST(Vad, RejectsBadOptions) {
  VadOptions o;
  o.max_segment_s = 0.1;
  EXPECT_FALSE(Segmenter::Create(o).ok());
  o = VadOptions{};
  o.min_pause_s = -1;
  EXPECT_FALSE(Segmenter::Create(o).ok());
}

}  // namespace
}  // namespace qasr::decoder
