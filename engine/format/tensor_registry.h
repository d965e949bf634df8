// The tensors a VGGTransformer of a given config needs: names (model.py's
// state_dict keys, decoder conv weight norm folded, docs/FORMAT.md §3.2) and
// logical shapes. Tested against files exported from model.py, so the
// registry and the Python exporter cannot drift apart silently.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/format/model_config.h"
#include "engine/format/model_file.h"
#include "kernels/base/status.h"

namespace qasr::engine {

struct ExpectedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  bool packable = false;  // a Linear weight [out][in]: may be stored w2/w3/w4/w8
  bool optional = false;  // may be absent (the CTC head); checked when present
};

std::vector<ExpectedTensor> ExpectedTensors(const ModelConfig& config);

// Every expected tensor is present with its shape (an optional one: absent,
// or present with its shape, and the CTC head's two tensors both or
// neither); f32/f16 anywhere, packed formats only where packable. Extra
// tensors are allowed (ignored).
Status CheckModelTensors(const ModelFile& file);

}  // namespace qasr::engine
