#include "frontend/audio/decode.h"

#include <array>
#include <filesystem>
#include <system_error>
#include <utility>

#include "frontend/audio/sndfile_reader.h"

namespace qasr::frontend {
namespace {

// Rejects what sf_open would report vaguely: missing paths, directories.
Status CheckRegularFile(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) return NotFound("no such file: '" + path + "'");
  if (std::filesystem::is_directory(status)) {
    return InvalidArgument("'" + path + "' is a directory, not an audio file");
  }
  if (std::filesystem::is_regular_file(status) && std::filesystem::file_size(path, ec) == 0) {
    return DataLoss("'" + path + "' is empty (0 bytes)");
  }
  return Status::Ok();
}

struct RawName {
  std::string_view name;
  RawEncoding encoding;
  bool big_endian;
};
constexpr std::array<RawName, 14> kRawNames = {{
    {"s8", RawEncoding::kS8, false},
    {"u8", RawEncoding::kU8, false},
    {"s16le", RawEncoding::kS16, false},
    {"s16be", RawEncoding::kS16, true},
    {"s24le", RawEncoding::kS24, false},
    {"s24be", RawEncoding::kS24, true},
    {"s32le", RawEncoding::kS32, false},
    {"s32be", RawEncoding::kS32, true},
    {"f32le", RawEncoding::kF32, false},
    {"f32be", RawEncoding::kF32, true},
    {"f64le", RawEncoding::kF64, false},
    {"f64be", RawEncoding::kF64, true},
    {"ulaw", RawEncoding::kULaw, false},
    {"alaw", RawEncoding::kALaw, false},
}};

Result<int> ParsePositiveInt(std::string_view text, const char* what) {
  if (text.empty() || text.size() > 9) {
    return InvalidArgument(std::string("raw format: bad ") + what + " '" + std::string(text) + "'");
  }
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return InvalidArgument(std::string("raw format: bad ") + what + " '" + std::string(text) +
                             "'");
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

Result<RawFormat> ParseRawFormat(std::string_view spec) {
  const auto first = spec.find(':');
  const auto second = first == std::string_view::npos ? first : spec.find(':', first + 1);
  if (second == std::string_view::npos || spec.find(':', second + 1) != std::string_view::npos) {
    return InvalidArgument("raw format must be RATE:FORMAT:CHANNELS (e.g. 16000:s16le:1), not '" +
                           std::string(spec) + "'");
  }
  auto rate = ParsePositiveInt(spec.substr(0, first), "sample rate");
  if (!rate.ok()) return rate.status();
  auto channels = ParsePositiveInt(spec.substr(second + 1), "channel count");
  if (!channels.ok()) return channels.status();
  const std::string_view name = spec.substr(first + 1, second - first - 1);
  for (const RawName& entry : kRawNames) {
    if (entry.name == name) return RawFormat{*rate, entry.encoding, entry.big_endian, *channels};
  }
  return InvalidArgument("raw format: unknown sample format '" + std::string(name) +
                         "' (use s8, u8, s16le, s16be, s24le, s24be, s32le, s32be, f32le, "
                         "f32be, f64le, f64be, ulaw or alaw)");
}

Result<Waveform> DecodeFile(const std::string& path, const DecodeLimits& limits) {
  QASR_RETURN_IF_ERROR(CheckRegularFile(path));
  return internal::ReadWithSndfile(path, std::nullopt, limits);
}

Result<Waveform> DecodeMemory(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  return internal::ReadWithSndfile(bytes, std::nullopt, limits);
}

Result<Waveform> DecodeRawMemory(std::span<const std::uint8_t> bytes, const RawFormat& format,
                                 const DecodeLimits& limits) {
  return internal::ReadWithSndfile(bytes, format, limits);
}

Result<Waveform> DecodeRawFile(const std::string& path, const RawFormat& format,
                               const DecodeLimits& limits) {
  QASR_RETURN_IF_ERROR(CheckRegularFile(path));
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot stat '" + path + "': " + ec.message());
  Status length = internal::CheckRawLength(size, format);
  if (!length.ok()) return Status(length.code(), "'" + path + "': " + length.message());
  return internal::ReadWithSndfile(path, format, limits);
}

Result<std::vector<std::uint8_t>> ReadStream(std::FILE* stream, std::uint64_t max_bytes) {
  std::vector<std::uint8_t> bytes;
  std::array<std::uint8_t, 65536> chunk{};
  for (;;) {
    const size_t got = std::fread(chunk.data(), 1, chunk.size(), stream);
    if (got > 0) {
      if (bytes.size() + got > max_bytes) {
        return OutOfRange("input stream is longer than the limit of " + std::to_string(max_bytes) +
                          " bytes");
      }
      bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
    }
    if (got < chunk.size()) {
      if (std::ferror(stream)) return DataLoss("error while reading the input stream");
      break;
    }
  }
  return bytes;
}

}  // namespace qasr::frontend
