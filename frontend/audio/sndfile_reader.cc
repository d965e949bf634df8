#include "frontend/audio/sndfile_reader.h"

#include <sndfile.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace qasr::frontend::internal {
namespace {

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

// Virtual I/O over a read-only memory buffer.
struct MemoryFile {
  std::span<const std::uint8_t> bytes;
  sf_count_t pos = 0;
};

sf_count_t MemLength(void* user) {
  return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes.size());
}
sf_count_t MemSeek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(m->bytes.size());
  sf_count_t base = 0;
  if (whence == SEEK_CUR) base = m->pos;
  if (whence == SEEK_END) base = size;
  const sf_count_t target = base + offset;
  if (target < 0) return -1;
  m->pos = std::min(target, size);
  return m->pos;
}
sf_count_t MemRead(void* ptr, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const auto size = static_cast<sf_count_t>(m->bytes.size());
  const sf_count_t n = std::clamp<sf_count_t>(size - m->pos, 0, std::max<sf_count_t>(count, 0));
  if (n > 0) std::memcpy(ptr, m->bytes.data() + m->pos, static_cast<size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t MemWrite(const void*, sf_count_t, void*) { return 0; }
sf_count_t MemTell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

int RawSubtype(RawEncoding e) {
  switch (e) {
    case RawEncoding::kS8:
      return SF_FORMAT_PCM_S8;
    case RawEncoding::kU8:
      return SF_FORMAT_PCM_U8;
    case RawEncoding::kS16:
      return SF_FORMAT_PCM_16;
    case RawEncoding::kS24:
      return SF_FORMAT_PCM_24;
    case RawEncoding::kS32:
      return SF_FORMAT_PCM_32;
    case RawEncoding::kF32:
      return SF_FORMAT_FLOAT;
    case RawEncoding::kF64:
      return SF_FORMAT_DOUBLE;
    case RawEncoding::kULaw:
      return SF_FORMAT_ULAW;
    case RawEncoding::kALaw:
      return SF_FORMAT_ALAW;
  }
  return 0;
}

int RawBytesPerSample(RawEncoding e) {
  switch (e) {
    case RawEncoding::kS16:
      return 2;
    case RawEncoding::kS24:
      return 3;
    case RawEncoding::kS32:
    case RawEncoding::kF32:
      return 4;
    case RawEncoding::kF64:
      return 8;
    default:
      return 1;
  }
}

Status CheckRawFormat(const RawFormat& raw, const DecodeLimits& limits) {
  if (raw.channels < 1 || raw.channels > limits.max_channels) {
    return InvalidArgument("raw PCM: channel count " + std::to_string(raw.channels) +
                           " is outside [1, " + std::to_string(limits.max_channels) + "]");
  }
  if (raw.sample_rate < limits.min_sample_rate || raw.sample_rate > limits.max_sample_rate) {
    return InvalidArgument("raw PCM: sample rate " + std::to_string(raw.sample_rate) +
                           " Hz is outside [" + std::to_string(limits.min_sample_rate) + ", " +
                           std::to_string(limits.max_sample_rate) + "]");
  }
  return Status::Ok();
}

SF_INFO RawInfo(const RawFormat& raw) {
  SF_INFO info{};
  info.samplerate = raw.sample_rate;
  info.channels = raw.channels;
  info.format = SF_FORMAT_RAW | RawSubtype(raw.encoding) |
                (raw.big_endian ? SF_ENDIAN_BIG : SF_ENDIAN_LITTLE);
  return info;
}

}  // namespace

Status CheckRawLength(std::uint64_t bytes, const RawFormat& raw) {
  const std::uint64_t frame = static_cast<std::uint64_t>(RawBytesPerSample(raw.encoding)) *
                              static_cast<std::uint64_t>(std::max(raw.channels, 0));
  if (frame == 0) return InvalidArgument("raw PCM: channel count must be at least 1");
  if (bytes % frame != 0) {
    return DataLoss("raw PCM: " + std::to_string(bytes) + " bytes is not a whole number of " +
                    std::to_string(frame) + "-byte frames (truncated input?)");
  }
  return Status::Ok();
}

namespace {

bool IsFloatSubtype(int format) {
  const int sub = format & SF_FORMAT_SUBMASK;
  return sub == SF_FORMAT_FLOAT || sub == SF_FORMAT_DOUBLE;
}

Status CheckHeader(const SF_INFO& info, const DecodeLimits& limits) {
  if (info.channels < 1) return DataLoss("file declares zero channels");
  if (info.channels > limits.max_channels) {
    return OutOfRange("file declares " + std::to_string(info.channels) + " channels (limit " +
                      std::to_string(limits.max_channels) + ")");
  }
  if (info.samplerate < limits.min_sample_rate || info.samplerate > limits.max_sample_rate) {
    return OutOfRange("file declares a sample rate of " + std::to_string(info.samplerate) +
                      " Hz, outside [" + std::to_string(limits.min_sample_rate) + ", " +
                      std::to_string(limits.max_sample_rate) + "]");
  }
  const double max_frames = limits.max_duration_s * info.samplerate;
  // Containers that cannot tell their length up front report SF_COUNT_MAX; the
  // limit is then enforced while reading.
  if (info.frames != SF_COUNT_MAX && static_cast<double>(info.frames) > max_frames) {
    return OutOfRange("file declares " + std::to_string(info.frames) + " frames (" +
                      std::to_string(static_cast<double>(info.frames) / info.samplerate) +
                      " s), more than the limit of " + std::to_string(limits.max_duration_s) +
                      " s");
  }
  return Status::Ok();
}

// libsndfile clamps a data chunk that claims more bytes than the file holds
// and only says so in its log ("data : 32000 (should be 10000)"). A claim of 0
// or 0xFFFFFFFF is how streaming writers (sox, ffmpeg to a pipe) mark an
// unknown length; anything else that does not fit is truncation.
Status CheckDeclaredDataSize(SNDFILE* file) {
  std::string log(1 << 14, '\0');
  sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
  log.resize(std::strlen(log.c_str()));
  for (const char* tag : {"\ndata : ", "\nSSND : "}) {
    const size_t at = log.find(tag);
    if (at == std::string::npos) continue;
    const size_t eol = log.find('\n', at + 1);
    const std::string line = log.substr(at + 1, eol == std::string::npos ? eol : eol - at - 1);
    const size_t should = line.find("(should be ");
    if (should == std::string::npos) continue;
    const unsigned long long declared = std::strtoull(line.c_str() + 7, nullptr, 10);
    const unsigned long long actual = std::strtoull(line.c_str() + should + 11, nullptr, 10);
    if (declared == 0 || declared == 0xFFFFFFFFull || declared <= actual) continue;
    return DataLoss("truncated or corrupt: the header declares " + std::to_string(declared) +
                    " bytes of audio data but the file holds " + std::to_string(actual));
  }
  return Status::Ok();
}

// Names the codec of a RIFF/WAVE file libsndfile refused, if it is one.
std::string DescribeRejectedWav(std::span<const std::uint8_t> head) {
  if (head.size() < 12 || std::memcmp(head.data(), "RIFF", 4) != 0 ||
      std::memcmp(head.data() + 8, "WAVE", 4) != 0) {
    return "";
  }
  size_t pos = 12;
  while (pos + 8 <= head.size()) {
    const std::uint32_t size = head[pos + 4] | (head[pos + 5] << 8) | (head[pos + 6] << 16) |
                               (static_cast<std::uint32_t>(head[pos + 7]) << 24);
    if (std::memcmp(head.data() + pos, "fmt ", 4) == 0 && pos + 10 <= head.size()) {
      const unsigned tag = head[pos + 8] | (head[pos + 9] << 8);
      char text[96];
      std::snprintf(text, sizeof text, " (WAV format tag 0x%04X: unsupported codec?)", tag);
      return text;
    }
    if (size > head.size()) break;
    pos += 8 + size + (size & 1);
  }
  return "";
}

std::string OpenError(std::span<const std::uint8_t> head) {
  std::string msg = sf_strerror(nullptr);
  if (msg.empty()) msg = "unknown error";
  const std::string wav = DescribeRejectedWav(head);
  return msg + (wav.empty() ? " (not an audio file, truncated, or an unsupported codec)" : wav);
}

std::vector<std::uint8_t> ReadHead(const std::string& path) {
  std::vector<std::uint8_t> head(4096);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return {};
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  return head;
}

// Reads every frame, averaging channels and scaling to the int16 range.
Result<Waveform> ReadAllUnchecked(SNDFILE* file, const SF_INFO& info, const DecodeLimits& limits) {
  QASR_RETURN_IF_ERROR(CheckHeader(info, limits));
  QASR_RETURN_IF_ERROR(CheckDeclaredDataSize(file));
  const bool check_finite = IsFloatSubtype(info.format);
  const auto channels = static_cast<size_t>(info.channels);
  const double max_frames = limits.max_duration_s * info.samplerate;
  constexpr size_t kChunkFrames = 4096;
  std::vector<float> chunk(kChunkFrames * channels);
  Waveform wave;
  wave.sample_rate = info.samplerate;
  // Headers can lie (a FLAC STREAMINFO may claim 2^36 samples): reserve at
  // most 16 Mi samples up front and let the data itself grow the vector.
  if (info.frames != SF_COUNT_MAX && info.frames > 0) {
    wave.samples.reserve(static_cast<size_t>(std::min<sf_count_t>(info.frames, 1 << 24)));
  }
  const float scale = kInt16Scale / static_cast<float>(channels);
  for (;;) {
    const sf_count_t got =
        sf_readf_float(file, chunk.data(), static_cast<sf_count_t>(kChunkFrames));
    if (got < 0 || (got == 0 && sf_error(file) != SF_ERR_NO_ERROR)) {
      return DataLoss(std::string("decoding failed: ") + sf_strerror(file));
    }
    if (got == 0) break;
    if (static_cast<double>(wave.samples.size() + static_cast<size_t>(got)) > max_frames) {
      return OutOfRange("audio is longer than the limit of " +
                        std::to_string(limits.max_duration_s) + " s");
    }
    const size_t frames = static_cast<size_t>(got);
    if (check_finite) {
      // |x| as bits: NaN and infinity are the only values above 0x7f7fffff.
      uint32_t worst = 0;
      for (size_t i = 0; i < frames * channels; ++i) {
        worst = std::max(worst, std::bit_cast<uint32_t>(chunk[i]) & 0x7fffffffu);
      }
      if (worst > 0x7f7fffffu) {
        size_t i = 0;
        while (std::isfinite(chunk[i])) ++i;
        return DataLoss("non-finite sample (NaN or infinity) at frame " +
                        std::to_string(wave.samples.size() + i / channels));
      }
    }
    const size_t old = wave.samples.size();
    wave.samples.resize(old + frames);
    float* out = wave.samples.data() + old;
    if (channels == 1) {
      for (size_t f = 0; f < frames; ++f) out[f] = chunk[f] * kInt16Scale;
    } else {
      for (size_t f = 0; f < frames; ++f) {
        const float* frame = chunk.data() + f * channels;
        float sum = 0.0f;
        for (size_t c = 0; c < channels; ++c) sum += frame[c];
        out[f] = sum * scale;
      }
    }
  }
  if (info.frames != SF_COUNT_MAX && wave.samples.size() < static_cast<size_t>(info.frames)) {
    return DataLoss("truncated audio: header declares " + std::to_string(info.frames) +
                    " frames but only " + std::to_string(wave.samples.size()) +
                    " could be decoded");
  }
  return wave;
}

// Audio within the limits can still exhaust memory; report it, never throw.
Result<Waveform> ReadAll(SNDFILE* file, const SF_INFO& info, const DecodeLimits& limits) {
  try {
    return ReadAllUnchecked(file, info, limits);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kResourceExhausted, "out of memory while decoding");
  }
}

}  // namespace

Result<Waveform> ReadWithSndfile(const std::string& path, const std::optional<RawFormat>& raw,
                                 const DecodeLimits& limits) {
  SF_INFO info{};
  if (raw) {
    QASR_RETURN_IF_ERROR(CheckRawFormat(*raw, limits));
    info = RawInfo(*raw);
  }
  SndfilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) {
    return DataLoss("cannot decode '" + path + "': " + OpenError(ReadHead(path)));
  }
  auto wave = ReadAll(file.get(), info, limits);
  if (!wave.ok()) return Status(wave.status().code(), "'" + path + "': " + wave.status().message());
  return wave;
}

Result<Waveform> ReadWithSndfile(std::span<const std::uint8_t> bytes,
                                 const std::optional<RawFormat>& raw, const DecodeLimits& limits) {
  if (bytes.empty()) return DataLoss("input is empty (0 bytes)");
  if (bytes.size() > limits.max_input_bytes) {
    return OutOfRange("input is " + std::to_string(bytes.size()) +
                      " bytes, more than the limit of " + std::to_string(limits.max_input_bytes));
  }
  SF_INFO info{};
  if (raw) {
    QASR_RETURN_IF_ERROR(CheckRawFormat(*raw, limits));
    QASR_RETURN_IF_ERROR(CheckRawLength(bytes.size(), *raw));
    info = RawInfo(*raw);
  }
  MemoryFile mem{bytes, 0};
  SF_VIRTUAL_IO io{MemLength, MemSeek, MemRead, MemWrite, MemTell};
  SndfilePtr file(sf_open_virtual(&io, SFM_READ, &info, &mem));
  if (!file) {
    return DataLoss("cannot decode input: " +
                    OpenError(bytes.first(std::min<size_t>(bytes.size(), 4096))));
  }
  return ReadAll(file.get(), info, limits);
}

}  // namespace qasr::frontend::internal
