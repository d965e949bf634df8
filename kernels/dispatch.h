// CPU probe: which SIMD targets were compiled in, which this CPU supports,
// and which one dynamic dispatch picks. The kernel table is chosen once from
// this; operators never name an ISA.
#pragma once

#include <string>
#include <vector>

namespace qasr::kernels {

struct TargetReport {
  std::string chosen;                  // target dynamic dispatch selects here
  std::vector<std::string> compiled;   // every target compiled into the binary
  std::vector<std::string> supported;  // compiled targets this CPU can run
};

TargetReport DescribeTargets();

}  // namespace qasr::kernels
