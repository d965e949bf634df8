// Bad input: every case must give a clear error from the library and a
// message plus a non-zero exit from `asr-cli features`, never a crash.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>

#include "frontend/audio/decode.h"
#include "tests/frontend/test_audio.h"

namespace qasr::frontend {
namespace {

using testing::PcmWav;

std::vector<uint8_t> GoodWav() {
  std::vector<int16_t> s(16000);
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int16_t>(8000 * std::sin(0.05 * i));
  return PcmWav(s, 16000, 1);
}

std::vector<uint8_t> Patched(size_t offset, std::vector<uint8_t> value) {
  auto b = GoodWav();
  std::copy(value.begin(), value.end(), b.begin() + static_cast<std::ptrdiff_t>(offset));
  return b;
}

std::vector<uint8_t> FloatWavWith(float bad) {
  std::vector<float> x(16000, 0.1f);
  x[5000] = bad;
  return testing::Encode(x, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
}

struct BadCase {
  const char* name;
  std::function<std::vector<uint8_t>()> bytes;
  const char* message;  // substring of the error
};

const std::vector<BadCase>& BadCases() {
  static const std::vector<BadCase> cases = {
      {"empty", [] { return std::vector<uint8_t>{}; }, "empty"},
      {"truncated_header",
       [] {
         auto b = GoodWav();
         b.resize(20);
         return b;
       },
       "cannot decode"},
      {"truncated_data",
       [] {
         auto b = GoodWav();
         b.resize(44 + 1000);
         return b;
       },
       "truncated"},
      {"garbage",
       [] {
         std::vector<uint8_t> b(5000);
         uint32_t x = 12345;
         for (auto& v : b) v = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
         return b;
       },
       "cannot decode"},
      {"unsupported_codec",
       [] {
         return Patched(20, {0x34, 0x12});
       },
       "unsupported codec"},
      {"zero_channels",
       [] {
         return Patched(22, {0, 0});
       },
       "hannel"},
      {"absurd_channels",
       [] {
         return Patched(22, {0xE8, 0x03});
       },
       "hannel"},
      {"absurd_rate",
       [] {
         return Patched(24, {0x40, 0x42, 0x0F, 0x00});
       },
       "sample rate"},
      {"huge_rate",
       [] {
         return Patched(24, {0xFF, 0xFF, 0xFF, 0xFF});
       },
       "cannot decode"},
      {"absurd_data_size",
       [] {
         return Patched(40, {0xF0, 0xFF, 0xFF, 0xFF});
       },
       "truncated"},
      {"nan_sample", [] { return FloatWavWith(std::numeric_limits<float>::quiet_NaN()); },
       "non-finite"},
      {"inf_sample", [] { return FloatWavWith(-std::numeric_limits<float>::infinity()); },
       "non-finite"},
  };
  return cases;
}

TEST(BadInputTest, LibraryReturnsClearErrors) {
  for (const BadCase& c : BadCases()) {
    const auto bytes = c.bytes();
    auto from_memory = DecodeMemory({bytes.data(), bytes.size()});
    ASSERT_FALSE(from_memory.ok()) << c.name;
    auto from_file = DecodeFile(testing::WriteTemp(std::string(c.name) + ".wav", bytes));
    ASSERT_FALSE(from_file.ok()) << c.name;
    EXPECT_NE(from_file.status().message().find(c.message), std::string::npos)
        << c.name << ": " << from_file.status().ToString();
    if (bytes.empty()) continue;  // memory: "input is empty"
    EXPECT_NE(from_memory.status().message().find(c.message), std::string::npos)
        << c.name << ": " << from_memory.status().ToString();
  }
}

TEST(BadInputTest, PathsAndLimits) {
  EXPECT_EQ(DecodeFile("/nonexistent/qasr.wav").status().code(), StatusCode::kNotFound);
  const auto dir = std::filesystem::temp_directory_path();
  auto d = DecodeFile(dir.string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("directory"), std::string::npos);

  const auto good = GoodWav();
  DecodeLimits limits;
  limits.max_duration_s = 0.5;  // the file is 1 s
  auto too_long = DecodeMemory({good.data(), good.size()}, limits);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kOutOfRange);
  limits.max_input_bytes = 100;
  EXPECT_EQ(DecodeMemory({good.data(), good.size()}, limits).status().code(),
            StatusCode::kOutOfRange);

  const std::vector<uint8_t> odd(7, 0);
  auto raw = DecodeRawMemory({odd.data(), odd.size()}, *ParseRawFormat("16000:s16le:1"));
  ASSERT_FALSE(raw.ok());
  EXPECT_NE(raw.status().message().find("whole number"), std::string::npos);
  RawFormat zero{16000, RawEncoding::kS16, false, 0};
  EXPECT_FALSE(DecodeRawMemory({odd.data(), 6}, zero).ok());
  RawFormat nan_raw{16000, RawEncoding::kF32, false, 1};
  const float bad[2] = {0.0f, std::numeric_limits<float>::quiet_NaN()};
  auto nan = DecodeRawMemory({reinterpret_cast<const uint8_t*>(bad), sizeof bad}, nan_raw);
  EXPECT_FALSE(nan.ok());
}

// Runs asr-cli, returning its exit status and combined output.
std::pair<int, std::string> RunCli(const std::string& args) {
  const std::string cmd = std::string(QASR_ASR_CLI) + " " + args + " 2>&1";
  std::FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

TEST(BadInputTest, CliExitsNonZeroWithMessage) {
  const std::string out = testing::WriteTemp("out.npy", {});
  auto expect_error = [&](const std::string& args, const char* message) {
    const auto [code, text] = RunCli(args);
    EXPECT_EQ(code, 1) << args << "\n" << text;
    EXPECT_NE(text.find("error"), std::string::npos) << args << "\n" << text;
    EXPECT_NE(text.find(message), std::string::npos) << args << "\n" << text;
  };
  for (const BadCase& c : BadCases()) {
    const std::string in = testing::WriteTemp(std::string(c.name) + ".wav", c.bytes());
    expect_error("features " + in + " -o " + out, c.message);
    expect_error("features - -o " + out + " < " + in,
                 std::string(c.name) == "empty" ? "empty" : c.message);
  }
  expect_error("features /nonexistent/in.wav -o " + out, "no such file");
  const auto dir = std::filesystem::temp_directory_path().string();
  expect_error("features " + dir + " -o " + out, "directory");
  const std::string good = testing::WriteTemp("good.wav", GoodWav());
  expect_error("features " + good + " -o /nonexistent/dir/out.npy", "cannot write");
  expect_error("features " + good + " -o " + out + " --max-duration 0.5", "limit");
  expect_error("features " + good + " -o " + out + " --raw 16000:s17le:1", "unknown sample format");
  expect_error("features " + good + " -o " + out + " --raw 16000:s24le:1", "whole number");
  const auto [ok_code, ok_text] = RunCli("features " + good + " -o " + out);
  EXPECT_EQ(ok_code, 0) << ok_text;
  EXPECT_GT(std::filesystem::file_size(out), 128u);
}

}  // namespace
}  // namespace qasr::frontend
