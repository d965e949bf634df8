// asr-cli inspect: prints a .qasr model file's config, tensors and metadata
// (text, or --json with the same schema as `python3 -m qasr.export inspect`).
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/format/model_file.h"
#include "engine/format/tensor_registry.h"
#include "tools/asr-cli/commands.h"

namespace qasr::cli {

namespace {

using Json = nlohmann::ordered_json;

struct InspectOptions {
  std::string model;
  bool json = false;
  bool no_verify = false;
};

double Round4(double x) { return std::round(x * 1e4) / 1e4; }

Json ParsedBlob(std::string_view text) {
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

Json Summary(const engine::ModelFile& file) {
  Json tensors = Json::array();
  Json by_dtype = Json::object();
  uint64_t params = 0, bytes = 0;
  for (const engine::TensorView& t : file.tensors()) {
    const std::string dtype = engine::DTypeName(static_cast<uint8_t>(t.dtype));
    const uint64_t n = t.num_elements();
    tensors.push_back({{"name", t.name},
                       {"dtype", dtype},
                       {"shape", Json(std::vector<uint64_t>(t.shape().begin(), t.shape().end()))},
                       {"group", t.group},
                       {"bytes", t.bytes.size()},
                       {"bits_per_weight", Round4(8.0 * double(t.bytes.size()) / double(n))}});
    Json& d = by_dtype[dtype];
    if (d.is_null()) d = {{"tensors", 0}, {"parameters", 0}, {"bytes", 0}};
    d["tensors"] = d["tensors"].get<uint64_t>() + 1;
    d["parameters"] = d["parameters"].get<uint64_t>() + n;
    d["bytes"] = d["bytes"].get<uint64_t>() + t.bytes.size();
    params += n;
    bytes += t.bytes.size();
  }
  char crc[16];
  std::snprintf(crc, sizeof(crc), "%08x", file.checksum());
  return {{"version",
           std::to_string(file.version_major()) + "." + std::to_string(file.version_minor())},
          {"file_bytes", file.file_bytes()},
          {"checksum", crc},
          {"config", ParsedBlob(file.config_json())},
          {"feature_config", ParsedBlob(file.feature_config_json())},
          {"metadata", ParsedBlob(file.metadata())},
          {"tokenizer_bytes", file.spm_model().size()},
          {"tensors", tensors},
          {"totals",
           {{"tensors", file.tensors().size()},
            {"parameters", params},
            {"bytes", bytes},
            {"bits_per_weight", Round4(8.0 * double(bytes) / double(params ? params : 1))},
            {"by_dtype", by_dtype}}}};
}

std::string ShapeText(const Json& shape) {
  // Appends (not operator+ on literals) to dodge GCC 12's false -Wrestrict.
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(shape[i].get<uint64_t>());
  }
  s += ']';
  return s;
}

void PrintText(const std::string& path, const Json& s) {
  const auto dump = [](const Json& j) {
    return j.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  std::printf("%s: qasr format %s, %s bytes, crc32 %s\n", path.c_str(),
              s["version"].get<std::string>().c_str(), s["file_bytes"].dump().c_str(),
              s["checksum"].get<std::string>().c_str());
  std::printf("config:   %s\n", dump(s["config"]).c_str());
  std::printf("features: %s\n", dump(s["feature_config"]).c_str());
  std::printf("tokenizer: %s bytes\n", s["tokenizer_bytes"].dump().c_str());
  std::printf("metadata: %s\n", dump(s["metadata"]).c_str());
  std::printf("%-56s %-5s %-16s %7s %10s %8s\n", "tensor", "dtype", "shape", "group", "bytes",
              "bits/w");
  for (const Json& t : s["tensors"]) {
    std::printf("%-56s %-5s %-16s %7s %10s %8.3f\n", t["name"].get<std::string>().c_str(),
                t["dtype"].get<std::string>().c_str(), ShapeText(t["shape"]).c_str(),
                t["group"].get<uint64_t>() ? t["group"].dump().c_str() : "-",
                t["bytes"].dump().c_str(), t["bits_per_weight"].get<double>());
  }
  const Json& totals = s["totals"];
  std::printf("total: %s tensors, %s parameters, %s bytes, %.3f bits/weight\n",
              totals["tensors"].dump().c_str(), totals["parameters"].dump().c_str(),
              totals["bytes"].dump().c_str(), totals["bits_per_weight"].get<double>());
  for (const auto& [dtype, d] : totals["by_dtype"].items()) {
    std::printf("  %-4s %5s tensors %12s parameters %12s bytes\n", dtype.c_str(),
                d["tensors"].dump().c_str(), d["parameters"].dump().c_str(),
                d["bytes"].dump().c_str());
  }
}

int RunInspect(const InspectOptions& o) {
  engine::LoadOptions load;
  load.verify_checksum = !o.no_verify;
  Result<engine::ModelFile> file = engine::ModelFile::Open(o.model, load);
  if (!file.ok()) {
    std::fprintf(stderr, "asr-cli inspect: %s\n", file.status().ToString().c_str());
    return 1;
  }
  const Json summary = Summary(*file);
  if (o.json) {
    std::printf("%s\n", summary.dump(1, ' ', false, Json::error_handler_t::replace).c_str());
  } else {
    PrintText(o.model, summary);
    const Status complete = engine::CheckModelTensors(*file);
    std::printf("model tensors: %s\n", complete.ok() ? "complete" : complete.message().c_str());
  }
  return 0;
}

}  // namespace

Command AddInspectCommand(CLI::App& parent) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* app = parent.add_subcommand(
      "inspect", "Print a .qasr model's config, tensors (type, shape, bits/weight) and metadata");
  app->add_option("model", options->model, "model file (.qasr)")->required();
  app->add_flag("--json", options->json, "machine-readable output");
  app->add_flag("--no-verify", options->no_verify, "skip the checksum (faster on big files)");
  return {app, [options] { return RunInspect(*options); }};
}

}  // namespace qasr::cli
