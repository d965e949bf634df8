// Test helpers: synthetic signals and in-memory audio files written with
// libsndfile, so decode tests need no fixtures on disk.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qasr::frontend::testing {

// amplitude * sin(2 pi freq t), n samples at rate.
std::vector<float> Sine(size_t n, double rate, double freq, double amplitude = 0.5);
// Deterministic uniform noise in [-amplitude, amplitude].
std::vector<float> Noise(size_t n, uint32_t seed, float amplitude = 0.5f);

// Encodes interleaved [-1, 1] samples with libsndfile (`format` = SF_FORMAT_*
// major | subtype) into a memory buffer; empty on failure.
std::vector<uint8_t> Encode(const std::vector<float>& interleaved, int rate, int channels,
                            int format);

// Writes bytes to a fresh file under the test temp dir; returns its path.
std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& bytes);

// A canonical 44-byte-header PCM WAV of int16 samples.
std::vector<uint8_t> PcmWav(const std::vector<int16_t>& samples, int rate, int channels);

}  // namespace qasr::frontend::testing
