// Corrupt, truncated and hostile model files: each must be a clear Status
// error (never a crash, out-of-bounds read or huge allocation; CI also runs
// this under ASan+UBSan). Targeted mutations are resealed with a correct
// checksum so that the structural validation itself is exercised.
#include <gtest/gtest.h>

#include <string>

#include "engine/format/model_file.h"
#include "tests/engine/model_file_test_util.h"

namespace qasr::engine {
namespace {

using testing::FileImage;
using testing::ReadBytes;
using testing::TestFile;

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_ = FileImage(ReadBytes(TestFile("min.qasr")));
    ASSERT_TRUE(image_.Parse().ok()) << image_.Parse().status().ToString();
  }
  // Reseals and expects an error whose message contains `needle`.
  void ExpectError(const std::string& needle, StatusCode code = StatusCode::kDataLoss) {
    image_.Reseal();
    Result<ModelFile> r = image_.Parse();
    ASSERT_FALSE(r.ok()) << "accepted a file with: " << needle;
    EXPECT_EQ(r.status().code(), code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().ToString();
  }
  size_t Entry(const char* name) const { return image_.Entry(name); }
  template <typename T>
  void Store(size_t at, T v) {
    image_.Store<T>(at, v);
  }

  FileImage image_{{}};
};

TEST_F(CorruptionTest, EveryTruncationFails) {
  const std::vector<uint8_t> full = image_.bytes();
  for (size_t n = 0; n < full.size(); ++n) {
    const std::span<const uint8_t> prefix(full.data(), n);
    EXPECT_FALSE(ModelFile::FromBytes(prefix, {.verify_checksum = false}).ok()) << n;
    EXPECT_FALSE(ModelFile::FromBytes(prefix).ok()) << n;
  }
}

TEST_F(CorruptionTest, TruncationWithPatchedSizeFails) {
  // A truncated file whose header claims the new size: the table or data
  // bounds must catch it.
  const std::vector<uint8_t> full = image_.bytes();
  for (size_t n = spec::kHeaderBytes; n < full.size(); n += 3) {
    FileImage cut(std::vector<uint8_t>(full.begin(), full.begin() + static_cast<ptrdiff_t>(n)));
    cut.Store<uint64_t>(HeaderField::file_bytes, n);
    cut.Reseal();
    EXPECT_FALSE(cut.Parse().ok()) << n;
  }
}

TEST_F(CorruptionTest, EveryBitFlipIsCaughtByTheChecksum) {
  const std::vector<uint8_t> full = image_.bytes();
  for (size_t at = 0; at < full.size(); ++at) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = full;
      bad[at] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(ModelFile::FromBytes(bad).ok()) << at << ":" << bit;
    }
  }
}

TEST_F(CorruptionTest, BitFlipsInHeaderAndTableWithoutChecksumNeverCrash) {
  const std::vector<uint8_t> full = image_.bytes();
  size_t rejected = 0, flips = 0;
  for (size_t at = 0; at < image_.table_end(); ++at) {
    for (int bit = 0; bit < 8; ++bit, ++flips) {
      std::vector<uint8_t> bad = full;
      bad[at] ^= static_cast<uint8_t>(1u << bit);
      Result<ModelFile> r = ModelFile::FromBytes(bad, {.verify_checksum = false});
      if (!r.ok()) {
        ++rejected;
        EXPECT_FALSE(r.status().message().empty());
      } else {
        for (const TensorView& t : r->tensors()) ASSERT_LE(t.offset + t.bytes.size(), bad.size());
      }
    }
  }
  // Reserved bits, flags and the checksum itself may flip harmlessly.
  EXPECT_GT(rejected, flips / 2);
}

TEST_F(CorruptionTest, Header) {
  image_.bytes()[0] = 'X';
  ExpectError("bad magic");
}
TEST_F(CorruptionTest, NewerMajorVersion) {
  Store<uint16_t>(HeaderField::version_major, spec::kVersionMajor + 1);
  ExpectError("not supported", StatusCode::kUnimplemented);
}
TEST_F(CorruptionTest, NewerMinorVersionIsAccepted) {
  Store<uint16_t>(HeaderField::version_minor, 999);
  image_.Reseal();
  Result<ModelFile> r = image_.Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version_minor(), 999);
}
TEST_F(CorruptionTest, WrongChecksum) {
  image_.Reseal();
  Store<uint32_t>(HeaderField::checksum, image_.Load<uint32_t>(HeaderField::checksum) ^ 1u);
  Result<ModelFile> r = image_.Parse();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("checksum"), std::string::npos);
  EXPECT_TRUE(image_.Parse(/*verify_checksum=*/false).ok());
}
TEST_F(CorruptionTest, FileSizeMismatch) {
  Store<uint64_t>(HeaderField::file_bytes, image_.bytes().size() + 1);
  ExpectError("truncated or padded");
}
TEST_F(CorruptionTest, HeaderSize) {
  Store<uint32_t>(HeaderField::header_bytes, 0xFFFFFFFFu);
  ExpectError("header size");
}
TEST_F(CorruptionTest, Alignment) {
  Store<uint32_t>(HeaderField::alignment, 96);
  ExpectError("alignment");
}
TEST_F(CorruptionTest, HugeEntryCount) {
  Store<uint32_t>(HeaderField::entry_count, 0xFFFFFFFFu);
  ExpectError("too many entries");
}
TEST_F(CorruptionTest, EntryCountBeyondTable) {
  Store<uint32_t>(HeaderField::entry_count, 60000);
  ExpectError("do not fit");
}
TEST_F(CorruptionTest, EntrySize) {
  Store<uint32_t>(HeaderField::entry_bytes, 8);
  ExpectError("entry size");
}
TEST_F(CorruptionTest, TableOutsideFile) {
  Store<uint64_t>(HeaderField::table_bytes, ~uint64_t{0} - 10);
  ExpectError("outside the file");
}
TEST_F(CorruptionTest, TableOffsetInsideHeader) {
  Store<uint64_t>(HeaderField::table_offset, 8);
  ExpectError("outside the file");
}
TEST_F(CorruptionTest, HugeDataOffset) {
  Store<uint64_t>(Entry("a.f32") + EntryField::data_offset, ~uint64_t{0} - 63);
  ExpectError("outside the file");
}
TEST_F(CorruptionTest, HugeDataSize) {
  Store<uint64_t>(Entry("a.f32") + EntryField::data_bytes, ~uint64_t{0});
  ExpectError("outside the file");
}
TEST_F(CorruptionTest, DataInsideTable) {
  Store<uint64_t>(Entry("a.f32") + EntryField::data_offset, 64);
  ExpectError("overlaps the header or table");
}
TEST_F(CorruptionTest, MisalignedData) {
  const size_t e = Entry("a.f32");
  Store<uint64_t>(e + EntryField::data_offset, image_.Load<uint64_t>(e) + 4);
  ExpectError("misaligned");
}
TEST_F(CorruptionTest, OverlappingTensors) {
  Store<uint64_t>(Entry("b.f16") + EntryField::data_offset, image_.Load<uint64_t>(Entry("a.f32")));
  ExpectError("overlap");
}
TEST_F(CorruptionTest, ElementCountDoesNotMatchBytes) {
  Store<uint64_t>(Entry("a.f32") + EntryField::dim1, 6);
  ExpectError("bytes for 18 f32 elements");
}
TEST_F(CorruptionTest, HugeDims) {
  Store<uint64_t>(Entry("a.f32") + EntryField::dim0, uint64_t{1} << 40);
  ExpectError("out of range");
}
TEST_F(CorruptionTest, ElementCountOverflow) {
  const size_t e = Entry("a.f32");
  image_.bytes()[e + EntryField::rank] = 4;
  for (size_t at : {EntryField::dim0, EntryField::dim1, EntryField::dim2, EntryField::dim3})
    Store<uint64_t>(e + at, uint64_t{1} << 30);
  ExpectError("overflows");
}
TEST_F(CorruptionTest, RankTooLarge) {
  image_.bytes()[Entry("a.f32") + EntryField::rank] = 5;
  ExpectError("rank");
}
TEST_F(CorruptionTest, DimBeyondRank) {
  Store<uint64_t>(Entry("b.f16") + EntryField::dim2, 1);
  ExpectError("beyond rank");
}
TEST_F(CorruptionTest, UnknownDType) {
  image_.bytes()[Entry("a.f32") + EntryField::dtype] = 200;
  ExpectError("unknown tensor dtype", StatusCode::kUnimplemented);
}
TEST_F(CorruptionTest, UnknownKindIsIgnored) {
  image_.bytes()[Entry("a.f32") + EntryField::kind] = 77;
  image_.Reseal();
  Result<ModelFile> r = image_.Parse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Find("a.f32"), nullptr);
}
TEST_F(CorruptionTest, PackedSizeMismatch) {
  Store<uint32_t>(Entry("w2.weight") + EntryField::group, 64);  // 2 groups -> 1: fewer bytes
  ExpectError("expected");
}
TEST_F(CorruptionTest, PackedBadGroup) {
  Store<uint32_t>(Entry("w4.weight") + EntryField::group, 48);
  ExpectError("multiple of 32");
}
TEST_F(CorruptionTest, PackedWrongRank) {
  image_.bytes()[Entry("w8.weight") + EntryField::rank] = 1;
  Store<uint64_t>(Entry("w8.weight") + EntryField::dim1, 0);
  ExpectError("rank 2");
}
TEST_F(CorruptionTest, GroupOnUnpackedTensor) {
  Store<uint32_t>(Entry("a.f32") + EntryField::group, 32);
  ExpectError("group set");
}
TEST_F(CorruptionTest, NameOutOfBounds) {
  Store<uint32_t>(Entry("a.f32") + EntryField::name_offset, 0xFFFFFFF0u);
  ExpectError("name out of bounds");
}
TEST_F(CorruptionTest, EmptyName) {
  Store<uint16_t>(Entry("a.f32") + EntryField::name_bytes, 0);
  ExpectError("bad name length");
}
TEST_F(CorruptionTest, BadNameCharacter) {
  const size_t strings = image_.Load<uint64_t>(HeaderField::table_offset) +
                         image_.Load<uint32_t>(HeaderField::entry_count) * spec::kEntryBytes;
  image_.bytes()[strings + image_.Load<uint32_t>(Entry("a.f32") + EntryField::name_offset)] = 0;
  ExpectError("invalid characters");
}
TEST_F(CorruptionTest, DuplicateName) {
  const size_t a = Entry("a.f32"), b = Entry("b.f16");
  Store<uint32_t>(b + EntryField::name_offset, image_.Load<uint32_t>(a + EntryField::name_offset));
  Store<uint16_t>(b + EntryField::name_bytes, image_.Load<uint16_t>(a + EntryField::name_bytes));
  ExpectError("duplicate");
}
TEST_F(CorruptionTest, BlobWithWrongName) {
  image_.bytes()[Entry("metadata") + EntryField::kind] = static_cast<uint8_t>(EntryKind::tokenizer);
  ExpectError("expected the name");
}
TEST_F(CorruptionTest, MissingTokenizer) {
  image_.bytes()[Entry("tokenizer.spm") + EntryField::kind] = 99;  // unknown kind: ignored
  ExpectError("no tokenizer");
}
TEST_F(CorruptionTest, ConfigNotJson) {
  image_.ReplaceInBlob("model.config", "{", "!");
  ExpectError("not valid JSON");
}
TEST_F(CorruptionTest, ConfigNotObject) {
  image_.ReplaceInBlob("model.config", "{\"arch", "[\"arch");
  ExpectError("not valid JSON");
}
TEST_F(CorruptionTest, ConfigMissingField) {
  image_.ReplaceInBlob("model.config", "\"vocab_size\"", "\"vocab_sizX\"");
  ExpectError("missing field 'vocab_size'");
}
TEST_F(CorruptionTest, ConfigWrongType) {
  image_.ReplaceInBlob("model.config", "\"vocab_size\": 40", "\"vocab_size\": []");
  ExpectError("must be an integer");
}
TEST_F(CorruptionTest, ConfigOutOfRange) {
  image_.ReplaceInBlob("model.config", "\"vocab_size\": 40", "\"vocab_size\": -4");
  ExpectError("out of range");
}
TEST_F(CorruptionTest, ConfigHugeNumber) {
  image_.ReplaceInBlob("features.config", "\"sample_rate\": 16000", "\"sample_rate\": 1e300");
  ExpectError("must be an integer");
}
TEST_F(CorruptionTest, ConfigHeadsDoNotDivide) {
  image_.ReplaceInBlob("model.config", "\"heads\": 2", "\"heads\": 3");
  ExpectError("divisible");
}
TEST_F(CorruptionTest, ConfigDecoderWidthDiffersFromEncoder) {
  image_.ReplaceInBlob("model.config", "\"enc_output_dim\": 64", "\"enc_output_dim\": 32");
  ExpectError("differs from enc_output_dim");
}
TEST_F(CorruptionTest, ConfigEvenKernel) {
  image_.ReplaceInBlob("model.config", "\"conv_kernel\": 3", "\"conv_kernel\": 4");
  ExpectError("odd");
}
TEST_F(CorruptionTest, ConfigUnknownArchitecture) {
  image_.ReplaceInBlob("model.config", "vggtransformer", "xggtransformer");
  ExpectError("architecture", StatusCode::kUnimplemented);
}
TEST_F(CorruptionTest, FeaturesDisagreeWithModel) {
  image_.ReplaceInBlob("model.config", "\"in_channels\": 1", "\"in_channels\": 2");
  ExpectError("mel bins");
}
TEST_F(CorruptionTest, FeatureConfigBadCmvn) {
  image_.ReplaceInBlob("features.config", "utterance", "utterancx");
  ExpectError("cmvn");
}
TEST_F(CorruptionTest, MetadataNotObject) {
  image_.ReplaceInBlob("metadata", "{", "7");
  ExpectError("metadata");
}

}  // namespace
}  // namespace qasr::engine
