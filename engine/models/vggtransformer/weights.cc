#include "engine/models/vggtransformer/weights.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/format/mapped_file.h"
#include "engine/format/tensor_registry.h"
#include "kernels/formats/fp16.h"

namespace qasr::engine {

namespace {

// Assigns a Result's value to dst or returns its Status.
#define QASR_TRY(dst, expr)           \
  do {                                \
    auto r_ = (expr);                 \
    if (!r_.ok()) return r_.status(); \
    dst = std::move(*r_);             \
  } while (0)

class Builder {
 public:
  Builder(const ModelFile& file, VggTransformerWeights& out) : file_(file), out_(out) {}

  Status ReadActivationBits() {
    const auto meta = nlohmann::json::parse(file_.metadata(), nullptr, false);
    if (meta.is_discarded() || !meta.is_object()) return Status::Ok();  // validated at Open
    const auto q = meta.find("quantization");
    if (q == meta.end() || !q->is_object()) return Status::Ok();
    const auto layers = q->find("layers");
    if (layers == q->end() || !layers->is_object()) return Status::Ok();
    for (const auto& [name, spec] : layers->items()) {
      if (!spec.is_object()) continue;
      const auto a = spec.find("act_bits");
      if (a == spec.end() || a->is_null()) {
        act_bits_[name] = 0;
      } else if (a->is_number_integer() && a->get<int>() == 8) {
        act_bits_[name] = 8;
      } else {
        return Unimplemented("metadata quantization.layers." + name + ".act_bits: only 8 or null");
      }
    }
    return Status::Ok();
  }

  Result<const float*> Floats(const std::string& name, size_t count) {
    const TensorView* t = file_.Find(name);
    if (t == nullptr) return NotFound("missing tensor " + name);
    if (t->num_elements() != count)
      return DataLoss("tensor " + name + " has " + std::to_string(t->num_elements()) +
                      " elements, expected " + std::to_string(count));
    if (t->dtype == DType::f32) return t->f32().data();
    if (t->dtype == DType::f16) {
      const auto h = t->f16();
      std::vector<float>& v = out_.owned.emplace_back(h.size());
      for (size_t i = 0; i < h.size(); ++i) v[i] = kernels::F32FromF16(h[i]);
      return v.data();
    }
    return InvalidArgument("tensor " + name + " must be f32 or f16");
  }

  Result<NormWeights> Norm(const std::string& module, size_t dim) {
    NormWeights n;
    n.dim = dim;
    auto g = Floats(module + ".weight", dim);
    if (!g.ok()) return g.status();
    auto b = Floats(module + ".bias", dim);
    if (!b.ok()) return b.status();
    n.gamma = *g;
    n.beta = *b;
    return n;
  }

  int ActBits(const std::string& module, bool packed) const {
    const auto it = act_bits_.find(module);
    return it != act_bits_.end() ? it->second : (packed ? 8 : 0);
  }

  // A Linear's [out][in] weight (any stored form) and its bias.
  Result<LinearWeights> Linear(const std::string& module, size_t in, size_t out) {
    LinearWeights l;
    l.in = in;
    l.out = out;
    const std::string wname = module + ".weight";
    const TensorView* t = file_.Find(wname);
    if (t == nullptr) return NotFound("missing tensor " + wname);
    if (t->is_packed()) {
      // act_bits: 8 -> GemmA8, 0 -> GemmF32.
      if (t->rank != 2 || t->dims[0] != out || t->dims[1] != in)
        return DataLoss("packed tensor " + wname + " has the wrong shape");
      l.packed = t->packed;
      l.is_packed = true;
    } else {
      auto w = Floats(wname, in * out);
      if (!w.ok()) return w.status();
      l.panels = &out_.panels.emplace_back(*w, out, in, false, Releaser());
    }
    auto b = Floats(module + ".bias", out);
    if (!b.ok()) return b.status();
    l.bias = *b;
    l.act_bits = ActBits(module, l.is_packed);
    if (!l.is_packed && l.act_bits == 8) QASR_RETURN_IF_ERROR(SetFakeQuant(l));
    return l;
  }

  // Drops a packed source's pages from the model's mapping (none for a model
  // read from memory: its bytes are not a file's).
  LazyPanels::ReleaseFn Releaser() const {
    const std::span<const uint8_t> mapping = file_.mapped_bytes();
    if (mapping.empty()) return nullptr;
    return [mapping](std::span<const uint8_t> range) { MappedFile::ReleasePages(mapping, range); };
  }

  // A Linear over a weight we had to rearrange (f32).
  Result<LinearWeights> OwnedLinear(const std::string& module, std::vector<float> w, size_t in,
                                    size_t out, const float* bias) {
    LinearWeights l;
    l.in = in;
    l.out = out;
    l.bias = bias;
    const bool int8_inputs = ActBits(module, false) == 8;
    if (int8_inputs) {
      // Quantized convolutions are stored dequantized (format 1.0); their
      // exact 8-bit form runs on the int8 kernels instead of fake-quantized
      // inputs times fp32 weights (the same product, rounded once).
      Result<kernels::PackedWeights> w8 = ExactW8FromF32(w.data(), out, in);
      if (w8.ok()) {
        l.packed = out_.packed.emplace_back(std::move(*w8)).view();
        l.is_packed = true;
        l.act_bits = 8;
        return l;
      }
    }
    l.panels = &out_.panels.emplace_back(std::move(w), out, in);
    if (int8_inputs) QASR_RETURN_IF_ERROR(SetFakeQuant(l));
    return l;
  }

  Result<AttentionWeights> Attention(const std::string& module, size_t d) {
    AttentionWeights a;
    LinearWeights* dst[] = {&a.q, &a.k, &a.v, &a.out};
    const char* names[] = {".q_proj", ".k_proj", ".v_proj", ".out_proj"};
    for (int i = 0; i < 4; ++i) {
      auto l = Linear(module + names[i], d, d);
      if (!l.ok()) return l.status();
      *dst[i] = *l;
    }
    return a;
  }

  Result<TransformerLayerWeights> Layer(const std::string& p, const TransformerLayerConfig& c,
                                        bool decoder) {
    TransformerLayerWeights w;
    w.d = static_cast<size_t>(c.d_model);
    w.heads = static_cast<size_t>(c.heads);
    w.ffn = static_cast<size_t>(c.ffn_dim);
    w.normalize_before = c.normalize_before;
    QASR_TRY(w.self_attn, Attention(p + "self_attn", w.d));
    QASR_TRY(w.self_attn_ln, Norm(p + "self_attn_layer_norm", w.d));
    if (decoder) {
      QASR_TRY(w.cross_attn, Attention(p + "encoder_attn", w.d));
      QASR_TRY(w.cross_attn_ln, Norm(p + "encoder_attn_layer_norm", w.d));
    }
    QASR_TRY(w.fc1, Linear(p + "fc1", w.d, w.ffn));
    QASR_TRY(w.fc2, Linear(p + "fc2", w.ffn, w.d));
    QASR_TRY(w.final_ln, Norm(p + "final_layer_norm", w.d));
    return w;
  }

  // encoder.transformer_layers / decoder.layers: adapters where widths differ.
  Status Stack(const std::string& prefix, const std::vector<TransformerLayerConfig>& configs,
               size_t& width, size_t& index, bool decoder,
               std::vector<TransformerLayerWeights>& out) {
    for (const auto& c : configs) {
      const size_t d = static_cast<size_t>(c.d_model);
      LinearWeights adapter;
      const bool has_adapter = width != d;
      if (has_adapter) QASR_TRY(adapter, Linear(prefix + std::to_string(index++), width, d));
      TransformerLayerWeights w;
      QASR_TRY(w, Layer(prefix + std::to_string(index++) + ".", c, decoder));
      w.has_adapter = has_adapter;
      w.adapter = adapter;
      out.push_back(std::move(w));
      width = d;
    }
    return Status::Ok();
  }

  Status Encoder() {
    const ModelConfig& cfg = out_.config;
    size_t channels = static_cast<size_t>(cfg.in_channels);
    size_t freq = static_cast<size_t>(cfg.input_feat);
    for (size_t b = 0; b < cfg.vgg.size(); ++b) {
      const VggBlockConfig& bc = cfg.vgg[b];
      VggBlockWeights blk;
      blk.pool = static_cast<size_t>(bc.pool_kernel);
      blk.freq_in = freq;
      size_t index = 0;
      for (int l = 0; l < bc.num_conv_layers; ++l) {
        VggConvWeights cw;
        cw.shape = {channels, static_cast<size_t>(bc.out_channels),
                    static_cast<size_t>(bc.conv_kernel)};
        const std::string mod =
            "encoder.conv_layers." + std::to_string(b) + ".layers." + std::to_string(index++);
        const size_t cols = cw.shape.kernel * cw.shape.kernel * channels;
        const float* raw;
        QASR_TRY(raw, Floats(mod + ".weight", cw.shape.out_channels * cols));
        const float* bias;
        QASR_TRY(bias, Floats(mod + ".bias", cw.shape.out_channels));
        QASR_TRY(cw.w, OwnedLinear(mod, PermuteConv2dWeight(raw, cw.shape), cols,
                                   cw.shape.out_channels, bias));
        cw.has_ln = bc.layer_norm;
        if (cw.has_ln) {
          QASR_TRY(cw.ln, Norm("encoder.conv_layers." + std::to_string(b) + ".layers." +
                                   std::to_string(index++),
                               freq));
        }
        ++index;  // ReLU
        channels = cw.shape.out_channels;
        blk.convs.push_back(cw);
      }
      freq = (freq + blk.pool - 1) / blk.pool;
      blk.freq_out = freq;
      blk.channels_out = channels;
      out_.vgg.push_back(std::move(blk));
    }
    size_t width = channels * freq, index = 0;
    out_.vgg_width = width;
    QASR_RETURN_IF_ERROR(Stack("encoder.transformer_layers.", cfg.encoder_layers, width, index,
                               false, out_.encoder_layers));
    const size_t e = static_cast<size_t>(cfg.enc_output_dim);
    QASR_TRY(out_.encoder_out,
             Linear("encoder.transformer_layers." + std::to_string(index++), width, e));
    QASR_TRY(out_.encoder_ln, Norm("encoder.transformer_layers." + std::to_string(index), e));
    if (file_.Find("ctc_head.weight") != nullptr) {
      out_.has_ctc = true;
      QASR_TRY(out_.ctc_head, Linear("ctc_head", e, static_cast<size_t>(cfg.vocab_size) + 1));
    }
    return Status::Ok();
  }

  Status Decoder() {
    const ModelConfig& cfg = out_.config;
    const size_t vocab = static_cast<size_t>(cfg.vocab_size);
    size_t c = static_cast<size_t>(cfg.tgt_embed_dim);
    QASR_TRY(out_.embedding, Floats("decoder.embed_tokens.weight", vocab * c));
    // Read one row per decoded token: the whole table is resident only
    // because the load checksum read it. Dropped, only the rows of tokens
    // actually decoded fault back in (most of 10 MB at paper scale).
    if (auto release = Releaser())
      release({reinterpret_cast<const uint8_t*>(out_.embedding), vocab * c * sizeof(float)});
    size_t index = 0;
    for (const ConvDecConfig& cc : cfg.decoder_conv) {
      DecoderConvWeights dw;
      dw.kernel = static_cast<size_t>(cc.kernel);
      dw.in = c;
      dw.out = static_cast<size_t>(cc.out_channels);
      const std::string mod = "decoder.conv_layers." + std::to_string(index++);
      const float* raw;  // (kernel, in, out)
      QASR_TRY(raw, Floats(mod + ".weight", dw.kernel * dw.in * dw.out));
      const float* bias;
      QASR_TRY(bias, Floats(mod + ".bias", dw.out));
      // (kernel, in, out) is [kernel * in][out]: the transposed GEMM layout,
      // packed in place (column t * in + i).
      const size_t cols = dw.kernel * dw.in;
      dw.w.in = cols;
      dw.w.out = dw.out;
      dw.w.panels = &out_.panels.emplace_back(raw, dw.out, cols, true, Releaser());
      dw.w.bias = bias;
      if (ActBits(mod, false) == 8) QASR_RETURN_IF_ERROR(SetFakeQuant(dw.w));
      dw.has_ln = cc.layer_norm;
      if (dw.has_ln)
        QASR_TRY(dw.ln, Norm("decoder.conv_layers." + std::to_string(index++), dw.out));
      ++index;  // ReLU
      c = dw.out;
      out_.decoder_convs.push_back(dw);
    }
    size_t layer_index = 0;
    QASR_RETURN_IF_ERROR(
        Stack("decoder.layers.", cfg.decoder_layers, c, layer_index, true, out_.decoder_layers));
    QASR_TRY(out_.fc_out, Linear("decoder.fc_out", c, vocab));
    return Status::Ok();
  }
#undef QASR_TRY

 private:
  const ModelFile& file_;
  VggTransformerWeights& out_;
  std::map<std::string, int> act_bits_;
};

}  // namespace

Result<std::unique_ptr<VggTransformerWeights>> LoadVggTransformer(const ModelFile& file) {
  if (file.config().architecture != "vggtransformer")
    return Unimplemented("architecture " + file.config().architecture);
  QASR_RETURN_IF_ERROR(CheckModelTensors(file));
  auto w = std::make_unique<VggTransformerWeights>();
  w->config = file.config();
  if (w->config.decoder_layers.empty()) return Unimplemented("a decoder without layers");
  Builder b(file, *w);
  QASR_RETURN_IF_ERROR(b.ReadActivationBits());
  QASR_RETURN_IF_ERROR(b.Encoder());
  w->encoder_panels = w->panels.size();
  QASR_RETURN_IF_ERROR(b.Decoder());
  return w;
}

Status PackAllPanels(const VggTransformerWeights& w, kernels::ThreadPool* pool, ModelPart part) {
  const size_t begin = part == ModelPart::kDecoder ? w.encoder_panels : 0;
  const size_t end = part == ModelPart::kEncoder ? w.encoder_panels : w.panels.size();
  std::vector<Status> status(end - begin);
  kernels::ParallelFor(pool, end - begin, [&](size_t i) {
    auto r = w.panels[begin + i].Get();
    if (!r.ok()) status[i] = r.status();
  });
  for (const Status& s : status)
    if (!s.ok()) return s;
  return Status::Ok();
}

}  // namespace qasr::engine
