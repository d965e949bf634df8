// asr-cli transcribe's output formats on hand-made transcripts.
#include "tools/asr-cli/transcript_format.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace qasr::cli {
namespace {

Transcript Sample() {
  Transcript t;
  t.duration_s = 3725.5;
  Segment a;
  a.start_s = 0.0;
  a.end_s = 2.5;
  a.text = "hello world";
  a.tokens = {{10, " hello", -0.5f}, {11, " world", -0.25f}, {2, "", -0.1f}};
  a.score = -0.2833;
  a.log_prob = -0.85;
  a.confidence = 0.75;
  a.nbest = {{"hello world", {10, 11}, -0.28, -0.85}, {"hello word", {10, 12}, -0.9, -2.7}};
  Segment empty;
  empty.start_s = 3.0;
  empty.end_s = 3.4;
  Segment b;
  b.start_s = 3723.0004;
  b.end_s = 3725.4996;
  b.text = "a --> b \"quoted\" ünï";
  b.confidence = 0.5;
  b.nbest = {{b.text, {}, 0, 0}};
  t.segments = {a, empty, b};
  return t;
}

TEST(TranscriptFormat, Timestamps) {
  EXPECT_EQ(Timestamp(0.0, ','), "00:00:00,000");
  EXPECT_EQ(Timestamp(3723.0004, '.'), "01:02:03.000");
  EXPECT_EQ(Timestamp(59.9996, ','), "00:01:00,000");
  EXPECT_EQ(Timestamp(-1.0, ','), "00:00:00,000");
  EXPECT_EQ(Timestamp(360000.0, '.'), "100:00:00.000");
}

TEST(TranscriptFormat, Txt) {
  EXPECT_EQ(FormatTxt(Sample()), "hello world a --> b \"quoted\" ünï\n");
  EXPECT_EQ(FormatTxt(Transcript{}), "\n");
}

TEST(TranscriptFormat, Srt) {
  EXPECT_EQ(FormatSrt(Sample()),
            "1\n00:00:00,000 --> 00:00:02,500\nhello world\n\n"
            "2\n01:02:03,000 --> 01:02:05,500\na -> b \"quoted\" ünï\n\n");
  EXPECT_EQ(FormatSrt(Transcript{}), "");
}

TEST(TranscriptFormat, Vtt) {
  EXPECT_EQ(FormatVtt(Sample()),
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nhello world\n\n"
            "01:02:03.000 --> 01:02:05.500\na -> b \"quoted\" ünï\n\n");
  EXPECT_EQ(FormatVtt(Transcript{}), "WEBVTT\n\n");
}

TEST(TranscriptFormat, Json) {
  for (int indent : {-1, 2}) {
    const std::string text = FormatJson(Sample(), "dir/talk.wav", indent);
    if (indent < 0) {
      EXPECT_EQ(text.find('\n'), text.size() - 1);  // JSON Lines
    }
    const auto j = nlohmann::json::parse(text);
    EXPECT_EQ(j["source"], "dir/talk.wav");
    EXPECT_DOUBLE_EQ(j["duration"].get<double>(), 3725.5);
    EXPECT_EQ(j["text"], "hello world a --> b \"quoted\" ünï");
    ASSERT_EQ(j["segments"].size(), 3u);
    const auto& s = j["segments"][0];
    EXPECT_DOUBLE_EQ(s["start"].get<double>(), 0.0);
    EXPECT_DOUBLE_EQ(s["end"].get<double>(), 2.5);
    EXPECT_DOUBLE_EQ(s["confidence"].get<double>(), 0.75);
    ASSERT_EQ(s["tokens"].size(), 3u);
    EXPECT_EQ(s["tokens"][1]["id"], 11);
    EXPECT_EQ(s["tokens"][1]["text"], " world");
    EXPECT_FLOAT_EQ(s["tokens"][1]["log_prob"].get<float>(), -0.25f);
    ASSERT_EQ(s["nbest"].size(), 2u);
    EXPECT_EQ(s["nbest"][1]["ids"], nlohmann::json({10, 12}));
    EXPECT_FALSE(j["segments"][2].contains("nbest"));  // only with several alternatives
  }
}

TEST(TranscriptFormat, InvalidUtf8IsReplacedNotThrown) {
  Transcript t;
  Segment s;
  s.text = "bad \xff\xfe";
  t.segments = {s};
  const auto j = nlohmann::json::parse(FormatJson(t, "x", -1));
  EXPECT_EQ(j["segments"][0]["text"], "bad \xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace qasr::cli
