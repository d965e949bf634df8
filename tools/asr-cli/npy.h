// Writes float32 arrays as NumPy .npy files (format version 1.0).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::cli {

// Writes `data` (row-major, product(shape) floats) to `path`.
Status WriteNpyFloat32(const std::string& path, std::span<const float> data,
                       const std::vector<size_t>& shape);

}  // namespace qasr::cli
