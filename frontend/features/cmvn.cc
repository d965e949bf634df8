#include "frontend/features/cmvn.h"

#include <cmath>
#include <vector>

namespace qasr::frontend {

void ApplyCmvn(Features* features) {
  const size_t frames = features->num_frames;
  const size_t dim = features->dim;
  if (frames < 2 || dim == 0) return;
  std::vector<double> mean(dim, 0.0);
  for (size_t t = 0; t < frames; ++t) {
    const float* row = features->row(t);
    for (size_t j = 0; j < dim; ++j) mean[j] += row[j];
  }
  for (double& m : mean) m /= static_cast<double>(frames);
  std::vector<double> var(dim, 0.0);
  for (size_t t = 0; t < frames; ++t) {
    const float* row = features->row(t);
    for (size_t j = 0; j < dim; ++j) {
      const double d = row[j] - mean[j];
      var[j] += d * d;
    }
  }
  bool tiny = false;
  for (double& v : var) {
    v /= static_cast<double>(frames - 1);
    tiny |= v < kCmvnVarianceFloor;
  }
  std::vector<float> shift(dim);
  std::vector<float> scale(dim);
  for (size_t j = 0; j < dim; ++j) {
    const double std_dev = std::sqrt(var[j]);
    shift[j] = static_cast<float>(mean[j]);
    scale[j] = static_cast<float>(1.0 / (tiny ? std_dev + kCmvnVarianceFloor : std_dev));
  }
  for (size_t t = 0; t < frames; ++t) {
    float* row = features->row(t);
    for (size_t j = 0; j < dim; ++j) row[j] = (row[j] - shift[j]) * scale[j];
  }
}

}  // namespace qasr::frontend
