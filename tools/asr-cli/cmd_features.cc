// asr-cli features: audio file (or stdin, or headerless PCM) -> 16 kHz 80-bin
// log-mel features with per-utterance CMVN, written as float32 .npy [frames, 80].
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "frontend/frontend.h"
#include "tools/asr-cli/commands.h"
#include "tools/asr-cli/npy.h"

namespace qasr::cli {
namespace {

struct FeaturesArgs {
  std::string input;
  std::string output;
  std::string raw;
  std::string dump_waveform;
  bool no_cmvn = false;
  double max_duration_s = 4.0 * 3600.0;
};

Result<frontend::Waveform> Decode(const FeaturesArgs& args) {
  frontend::DecodeLimits limits;
  limits.max_duration_s = args.max_duration_s;
  std::optional<frontend::RawFormat> raw;
  if (!args.raw.empty()) {
    auto parsed = frontend::ParseRawFormat(args.raw);
    if (!parsed.ok()) return parsed.status();
    raw = *parsed;
  }
  if (args.input == "-") {
    auto bytes = frontend::ReadStream(stdin, limits.max_input_bytes);
    if (!bytes.ok()) return bytes.status();
    if (bytes->empty()) return DataLoss("standard input is empty (0 bytes)");
    return raw ? frontend::DecodeRawMemory(*bytes, *raw, limits)
               : frontend::DecodeMemory(*bytes, limits);
  }
  return raw ? frontend::DecodeRawFile(args.input, *raw, limits)
             : frontend::DecodeFile(args.input, limits);
}

Status Run(const FeaturesArgs& args) {
  auto wave = Decode(args);
  if (!wave.ok()) return wave.status();
  auto resampled = frontend::ToFeatureRate(*wave, frontend::ResampleQuality::kHigh);
  if (!resampled.ok()) return resampled.status();
  if (!args.dump_waveform.empty()) {
    QASR_RETURN_IF_ERROR(
        WriteNpyFloat32(args.dump_waveform, resampled->samples, {resampled->samples.size()}));
  }
  auto fbank = frontend::Fbank::Create();
  if (!fbank.ok()) return fbank.status();
  auto features = fbank->Compute(resampled->samples);
  if (!features.ok()) return features.status();
  if (!args.no_cmvn) frontend::ApplyCmvn(&features.value());
  return WriteNpyFloat32(args.output, features->data, {features->num_frames, features->dim});
}

}  // namespace

Command AddFeaturesCommand(CLI::App& parent) {
  auto args = std::make_shared<FeaturesArgs>();
  CLI::App* app = parent.add_subcommand(
      "features", "Compute 16 kHz 80-bin log-mel features (with CMVN) of an audio file");
  app->add_option("input", args->input, "Audio file (WAV, FLAC, Ogg, MP3, ...) or - for stdin")
      ->required();
  app->add_option("-o,--output", args->output, "Output .npy file (float32 [frames, 80])")
      ->required();
  app->add_flag("--no-cmvn", args->no_cmvn, "Skip per-utterance mean/variance normalisation");
  app->add_option("--raw", args->raw,
                  "Headerless PCM: RATE:FORMAT:CHANNELS, e.g. 16000:s16le:1 (formats s8 u8 "
                  "s16le s16be s24le s24be s32le s32be f32le f32be f64le f64be ulaw alaw)");
  app->add_option("--max-duration", args->max_duration_s, "Reject longer audio (seconds)")
      ->check(CLI::PositiveNumber);
  app->add_option("--dump-waveform", args->dump_waveform,
                  "Also write the 16 kHz int16-scale waveform as float32 .npy (debugging)");
  return {app, [args] {
            const Status status = Run(*args);
            if (status.ok()) return 0;
            // Library messages name the file; stdin has no name of its own.
            std::fprintf(stderr, "asr-cli features: error: %s%s\n",
                         args->input == "-" ? "<stdin>: " : "", status.ToString().c_str());
            return 1;
          }};
}

}  // namespace qasr::cli
