// Every VGGTransformer weight resolved once from a validated ModelFile
// (names: tools/qasr/model.py's state_dict, docs/FORMAT.md §3.2): packed
// w2/w3/w4/w8 blobs and small f32 vectors are used in place from the
// mapping; f16 vectors are converted; fp32 GEMM weights are repacked into
// GEMM panels on each layer's first use (LazyPanels; VGG conv weights are
// permuted for channels-last im2col at load, decoder conv weights packed
// from their stored [kernel*in][out] layout).
// Which packed or dequantized layers quantize their input activations comes
// from the metadata's "quantization.layers" (docs/FORMAT.md §4.3); packed
// weights without an entry use int8 activations (GemmA8).
// Thread-safety: immutable after LoadVggTransformer; share across sessions.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "engine/format/model_file.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/linear.h"
#include "kernels/base/thread_pool.h"
#include "kernels/dense/dense_gemm.h"

namespace qasr::engine {

struct NormWeights {
  const float* gamma = nullptr;
  const float* beta = nullptr;
  size_t dim = 0;
};

struct AttentionWeights {
  LinearWeights q, k, v, out;
};

struct TransformerLayerWeights {
  size_t d = 0, heads = 0, ffn = 0;
  bool normalize_before = true;
  bool has_adapter = false;  // Linear(previous width -> d) in front of the layer
  LinearWeights adapter;
  AttentionWeights self_attn;
  NormWeights self_attn_ln;
  AttentionWeights cross_attn;  // decoder only
  NormWeights cross_attn_ln;    // decoder only
  LinearWeights fc1, fc2;
  NormWeights final_ln;
};

struct VggConvWeights {
  Conv2dShape shape;
  LinearWeights w;  // permuted [out][(i*k + j)*in + c]
  bool has_ln = false;
  NormWeights ln;  // over the block's input frequency width
};

struct VggBlockWeights {
  std::vector<VggConvWeights> convs;
  size_t pool = 2, freq_in = 0, freq_out = 0, channels_out = 0;
};

struct DecoderConvWeights {
  size_t kernel = 0, in = 0, out = 0;
  LinearWeights w;  // [out][kernel * in], column t*in + i; t = 0 the oldest step
  bool has_ln = false;
  NormWeights ln;
};

struct VggTransformerWeights {
  ModelConfig config;
  std::vector<VggBlockWeights> vgg;
  size_t vgg_width = 0;  // channels * freq after the last block
  std::vector<TransformerLayerWeights> encoder_layers;
  LinearWeights encoder_out;
  NormWeights encoder_ln;
  bool has_ctc = false;
  LinearWeights ctc_head;            // encoder output -> vocab + 1 CTC classes (blank last)
  const float* embedding = nullptr;  // [vocab][tgt_embed_dim]
  std::vector<DecoderConvWeights> decoder_convs;
  std::vector<TransformerLayerWeights> decoder_layers;
  LinearWeights fc_out;
  std::deque<std::vector<float>> owned;       // converted f16 copies
  std::deque<LazyPanels> panels;              // fp32 Linear/conv weights (never moved)
  size_t encoder_panels = 0;                  // panels[0, n) are the encoder's
  std::deque<kernels::PackedWeights> packed;  // exact w8 forms of stored-f32 convs
};

// Checks the file against the registry (CheckModelTensors), then resolves.
Result<std::unique_ptr<VggTransformerWeights>> LoadVggTransformer(const ModelFile& file);

enum class ModelPart { kAll, kEncoder, kDecoder };

// Packs the fp32 GEMM weights of `part` now instead of on first use, one
// weight per task on the pool's threads (pool may be null): each weight's
// copy, the page faults of its new panels and the release of its source
// pages run beside the others'. Thread-safe; a packed weight costs a check.
Status PackAllPanels(const VggTransformerWeights& w, kernels::ThreadPool* pool,
                     ModelPart part = ModelPart::kAll);

}  // namespace qasr::engine
