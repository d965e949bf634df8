// Template definitions for layers.h.
#pragma once

#include "engine/ops/elementwise.h"

namespace qasr::engine {

template <class Fn>
Status ResidualBlock(const NormWeights& ln, bool normalize_before, float* x, size_t rows, size_t d,
                     LayerBuffers& buf, const Fn& fn) {
  if (normalize_before) {
    LayerNormRows(x, d, rows, d, ln.gamma, ln.beta, buf.h.data(), d);
    QASR_RETURN_IF_ERROR(fn(buf.h.data()));
    AddInPlace(x, buf.proj.data(), rows * d);
  } else {
    QASR_RETURN_IF_ERROR(fn(x));
    AddInPlace(x, buf.proj.data(), rows * d);
    LayerNormRows(x, d, rows, d, ln.gamma, ln.beta, x, d);
  }
  return Status::Ok();
}

}  // namespace qasr::engine
