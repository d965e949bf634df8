// The public C++ and C APIs over a fake backend (until the engine runtime
// lands): segments and timestamps, progress, cancellation mid-utterance,
// threads sharing one Model, error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "decoder/api/internal.h"
#include "qasr/qasr.h"
#include "qasr/qasr.hpp"
#include "tests/decoder/fake_backend.h"

namespace qasr {
namespace {

std::string TestData(const std::string& name) {
  const char* dir = std::getenv("QASR_DECODER_TESTDATA");
  return std::string(dir ? dir : ".") + "/" + name;
}

std::shared_ptr<const Model> FakeModel(std::atomic<long>* steps = nullptr) {
  std::ifstream in(TestData("spm40.model"), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  auto tok = decoder::Tokenizer::Create(bytes, 40);
  EXPECT_TRUE(tok.ok()) << tok.status().ToString();
  if (!tok.ok()) return nullptr;
  Error e;
  auto m = MakeModel("fake", "{}", std::make_unique<decoder::testing::FakeBackend>(40, steps),
                     std::move(*tok), &e);
  EXPECT_TRUE(m) << e.message;
  return m;
}

// Three bursts of "speech" (noise, -20 dBFS) in background noise, in [-1, 1].
std::vector<float> Recording(int rate, double* starts, double* ends) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(30 * rate));
  for (float& v : x) v = 3e-4f * n(rng);
  const double s[3] = {1.0, 8.0, 15.0}, e[3] = {5.0, 12.5, 28.0};
  for (int p = 0; p < 3; ++p) {
    starts[p] = s[p];
    ends[p] = e[p];
    for (auto i = static_cast<size_t>(s[p] * rate); i < static_cast<size_t>(e[p] * rate); ++i) {
      x[i] += 0.1f * n(rng);
    }
  }
  return x;
}

TEST(Api, TranscribesSamplesIntoTimedSegments) {
  auto model = FakeModel();
  ASSERT_TRUE(model);
  RecognizerOptions o;
  o.nbest = 3;
  Error e;
  auto rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec) << e.message;
  double s[3], en[3];
  const auto x = Recording(44100, s, en);
  Transcript t;
  std::vector<Progress> progress;
  std::vector<Segment> streamed;
  o.on_progress = [&](const Progress& p) { progress.push_back(p); };
  o.on_segment = [&](const Segment& seg) { streamed.push_back(seg); };
  rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec);
  e = rec->TranscribeSamples(x.data(), x.size(), 44100, &t);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(t.segments.size(), 3u);
  ASSERT_EQ(streamed.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const Segment& seg = t.segments[static_cast<size_t>(i)];
    EXPECT_NEAR(seg.start_s, s[i], 0.5);
    EXPECT_NEAR(seg.end_s, en[i], 0.5);
    EXPECT_FALSE(seg.text.empty());
    EXPECT_EQ(seg.text, streamed[static_cast<size_t>(i)].text);
    EXPECT_GT(seg.confidence, 0.0);
    EXPECT_LE(seg.confidence, 1.0);
    ASSERT_FALSE(seg.nbest.empty());
    EXPECT_LE(seg.nbest.size(), 3u);
    EXPECT_EQ(seg.nbest[0].text, seg.text);
    ASSERT_FALSE(seg.tokens.empty());
    EXPECT_EQ(seg.tokens.back().id, 2);  // EOS
    std::string joined;
    for (const Token& k : seg.tokens) joined += k.text;
    EXPECT_EQ(joined.substr(joined.find_first_not_of(' ')), seg.text);
  }
  ASSERT_GE(progress.size(), 10u);
  for (size_t i = 1; i < progress.size(); ++i) {
    EXPECT_GE(progress[i].processed_s, progress[i - 1].processed_s);
  }
  EXPECT_NEAR(progress.back().processed_s, 30.0, 0.01);
  EXPECT_NEAR(progress.back().total_s, 30.0, 0.01);
  EXPECT_NEAR(t.duration_s, 30.0, 0.01);
  EXPECT_FALSE(t.text().empty());
}

TEST(Api, CancellationStopsMidUtterance) {
  std::atomic<long> steps{0};
  auto model = FakeModel(&steps);
  ASSERT_TRUE(model);
  double s[3], en[3];
  const auto x = Recording(16000, s, en);
  RecognizerOptions o;
  o.max_len_b = 100000;  // without cancellation, segments would decode long
  o.loop_max_repeats = 0;
  o.should_cancel = [&] { return steps.load() >= 5; };  // during the first segment
  Error e;
  auto rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec);
  Transcript t;
  e = rec->TranscribeSamples(x.data(), x.size(), 16000, &t);
  EXPECT_EQ(e.code, ErrorCode::kCancelled) << e.message;
  EXPECT_TRUE(t.segments.empty());  // the first segment was cut short
  EXPECT_EQ(steps.load(), 5);

  // Cancel() from another thread while a call runs.
  RecognizerOptions o2;
  auto rec2 = Recognizer::Create(model, o2, &e);
  ASSERT_TRUE(rec2);
  steps = 0;
  std::thread canceller([&] {
    while (steps.load() < 3) std::this_thread::yield();
    rec2->Cancel();
  });
  std::vector<float> longer;
  for (int r = 0; r < 20; ++r) longer.insert(longer.end(), x.begin(), x.end());
  e = rec2->TranscribeSamples(longer.data(), longer.size(), 16000, &t);
  canceller.join();
  EXPECT_EQ(e.code, ErrorCode::kCancelled);
  EXPECT_LT(t.segments.size(), 60u);
  // The flag is consumed: the next call runs normally.
  e = rec2->TranscribeSamples(x.data(), x.size(), 16000, &t);
  EXPECT_TRUE(e.ok()) << e.message;
  EXPECT_EQ(t.segments.size(), 3u);
}

TEST(Api, ThreadsSharingOneModelMatchOneThread) {
  auto model = FakeModel();
  ASSERT_TRUE(model);
  double s[3], en[3];
  const auto x = Recording(22050, s, en);
  RecognizerOptions o;
  o.beam = 4;
  Error e;
  auto rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec);
  Transcript ref;
  ASSERT_TRUE(rec->TranscribeSamples(x.data(), x.size(), 22050, &ref).ok());
  constexpr int kThreads = 4;
  std::vector<Transcript> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto r = Recognizer::Create(model, o);
      if (r) (void)r->TranscribeSamples(x.data(), x.size(), 22050, &got[static_cast<size_t>(i)]);
    });
  }
  for (auto& t : threads) t.join();
  for (const Transcript& t : got) {
    ASSERT_EQ(t.segments.size(), ref.segments.size());
    for (size_t i = 0; i < t.segments.size(); ++i) {
      EXPECT_EQ(t.segments[i].text, ref.segments[i].text);
      EXPECT_EQ(t.segments[i].score, ref.segments[i].score);
      EXPECT_EQ(t.segments[i].start_s, ref.segments[i].start_s);
    }
  }
}

TEST(Api, ErrorPaths) {
  Error e;
  EXPECT_FALSE(Model::Load("/nonexistent/model.qasr", {}, &e));
  EXPECT_EQ(e.code, ErrorCode::kNotFound) << e.message;
  EXPECT_NE(e.message.find("/nonexistent/model.qasr"), std::string::npos);
  EXPECT_FALSE(Model::Load(TestData("spm40.model"), {}, &e));  // not a .qasr file
  EXPECT_EQ(e.code, ErrorCode::kDataLoss) << e.message;
  ModelOptions bad;
  bad.threads = 0;
  EXPECT_FALSE(Model::Load("x", bad, &e));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);

  auto model = FakeModel();
  ASSERT_TRUE(model);
  RecognizerOptions o;
  o.nbest = 9;
  EXPECT_FALSE(Recognizer::Create(model, o, &e));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Recognizer::Create(nullptr, {}, &e));
  // Joint CTC/attention search needs a CTC head (the fake model has none);
  // the default weight (< 0) then means attention only.
  RecognizerOptions ctc;
  ctc.ctc_weight = 0.5;
  EXPECT_FALSE(Recognizer::Create(model, ctc, &e));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);
  EXPECT_NE(e.message.find("CTC head"), std::string::npos) << e.message;
  ctc.ctc_weight = 1.0;
  EXPECT_FALSE(Recognizer::Create(model, ctc, &e));
  EXPECT_EQ(e.code, ErrorCode::kInvalidArgument);

  auto rec = Recognizer::Create(model, {}, &e);
  ASSERT_TRUE(rec);
  Transcript t;
  e = rec->TranscribeFile("/nonexistent.wav", &t);
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.message.find("/nonexistent.wav"), std::string::npos) << e.message;
  e = rec->TranscribeFile(TestData("spm40.model"), &t);  // not audio
  EXPECT_EQ(e.code, ErrorCode::kDataLoss) << e.message;
  const uint8_t junk[] = {1, 2, 3};
  EXPECT_FALSE(rec->TranscribeEncoded(junk, sizeof junk, &t).ok());
  const float nan = NAN;
  EXPECT_EQ(rec->TranscribeSamples(&nan, 1, 16000, &t).code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(rec->TranscribeSamples(&nan, 1, 5, &t).code, ErrorCode::kInvalidArgument);
  e = rec->TranscribeSamples(nullptr, 0, 16000, &t);  // empty input: no segments
  EXPECT_TRUE(e.ok());
  EXPECT_TRUE(t.segments.empty());
}

// End to end on the tiny exported model once the engine runtime exists.
TEST(EngineApi, ThreadsSharingOneRealModelMatchOneThread) {
#ifndef QASR_HAVE_ENGINE_SESSION
  GTEST_SKIP() << "this build has no engine runtime yet";
#else
  Error e;
  auto model = Model::Load(TestData("tiny-spm.qasr"), {}, &e);
  ASSERT_TRUE(model) << e.message;
  EXPECT_EQ(model->vocab_size(), 40);
  double s[3], en[3];
  const auto x = Recording(16000, s, en);
  RecognizerOptions o;
  o.beam = 3;
  o.max_len_b = 30;
  auto rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec) << e.message;
  Transcript ref;
  e = rec->TranscribeSamples(x.data(), x.size(), 16000, &ref);
  ASSERT_TRUE(e.ok()) << e.message;
  ASSERT_EQ(ref.segments.size(), 3u);
  constexpr int kThreads = 3;
  std::vector<Transcript> got(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RecognizerOptions oi = o;
      oi.threads = 1 + i % 2;
      auto r = Recognizer::Create(model, oi);
      if (r) (void)r->TranscribeSamples(x.data(), x.size(), 16000, &got[static_cast<size_t>(i)]);
    });
  }
  for (auto& t : threads) t.join();
  for (const Transcript& t : got) {
    ASSERT_EQ(t.segments.size(), ref.segments.size());
    for (size_t i = 0; i < t.segments.size(); ++i) {
      EXPECT_EQ(t.segments[i].text, ref.segments[i].text);
      EXPECT_NEAR(t.segments[i].score, ref.segments[i].score, 1e-5);
    }
  }
  // Cancellation mid-utterance with the real engine.
  long steps = 0;
  o.max_len_b = 200;
  o.should_cancel = [&] { return ++steps > 25; };
  rec = Recognizer::Create(model, o, &e);
  ASSERT_TRUE(rec);
  Transcript t;
  EXPECT_EQ(rec->TranscribeSamples(x.data(), x.size(), 16000, &t).code, ErrorCode::kCancelled);
#endif
}

TEST(CApi, DefaultsAndErrors) {
  const qasr_params p = qasr_default_params();
  EXPECT_EQ(p.beam, 5);
  EXPECT_EQ(p.nbest, 1);
  EXPECT_EQ(p.vad, 1);
  EXPECT_NE(std::string(qasr_version()).find("qasr"), std::string::npos);
  int dummy = 0;
  qasr_model* m = reinterpret_cast<qasr_model*>(&dummy);  // must be overwritten with NULL
  char err[256] = "unset";
  EXPECT_EQ(qasr_model_load("/nonexistent.qasr", 1, &m, err, sizeof err), QASR_ERR_NOT_FOUND);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::string(err).find("/nonexistent.qasr"), std::string::npos);
  EXPECT_EQ(qasr_model_load(nullptr, 1, &m, err, sizeof err), QASR_ERR_INVALID_ARGUMENT);
  char tiny[4];
  EXPECT_EQ(qasr_model_load("/nonexistent.qasr", 1, &m, tiny, sizeof tiny), QASR_ERR_NOT_FOUND);
  EXPECT_EQ(std::strlen(tiny), 3u);
  EXPECT_EQ(qasr_recognizer_create(nullptr, nullptr, err, sizeof err), nullptr);
  qasr_result* r = nullptr;
  EXPECT_EQ(qasr_transcribe_file(nullptr, "x", &r), QASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qasr_result_segment_count(nullptr), 0);
  EXPECT_STREQ(qasr_result_text(nullptr), "");
  qasr_model_free(nullptr);
  qasr_recognizer_free(nullptr);
  qasr_result_free(nullptr);
}

}  // namespace
}  // namespace qasr
