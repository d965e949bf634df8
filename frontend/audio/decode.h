// Audio decoding: any file libsndfile reads (WAV 8/16/24/32-bit PCM, float32/64,
// WAVE_FORMAT_EXTENSIBLE, FLAC, Ogg/Vorbis, Opus, MP3, AIFF, ...) or headerless
// PCM described by the caller, from a path or a memory buffer, to a mono
// waveform on the int16 scale (float samples in [-1, 1] times 32768; channels
// are averaged). Inputs are untrusted: every failure is a Status, never an
// abort, and declared sizes are checked against DecodeLimits before use.
// Thread safety: all functions are reentrant; no shared state.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::frontend {

// Scale from a [-1, 1] float waveform to the int16 scale the features expect.
inline constexpr float kInt16Scale = 32768.0f;

// Mono audio on the int16 scale.
struct Waveform {
  int sample_rate = 0;
  std::vector<float> samples;
  double duration_s() const {
    return sample_rate > 0 ? static_cast<double>(samples.size()) / sample_rate : 0.0;
  }
};

// Bounds on what a (possibly hostile) input may declare.
struct DecodeLimits {
  double max_duration_s = 4.0 * 3600.0;  // longer inputs are rejected (OutOfRange)
  int max_channels = 64;
  int min_sample_rate = 1000;
  int max_sample_rate = 768000;
  std::uint64_t max_input_bytes = 8ull << 30;  // memory buffers / stdin
};

// Sample encodings accepted for headerless (raw) PCM.
enum class RawEncoding { kS8, kU8, kS16, kS24, kS32, kF32, kF64, kULaw, kALaw };

// How to read headerless PCM: interleaved frames of `channels` samples.
struct RawFormat {
  int sample_rate = 0;
  RawEncoding encoding = RawEncoding::kS16;
  bool big_endian = false;
  int channels = 1;
};

// Parses "RATE:FORMAT:CHANNELS", e.g. "16000:s16le:1" or "44100:f32le:2".
// FORMAT is one of s8, u8, s16le, s16be, s24le, s24be, s32le, s32be, f32le,
// f32be, f64le, f64be, ulaw, alaw.
Result<RawFormat> ParseRawFormat(std::string_view spec);

// Decodes a file with a header; the container is detected from the content.
Result<Waveform> DecodeFile(const std::string& path, const DecodeLimits& limits = {});

// Decodes an in-memory file with a header (e.g. all of stdin).
Result<Waveform> DecodeMemory(std::span<const std::uint8_t> bytes, const DecodeLimits& limits = {});

// Decodes headerless PCM from memory / from a file.
Result<Waveform> DecodeRawMemory(std::span<const std::uint8_t> bytes, const RawFormat& format,
                                 const DecodeLimits& limits = {});
Result<Waveform> DecodeRawFile(const std::string& path, const RawFormat& format,
                               const DecodeLimits& limits = {});

// Reads a whole stream (e.g. stdin) into memory, failing beyond max_bytes.
Result<std::vector<std::uint8_t>> ReadStream(std::FILE* stream, std::uint64_t max_bytes);

}  // namespace qasr::frontend
