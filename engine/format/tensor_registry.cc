#include "engine/format/tensor_registry.h"

#include <algorithm>
#include <span>
#include <utility>

namespace qasr::engine {

namespace {

using Shape = std::vector<uint64_t>;

class Registry {
 public:
  void Add(std::string name, Shape shape, bool packable = false, bool optional = false) {
    out_.push_back({std::move(name), std::move(shape), packable, optional});
  }
  void Linear(const std::string& p, uint64_t out, uint64_t in) {
    Add(p + ".weight", {out, in}, /*packable=*/true);
    Add(p + ".bias", {out});
  }
  void Norm(const std::string& p, uint64_t d) {
    Add(p + ".weight", {d});
    Add(p + ".bias", {d});
  }
  void Attention(const std::string& p, uint64_t d) {
    for (const char* proj : {"k_proj", "v_proj", "q_proj", "out_proj"})
      Linear(p + "." + proj, d, d);
  }
  void Layer(const std::string& p, const TransformerLayerConfig& l, bool cross) {
    const auto d = static_cast<uint64_t>(l.d_model), ffn = static_cast<uint64_t>(l.ffn_dim);
    Attention(p + ".self_attn", d);
    Norm(p + ".self_attn_layer_norm", d);
    if (cross) {
      Attention(p + ".encoder_attn", d);
      Norm(p + ".encoder_attn_layer_norm", d);
    }
    Linear(p + ".fc1", ffn, d);
    Linear(p + ".fc2", d, ffn);
    Norm(p + ".final_layer_norm", d);
  }
  std::vector<ExpectedTensor> Take() { return std::move(out_); }

 private:
  std::vector<ExpectedTensor> out_;
};

uint64_t Encoder(const ModelConfig& c, Registry& r) {
  auto channels = static_cast<uint64_t>(c.in_channels), freq = static_cast<uint64_t>(c.input_feat);
  for (size_t b = 0; b < c.vgg.size(); ++b) {
    const VggBlockConfig& blk = c.vgg[b];
    const std::string p = "encoder.conv_layers." + std::to_string(b) + ".layers.";
    const auto out = static_cast<uint64_t>(blk.out_channels),
               k = static_cast<uint64_t>(blk.conv_kernel);
    size_t idx = 0;
    for (int l = 0; l < blk.num_conv_layers; ++l) {
      r.Add(p + std::to_string(idx) + ".weight", {out, channels, k, k});
      r.Add(p + std::to_string(idx++) + ".bias", {out});
      if (blk.layer_norm) r.Norm(p + std::to_string(idx++), freq);
      ++idx;  // ReLU
      channels = out;
    }
    freq = (freq + static_cast<uint64_t>(blk.pool_kernel) - 1) /
           static_cast<uint64_t>(blk.pool_kernel);
  }
  uint64_t width = channels * freq;
  size_t j = 0;
  const auto next = [&] { return "encoder.transformer_layers." + std::to_string(j++); };
  for (const TransformerLayerConfig& l : c.encoder_layers) {
    if (width != static_cast<uint64_t>(l.d_model)) r.Linear(next(), l.d_model, width);
    r.Layer(next(), l, /*cross=*/false);
    width = l.d_model;
  }
  r.Linear(next(), c.enc_output_dim, width);
  r.Norm(next(), c.enc_output_dim);
  // The optional CTC head over the encoder output: vocab + 1 classes, the
  // last one the blank (joint CTC/attention search).
  const auto classes = static_cast<uint64_t>(c.vocab_size) + 1;
  r.Add("ctc_head.weight", {classes, static_cast<uint64_t>(c.enc_output_dim)}, true, true);
  r.Add("ctc_head.bias", {classes}, false, true);
  return c.enc_output_dim;
}

void Decoder(const ModelConfig& c, Registry& r) {
  r.Add("decoder.embed_tokens.weight",
        {static_cast<uint64_t>(c.vocab_size), static_cast<uint64_t>(c.tgt_embed_dim)});
  auto width = static_cast<uint64_t>(c.tgt_embed_dim);
  size_t i = 0;
  for (const ConvDecConfig& conv : c.decoder_conv) {
    const std::string p = "decoder.conv_layers." + std::to_string(i++);
    const auto out = static_cast<uint64_t>(conv.out_channels);
    r.Add(p + ".weight", {static_cast<uint64_t>(conv.kernel), width, out});  // folded
    r.Add(p + ".bias", {out});
    if (conv.layer_norm) r.Norm("decoder.conv_layers." + std::to_string(i++), out);
    ++i;  // ReLU
    width = out;
  }
  size_t j = 0;
  for (const TransformerLayerConfig& l : c.decoder_layers) {
    if (width != static_cast<uint64_t>(l.d_model))
      r.Linear("decoder.layers." + std::to_string(j++), l.d_model, width);
    r.Layer("decoder.layers." + std::to_string(j++), l, /*cross=*/true);
    width = l.d_model;
  }
  r.Linear("decoder.fc_out", c.vocab_size, width);
}

std::string ShapeText(std::span<const uint64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

}  // namespace

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config) {
  Registry r;
  Encoder(config, r);
  Decoder(config, r);
  return r.Take();
}

Status CheckModelTensors(const ModelFile& file) {
  for (const ExpectedTensor& want : ExpectedTensors(file.config())) {
    const TensorView* t = file.Find(want.name);
    if (t == nullptr && want.optional) continue;
    if (t == nullptr) return DataLoss("missing tensor " + want.name);
    const bool same_shape = t->shape().size() == want.shape.size() &&
                            std::equal(want.shape.begin(), want.shape.end(), t->shape().begin());
    if (!same_shape)
      return DataLoss("tensor " + want.name + " has shape " + ShapeText(t->shape()) +
                      ", the config needs " + ShapeText(want.shape));
    if (t->is_packed() && !want.packable)
      return DataLoss("tensor " + want.name + " cannot be stored packed");
  }
  if ((file.Find("ctc_head.weight") == nullptr) != (file.Find("ctc_head.bias") == nullptr))
    return DataLoss("the CTC head needs both ctc_head.weight and ctc_head.bias");
  return Status::Ok();
}

}  // namespace qasr::engine
