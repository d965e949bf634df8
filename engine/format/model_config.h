// Typed, validated model and feature configurations stored in a .qasr file as
// JSON (docs/FORMAT.md §4). Fields are append-only: readers ignore unknown
// fields; a field added later must have a default for files that lack it.
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::engine {

struct VggBlockConfig {
  int out_channels = 0;
  int conv_kernel = 3;
  int pool_kernel = 2;
  int num_conv_layers = 2;
  bool layer_norm = true;
};

struct TransformerLayerConfig {
  int d_model = 0;
  int heads = 0;
  int ffn_dim = 0;
  bool normalize_before = true;
};

struct ConvDecConfig {
  int out_channels = 0;
  int kernel = 3;
  bool layer_norm = true;
};

// tools/qasr/model.py VGGTransformerConfig (dropouts are training-only and ignored).
struct ModelConfig {
  std::string architecture;  // "vggtransformer"
  int vocab_size = 0;
  int input_feat = 0;
  int in_channels = 1;
  std::vector<VggBlockConfig> vgg;
  std::vector<TransformerLayerConfig> encoder_layers;
  int enc_output_dim = 0;
  int tgt_embed_dim = 0;
  std::vector<ConvDecConfig> decoder_conv;
  std::vector<TransformerLayerConfig> decoder_layers;
};

// tools/qasr/features.py: Kaldi fbank + per-utterance CMVN.
struct FeatureConfig {
  int sample_rate = 16000;
  int num_mel_bins = 80;
  double frame_length_ms = 25.0;
  double frame_shift_ms = 10.0;
  double dither = 0.0;
  double waveform_scale = 32768.0;
  std::string cmvn = "utterance";  // "utterance" or "none"
  double cmvn_var_floor = 1e-8;
};

// Parse and range-check; errors name the offending field.
Result<ModelConfig> ParseModelConfig(std::string_view json_text);
Result<FeatureConfig> ParseFeatureConfig(std::string_view json_text);
// Checks that `json_text` is a JSON object (metadata is free-form inside).
Status ValidateJsonObject(std::string_view json_text, std::string_view what);

}  // namespace qasr::engine
