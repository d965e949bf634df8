// Internal to frontend/audio: the one place that talks to libsndfile. Opens a
// path or a memory buffer (virtual I/O), validates what the header declares
// against DecodeLimits, and reads everything as a mono int16-scale waveform.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "frontend/audio/decode.h"

namespace qasr::frontend::internal {

// DataLoss unless `bytes` is a whole number of frames of `raw`.
Status CheckRawLength(std::uint64_t bytes, const RawFormat& raw);

// `raw` set: the bytes are headerless PCM in that format.
Result<Waveform> ReadWithSndfile(const std::string& path, const std::optional<RawFormat>& raw,
                                 const DecodeLimits& limits);
Result<Waveform> ReadWithSndfile(std::span<const std::uint8_t> bytes,
                                 const std::optional<RawFormat>& raw, const DecodeLimits& limits);

}  // namespace qasr::frontend::internal
