// Loads the .qasr files written by the Python exporter and checks every
// tensor's bytes, shape and dtype against the exporter's sidecar, packed
// weights through the kernels' Unpack, and the parsed configs.
#include "engine/format/model_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/format/tensor_registry.h"
#include "kernels/formats/weight_format.h"
#include "tests/engine/model_file_test_util.h"

namespace qasr::engine {
namespace {

using testing::ReadBytes;
using testing::TestFile;

std::span<const uint8_t> Slice(const std::vector<uint8_t>& blob, const nlohmann::json& range) {
  return std::span<const uint8_t>(blob).subspan(range[0].get<size_t>(), range[1].get<size_t>());
}

bool SameBytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

template <typename T>
std::span<const uint8_t> AsBytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

void CheckAgainstExpected(const std::string& stem) {
  SCOPED_TRACE(stem);
  Result<ModelFile> file = ModelFile::Open(TestFile(stem + ".qasr"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const auto index = nlohmann::json::parse(ReadBytes(TestFile(stem + ".expected.json")));
  const std::vector<uint8_t> blob = ReadBytes(TestFile(stem + ".expected.bin"));
  const auto& tensors = index["tensors"];
  ASSERT_EQ(file->tensors().size(), tensors.size());
  size_t i = 0;
  for (const auto& want : tensors) {
    const std::string name = want["name"];
    SCOPED_TRACE(name);
    const TensorView* t = file->Find(name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(&file->tensors()[i++], t) << "table order";
    EXPECT_EQ(DTypeName(static_cast<uint8_t>(t->dtype)), want["dtype"].get<std::string>());
    EXPECT_EQ(std::vector<uint64_t>(t->shape().begin(), t->shape().end()),
              want["shape"].get<std::vector<uint64_t>>());
    EXPECT_TRUE(SameBytes(t->bytes, Slice(blob, want["data"])));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->bytes.data()) % 64, 0u);
    EXPECT_EQ(t->offset % spec::kAlignment, 0u);
    if (t->dtype == DType::f32) {
      EXPECT_EQ(t->f32().size(), t->num_elements());
    }
    if (t->dtype == DType::f16) {
      EXPECT_EQ(t->f16().size(), t->num_elements());
    }
    if (t->is_packed()) {
      EXPECT_EQ(t->group, want["group"].get<uint64_t>());
      ASSERT_EQ(t->packed.data(), t->bytes.data()) << "packed view must point into the file";
      const kernels::UnpackedWeights plain = kernels::Unpack(t->packed);
      EXPECT_TRUE(SameBytes(AsBytes(plain.codes), Slice(blob, want["codes"])));
      EXPECT_TRUE(SameBytes(AsBytes(plain.scales), Slice(blob, want["scales"])));
      EXPECT_TRUE(SameBytes(AsBytes(plain.zeros), Slice(blob, want["zeros"])));
    }
  }
}

TEST(ModelFileTest, MinFileMatchesPython) { CheckAgainstExpected("min"); }
TEST(ModelFileTest, TinyFp32MatchesPython) { CheckAgainstExpected("tiny-fp32"); }
TEST(ModelFileTest, TinyMixedMatchesPython) { CheckAgainstExpected("tiny-mixed"); }

TEST(ModelFileTest, ConfigsAndBlobs) {
  Result<ModelFile> file = ModelFile::Open(TestFile("tiny-mixed.qasr"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const ModelConfig& c = file->config();
  EXPECT_EQ(c.architecture, "vggtransformer");
  EXPECT_EQ(c.vocab_size, 40);
  EXPECT_EQ(c.input_feat, 80);
  ASSERT_EQ(c.vgg.size(), 2u);
  EXPECT_EQ(c.vgg[1].out_channels, 16);
  ASSERT_EQ(c.encoder_layers.size(), 2u);
  EXPECT_EQ(c.encoder_layers[0].d_model, 96);
  EXPECT_EQ(c.encoder_layers[0].heads, 2);
  EXPECT_EQ(c.tgt_embed_dim, 64);
  EXPECT_EQ(c.decoder_conv.size(), 2u);
  EXPECT_EQ(c.decoder_layers.size(), 1u);
  EXPECT_EQ(file->feature_config().num_mel_bins, 80);
  EXPECT_EQ(file->feature_config().cmvn, "utterance");
  EXPECT_FALSE(file->spm_model().empty());
  const auto meta = nlohmann::json::parse(file->metadata());
  EXPECT_EQ(meta["quantization"]["recipe"], "test");
  EXPECT_EQ(file->version_major(), spec::kVersionMajor);
  // The folded decoder convolution: (kernel, in, out).
  const TensorView* conv = file->Find("decoder.conv_layers.0.weight");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->rank, 3u);
  EXPECT_EQ(conv->dims[0], 3u);
  EXPECT_EQ(file->Find("decoder.conv_layers.0.weight_v"), nullptr);
  EXPECT_EQ(file->Find(""), nullptr);
  EXPECT_EQ(file->Find("zzz"), nullptr);
}

TEST(ModelFileTest, OpenAndFromBytesAgree) {
  const std::string path = TestFile("min.qasr");
  Result<ModelFile> mapped = ModelFile::Open(path);
  Result<ModelFile> copied = ModelFile::FromBytes(ReadBytes(path), {.verify_checksum = false});
  ASSERT_TRUE(mapped.ok() && copied.ok());
  EXPECT_EQ(mapped->checksum(), copied->checksum());
  EXPECT_EQ(mapped->file_bytes(), copied->file_bytes());
  ASSERT_EQ(mapped->tensors().size(), copied->tensors().size());
  for (size_t i = 0; i < mapped->tensors().size(); ++i)
    EXPECT_TRUE(SameBytes(mapped->tensors()[i].bytes, copied->tensors()[i].bytes));
}

TEST(ModelFileTest, MoveKeepsViewsValid) {
  Result<ModelFile> file = ModelFile::Open(TestFile("min.qasr"));
  ASSERT_TRUE(file.ok());
  const TensorView* before = file->Find("a.f32");
  ASSERT_NE(before, nullptr);
  const uint8_t* data = before->bytes.data();
  ModelFile moved = std::move(*file);
  const TensorView* after = moved.Find("a.f32");
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->bytes.data(), data);
  EXPECT_EQ(after->f32().size(), 15u);
}

TEST(ModelFileTest, MissingAndNonRegularFiles) {
  Result<ModelFile> missing = ModelFile::Open(TestFile("does-not-exist.qasr"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<ModelFile> dir = ModelFile::Open(TestFile(""));
  EXPECT_FALSE(dir.ok());
  Result<ModelFile> empty = ModelFile::FromBytes({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kDataLoss);
}

TEST(ModelFileTest, RegistryMatchesPythonExportExactly) {
  // tiny-fp32.qasr holds model.py's state_dict (weight norm folded): the C++
  // registry must name exactly those tensors with exactly those shapes.
  Result<ModelFile> file = ModelFile::Open(TestFile("tiny-fp32.qasr"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::vector<ExpectedTensor> expected = ExpectedTensors(file->config());
  size_t present = 0;
  for (const ExpectedTensor& want : expected) {
    const TensorView* t = file->Find(want.name);
    if (want.optional && t == nullptr) continue;  // the CTC head
    ++present;
    ASSERT_NE(t, nullptr) << want.name;
    EXPECT_EQ(std::vector<uint64_t>(t->shape().begin(), t->shape().end()), want.shape) << want.name;
  }
  EXPECT_EQ(present, file->tensors().size());
  EXPECT_TRUE(CheckModelTensors(*file).ok());
  Result<ModelFile> mixed = ModelFile::Open(TestFile("tiny-mixed.qasr"));
  ASSERT_TRUE(mixed.ok());
  const Status packed = CheckModelTensors(*mixed);
  EXPECT_TRUE(packed.ok()) << packed.ToString();
  Result<ModelFile> partial = ModelFile::Open(TestFile("min.qasr"));
  ASSERT_TRUE(partial.ok());
  const Status missing = CheckModelTensors(*partial);
  EXPECT_EQ(missing.code(), StatusCode::kDataLoss);
  EXPECT_NE(missing.message().find("missing tensor"), std::string::npos) << missing.ToString();
}

TEST(ModelFileTest, RegistryRejectsWrongShape) {
  testing::FileImage image(ReadBytes(TestFile("tiny-fp32.qasr")));
  const size_t e = image.Entry("decoder.fc_out.bias");
  image.Store<uint64_t>(e + EntryField::dim0, 20);  // 40 -> 20 f32: still self-consistent
  image.Store<uint64_t>(e + EntryField::data_bytes, 80);
  image.Reseal();
  Result<ModelFile> file = image.Parse();
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const Status s = CheckModelTensors(*file);
  EXPECT_NE(s.message().find("decoder.fc_out.bias has shape [20]"), std::string::npos)
      << s.ToString();
}

TEST(ModelFileTest, JsonNestingIsBounded) {
  // nlohmann dumps and copies recursively: hostile nesting must be refused at load.
  const auto nested = [](int depth) {
    return "{\"a\": " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  EXPECT_TRUE(ValidateJsonObject(nested(64), "metadata").ok());
  const Status deep = ValidateJsonObject(nested(65), "metadata");
  EXPECT_EQ(deep.code(), StatusCode::kDataLoss);
  EXPECT_NE(deep.message().find("nested deeper"), std::string::npos) << deep.ToString();
  EXPECT_FALSE(ValidateJsonObject(nested(1000000), "metadata").ok());
  EXPECT_FALSE(ParseModelConfig(nested(100000)).ok());
  EXPECT_TRUE(ValidateJsonObject(
                  "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
                  "metadata")
                  .ok())
      << "brackets inside strings do not nest";
  EXPECT_FALSE(ValidateJsonObject("[1]", "metadata").ok());
  EXPECT_FALSE(ValidateJsonObject("{\"a\": \"\xff\"}", "metadata").ok()) << "invalid UTF-8";
}

}  // namespace
}  // namespace qasr::engine
