// libFuzzer target: arbitrary bytes through decode (with and without a raw
// format chosen by the first byte), resampling to 16 kHz, fbank, streaming
// fbank and CMVN. Any crash, sanitizer report or leak is a bug; errors are fine.
#include <cstddef>
#include <cstdint>
#include <span>

#include "frontend/frontend.h"

namespace {

using namespace qasr::frontend;

void RunFeatures(const Fbank& fbank, const Waveform& wave) {
  // Bound the work per input so the fuzzer stays fast.
  if (wave.samples.size() > 200000 || wave.sample_rate > 200000) return;
  auto features = ComputeFeatures(fbank, wave);
  if (!features.ok()) return;
  auto resampled = ToFeatureRate(wave, ResampleQuality::kHigh);
  if (!resampled.ok()) return;
  StreamingFbank stream(fbank);
  Features out;
  const auto& s = resampled->samples;
  for (size_t pos = 0; pos < s.size(); pos += 777) {
    const size_t n = std::min<size_t>(777, s.size() - pos);
    if (!stream.Accept({s.data() + pos, n}, &out).ok()) return;
  }
  ApplyCmvn(&out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fbank* fbank = [] {
    static auto created = Fbank::Create();
    return created.ok() ? &created.value() : nullptr;
  }();
  if (fbank == nullptr || size == 0) return 0;
  DecodeLimits limits;
  limits.max_duration_s = 30.0;
  limits.max_sample_rate = 200000;
  const std::span<const uint8_t> bytes(data, size);
  if (auto wave = DecodeMemory(bytes, limits); wave.ok()) RunFeatures(*fbank, *wave);
  // Raw PCM: the first byte picks encoding, channels and rate.
  const uint8_t selector = data[0];
  RawFormat raw;
  raw.encoding = static_cast<RawEncoding>(selector % 9);
  raw.big_endian = (selector & 0x10) != 0;
  raw.channels = 1 + ((selector >> 5) & 3);
  raw.sample_rate = (selector & 0x80) != 0 ? 16000 : 22050;
  if (auto wave = DecodeRawMemory(bytes.subspan(1), raw, limits); wave.ok()) {
    RunFeatures(*fbank, *wave);
  }
  return 0;
}
