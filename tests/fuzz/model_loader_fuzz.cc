// libFuzzer target: arbitrary bytes through the .qasr loader
// (engine/format). The checksum is skipped so mutations reach the structural
// validation; a file that loads has every tensor byte read, every name looked
// up and small packed weights unpacked. Any crash, sanitizer report, leak or
// huge allocation is a bug; errors are fine.
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/format/model_file.h"
#include "engine/format/tensor_registry.h"
#include "kernels/formats/weight_format.h"

namespace {

using namespace qasr::engine;

// Reads everything a later consumer could touch.
unsigned Touch(const ModelFile& file) {
  unsigned sum = 0;
  for (const TensorView& t : file.tensors()) {
    for (uint8_t b : t.bytes) sum += b;
    if (file.Find(t.name) != &t) __builtin_trap();
    if (t.is_packed() && t.num_elements() <= (1u << 16)) {
      const qasr::kernels::UnpackedWeights plain = qasr::kernels::Unpack(t.packed);
      for (uint8_t c : plain.codes) sum += c;
    }
  }
  for (uint8_t b : file.spm_model()) sum += b;
  for (char c : file.metadata()) sum += static_cast<unsigned char>(c);
  sum += CheckModelTensors(file).ok() ? 1u : 0u;
  return sum + static_cast<unsigned>(file.config().vocab_size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  LoadOptions options;
  options.verify_checksum = false;
  if (auto file = ModelFile::FromBytes(bytes, options); file.ok()) {
    volatile unsigned sink = Touch(*file);
    (void)sink;
  }
  options.verify_checksum = true;  // the checksum path itself
  (void)ModelFile::FromBytes(bytes, options);
  return 0;
}
