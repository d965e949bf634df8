// Highway reports the dispatch target and the compiled list, and the chosen
// target is one this CPU supports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "kernels/dispatch.h"

namespace {

TEST(HighwaySmoke, ReportsTargets) {
  const qasr::kernels::TargetReport r = qasr::kernels::DescribeTargets();
  std::printf("dispatch target: %s\ncompiled:", r.chosen.c_str());
  for (const auto& t : r.compiled) std::printf(" %s", t.c_str());
  std::printf("\n");
  ASSERT_FALSE(r.compiled.empty());
  ASSERT_FALSE(r.supported.empty());
  EXPECT_NE(std::find(r.supported.begin(), r.supported.end(), r.chosen), r.supported.end());
  // Portable fallback is always compiled, so every CPU has a path.
  EXPECT_NE(std::find_if(r.compiled.begin(), r.compiled.end(),
                         [](const std::string& t) { return t == "EMU128" || t == "SCALAR"; }),
            r.compiled.end());
}

}  // namespace
