#include "engine/format/model_config.h"

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace qasr::engine {

namespace {

using Json = nlohmann::json;

// nlohmann parses iteratively but dumps, copies and compares recursively:
// a deeply nested hostile blob would overflow the stack later (inspect).
constexpr int kMaxJsonDepth = 64;

bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Parses without exceptions; a discarded value means a syntax error.
Result<Json> ParseObject(std::string_view text, std::string_view what) {
  if (!NestingWithin(text, kMaxJsonDepth))
    return DataLoss(std::string(what) + ": JSON nested deeper than " +
                    std::to_string(kMaxJsonDepth));
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLoss(std::string(what) + ": not valid JSON");
  if (!j.is_object()) return DataLoss(std::string(what) + ": not a JSON object");
  return j;
}

// Field readers: `where` names the object for error messages.
class Reader {
 public:
  Reader(const Json& obj, std::string where) : obj_(obj), where_(std::move(where)) {}

  Status Int(const char* key, int64_t lo, int64_t hi, int* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    bool in_range = false;
    if (v->is_number_unsigned()) {
      const auto u = v->get<uint64_t>();
      in_range = u >= static_cast<uint64_t>(lo < 0 ? 0 : lo) && u <= static_cast<uint64_t>(hi);
    } else if (v->is_number_integer()) {
      const auto i = v->get<int64_t>();
      in_range = i >= lo && i <= hi;
    } else {
      return Bad(key, "must be an integer");
    }
    if (!in_range)
      return Bad(key, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = static_cast<int>(v->get<int64_t>());
    return Status::Ok();
  }

  Status Double(const char* key, double lo, double hi, double* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_number()) return Bad(key, "must be a number");
    const auto d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
      return Bad(key, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = d;
    return Status::Ok();
  }

  Status Bool(const char* key, bool* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_boolean()) return Bad(key, "must be true or false");
    *out = v->get<bool>();
    return Status::Ok();
  }

  Status String(const char* key, std::string* out) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_string()) return Bad(key, "must be a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }

  // An array of at most `max` objects.
  Result<const Json*> Array(const char* key, size_t max) const {
    const Json* v = Find(key);
    if (v == nullptr) return Missing(key);
    if (!v->is_array()) return Bad(key, "must be an array");
    if (v->size() > max) return Bad(key, "has more than " + std::to_string(max) + " items");
    for (const Json& item : *v)
      if (!item.is_object()) return Bad(key, "items must be objects");
    return v;
  }

  const std::string& where() const { return where_; }

 private:
  const Json* Find(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  Status Missing(const char* key) const {
    return DataLoss(where_ + ": missing field '" + key + "'");
  }
  Status Bad(const char* key, const std::string& why) const {
    return DataLoss(where_ + ": field '" + key + "' " + why);
  }
  const Json& obj_;
  std::string where_;
};

constexpr int64_t kMaxWidth = 1 << 16;

Status ReadLayer(const Reader& r, TransformerLayerConfig* l) {
  QASR_RETURN_IF_ERROR(r.Int("d_model", 1, kMaxWidth, &l->d_model));
  QASR_RETURN_IF_ERROR(r.Int("heads", 1, 1024, &l->heads));
  QASR_RETURN_IF_ERROR(r.Int("ffn_dim", 1, 4 * kMaxWidth, &l->ffn_dim));
  QASR_RETURN_IF_ERROR(r.Bool("normalize_before", &l->normalize_before));
  if (l->d_model % l->heads != 0) return DataLoss(r.where() + ": d_model not divisible by heads");
  return Status::Ok();
}

Status ReadLayers(const Reader& r, const char* key, std::vector<TransformerLayerConfig>* out) {
  Result<const Json*> items = r.Array(key, 256);
  if (!items.ok()) return items.status();
  for (size_t i = 0; i < (*items)->size(); ++i) {
    TransformerLayerConfig l;
    QASR_RETURN_IF_ERROR(
        ReadLayer(Reader((**items)[i], r.where() + "." + key + "[" + std::to_string(i) + "]"), &l));
    out->push_back(l);
  }
  return Status::Ok();
}

Status ReadVgg(const Reader& r, std::vector<VggBlockConfig>* out) {
  Result<const Json*> items = r.Array("vgg", 16);
  if (!items.ok()) return items.status();
  for (size_t i = 0; i < (*items)->size(); ++i) {
    const Reader b((**items)[i], r.where() + ".vgg[" + std::to_string(i) + "]");
    VggBlockConfig c;
    QASR_RETURN_IF_ERROR(b.Int("out_channels", 1, 4096, &c.out_channels));
    QASR_RETURN_IF_ERROR(b.Int("conv_kernel", 1, 31, &c.conv_kernel));
    QASR_RETURN_IF_ERROR(b.Int("pool_kernel", 1, 16, &c.pool_kernel));
    QASR_RETURN_IF_ERROR(b.Int("num_conv_layers", 1, 16, &c.num_conv_layers));
    QASR_RETURN_IF_ERROR(b.Bool("layer_norm", &c.layer_norm));
    if (c.conv_kernel % 2 == 0) return DataLoss(b.where() + ": conv_kernel must be odd");
    out->push_back(c);
  }
  return Status::Ok();
}

Status ReadDecoderConv(const Reader& r, std::vector<ConvDecConfig>* out) {
  Result<const Json*> items = r.Array("decoder_conv", 64);
  if (!items.ok()) return items.status();
  for (size_t i = 0; i < (*items)->size(); ++i) {
    const Reader b((**items)[i], r.where() + ".decoder_conv[" + std::to_string(i) + "]");
    ConvDecConfig c;
    QASR_RETURN_IF_ERROR(b.Int("out_channels", 1, kMaxWidth, &c.out_channels));
    QASR_RETURN_IF_ERROR(b.Int("kernel", 1, 64, &c.kernel));
    QASR_RETURN_IF_ERROR(b.Bool("layer_norm", &c.layer_norm));
    out->push_back(c);
  }
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ParseModelConfig(std::string_view json_text) {
  Result<Json> j = ParseObject(json_text, "model config");
  if (!j.ok()) return j.status();
  const Reader r(*j, "model config");
  ModelConfig c;
  QASR_RETURN_IF_ERROR(r.String("architecture", &c.architecture));
  if (c.architecture != "vggtransformer")
    return Unimplemented("model config: unknown architecture '" + c.architecture + "'");
  QASR_RETURN_IF_ERROR(r.Int("vocab_size", 4, 1 << 20, &c.vocab_size));
  QASR_RETURN_IF_ERROR(r.Int("input_feat", 1, 1024, &c.input_feat));
  QASR_RETURN_IF_ERROR(r.Int("in_channels", 1, 16, &c.in_channels));
  QASR_RETURN_IF_ERROR(ReadVgg(r, &c.vgg));
  QASR_RETURN_IF_ERROR(ReadLayers(r, "encoder_layers", &c.encoder_layers));
  QASR_RETURN_IF_ERROR(r.Int("enc_output_dim", 1, kMaxWidth, &c.enc_output_dim));
  QASR_RETURN_IF_ERROR(r.Int("tgt_embed_dim", 1, kMaxWidth, &c.tgt_embed_dim));
  QASR_RETURN_IF_ERROR(ReadDecoderConv(r, &c.decoder_conv));
  QASR_RETURN_IF_ERROR(ReadLayers(r, "decoder_layers", &c.decoder_layers));
  // Cross-attention projects the encoder output with d_model x d_model weights.
  for (const TransformerLayerConfig& l : c.decoder_layers)
    if (l.d_model != c.enc_output_dim)
      return DataLoss("model config: decoder d_model " + std::to_string(l.d_model) +
                      " differs from enc_output_dim " + std::to_string(c.enc_output_dim));
  return c;
}

Result<FeatureConfig> ParseFeatureConfig(std::string_view json_text) {
  Result<Json> j = ParseObject(json_text, "feature config");
  if (!j.ok()) return j.status();
  const Reader r(*j, "feature config");
  FeatureConfig c;
  QASR_RETURN_IF_ERROR(r.Int("sample_rate", 4000, 192000, &c.sample_rate));
  QASR_RETURN_IF_ERROR(r.Int("num_mel_bins", 1, 1024, &c.num_mel_bins));
  QASR_RETURN_IF_ERROR(r.Double("frame_length_ms", 1.0, 1000.0, &c.frame_length_ms));
  QASR_RETURN_IF_ERROR(r.Double("frame_shift_ms", 1.0, 1000.0, &c.frame_shift_ms));
  QASR_RETURN_IF_ERROR(r.Double("dither", 0.0, 1e6, &c.dither));
  QASR_RETURN_IF_ERROR(r.Double("waveform_scale", 1e-6, 1e9, &c.waveform_scale));
  QASR_RETURN_IF_ERROR(r.String("cmvn", &c.cmvn));
  QASR_RETURN_IF_ERROR(r.Double("cmvn_var_floor", 0.0, 1.0, &c.cmvn_var_floor));
  if (c.cmvn != "utterance" && c.cmvn != "none")
    return DataLoss("feature config: cmvn must be 'utterance' or 'none'");
  return c;
}

Status ValidateJsonObject(std::string_view json_text, std::string_view what) {
  return ParseObject(json_text, what).status();
}

}  // namespace qasr::engine
