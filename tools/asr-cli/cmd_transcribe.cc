// asr-cli transcribe: audio files (or stdin) -> text, JSON, SRT or WebVTT,
// through the public C++ API only (include/qasr/qasr.hpp). The model is
// loaded once; a file that fails is reported and the others still run.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend/audio/decode.h"
#include "qasr/qasr.hpp"
#include "tools/asr-cli/commands.h"
#include "tools/asr-cli/transcript_format.h"

namespace qasr::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultModel = "small-w8.qasr";

struct TranscribeArgs {
  std::vector<std::string> inputs;
  std::string model;
  std::string format = "txt";
  std::string output_dir;
  int beam = 5;
  int nbest = 1;
  int threads = 0;
  int loop_guard = 8;
  double len_pen = 1.0;
  double ctc_weight = -1.0;  // < 0: the model's default
  int ctc_pre_beam = 0;
  bool quiet = false;
  bool no_vad = false;
  double max_segment_s = 20.0;
};

std::vector<fs::path> DefaultModelCandidates() {
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    out.push_back(dir / ".." / "models" / kDefaultModel);
    out.push_back(dir / ".." / "share" / "qasr" / "models" / kDefaultModel);
  }
#ifdef QASR_SOURCE_MODELS_DIR
  out.push_back(fs::path(QASR_SOURCE_MODELS_DIR) / kDefaultModel);
#endif
  return out;
}

// --model, else $QASR_MODEL, else the first default location that exists.
bool ResolveModel(const TranscribeArgs& args, std::string* path, std::string* error) {
  if (!args.model.empty()) {
    *path = args.model;
    return true;
  }
  if (const char* env = std::getenv("QASR_MODEL"); env != nullptr && *env != '\0') {
    *path = env;
    return true;
  }
  std::string tried;
  for (const fs::path& p : DefaultModelCandidates()) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      *path = p.lexically_normal().string();
      return true;
    }
    tried += "\n  " + p.lexically_normal().string();
  }
  *error = std::string("no --model given and the default model ") + kDefaultModel +
           " was not found in:" + tried + "\nPass --model PATH (or set QASR_MODEL).";
  return false;
}

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  void Update(const std::string& name, size_t index, size_t count, const Progress& p) {
    if (!enabled_) return;
    if (p.total_s > 0) {
      std::fprintf(stderr, "\r[%zu/%zu] %s: %3.0f%% (%.1f / %.1f s)   ", index + 1, count,
                   name.c_str(), 100.0 * std::min(p.processed_s / p.total_s, 1.0), p.processed_s,
                   p.total_s);
    } else {
      std::fprintf(stderr, "\r[%zu/%zu] %s: %.1f s   ", index + 1, count, name.c_str(),
                   p.processed_s);
    }
    dirty_ = true;
  }
  void Clear() {
    if (!dirty_) return;
    std::fputs("\r\033[K", stderr);
    dirty_ = false;
  }

 private:
  bool enabled_;
  bool dirty_ = false;
};

Error TranscribeOne(Recognizer& rec, const std::string& input, Transcript* t) {
  if (input != "-") return rec.TranscribeFile(input, t);
  frontend::DecodeLimits limits;
  auto bytes = frontend::ReadStream(stdin, limits.max_input_bytes);
  if (!bytes.ok()) return {static_cast<ErrorCode>(bytes.status().code()), bytes.status().message()};
  if (bytes->empty()) return {ErrorCode::kDataLoss, "standard input is empty (0 bytes)"};
  return rec.TranscribeEncoded(bytes->data(), bytes->size(), t);
}

bool WriteFile(const fs::path& path, const std::string& text, std::string* error) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    *error = "cannot write '" + path.string() + "'";
    return false;
  }
  return true;
}

int Run(const TranscribeArgs& args, OutputFormat format) {
  const bool many = args.inputs.size() > 1;
  if (many && args.output_dir.empty() &&
      (format == OutputFormat::kSrt || format == OutputFormat::kVtt)) {
    std::fputs(
        "asr-cli transcribe: error: --format srt/vtt with several inputs needs "
        "--output-dir\n",
        stderr);
    return 2;
  }
  size_t stdin_uses = 0;
  for (const auto& in : args.inputs) stdin_uses += in == "-" ? 1 : 0;
  if (stdin_uses > 1) {
    std::fputs("asr-cli transcribe: error: '-' (stdin) may be given only once\n", stderr);
    return 2;
  }
  if (!args.output_dir.empty()) {
    std::error_code ec;
    fs::create_directories(args.output_dir, ec);
    if (ec || !fs::is_directory(args.output_dir)) {
      std::fprintf(stderr, "asr-cli transcribe: error: cannot create output directory '%s'\n",
                   args.output_dir.c_str());
      return 2;
    }
  }
  std::string model_path, error;
  if (!ResolveModel(args, &model_path, &error)) {
    std::fprintf(stderr, "asr-cli transcribe: error: %s\n", error.c_str());
    return 2;
  }
  const int threads = args.threads > 0
                          ? args.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Error e;
  ModelOptions mo;
  mo.threads = threads;
  auto model = Model::Load(model_path, mo, &e);
  if (!model) {
    std::fprintf(stderr, "asr-cli transcribe: error: cannot load model '%s': %s\n",
                 model_path.c_str(), e.message.c_str());
    return 2;
  }
  ProgressLine progress(!args.quiet && isatty(STDERR_FILENO) != 0);
  size_t index = 0;
  std::string current;
  RecognizerOptions ro;
  ro.beam = args.beam;
  ro.nbest = args.nbest;
  ro.threads = threads;
  ro.vad = !args.no_vad;
  ro.loop_max_repeats = args.loop_guard;
  ro.len_pen = args.len_pen;
  ro.ctc_weight = args.ctc_weight;
  ro.ctc_pre_beam = args.ctc_pre_beam;
  ro.max_segment_s = args.max_segment_s;
  ro.on_progress = [&](const Progress& p) {
    progress.Update(current, index, args.inputs.size(), p);
  };
  auto rec = Recognizer::Create(model, ro, &e);
  if (!rec) {
    std::fprintf(stderr, "asr-cli transcribe: error: %s\n", e.message.c_str());
    return 2;
  }
  size_t failed = 0;
  for (index = 0; index < args.inputs.size(); ++index) {
    const std::string& input = args.inputs[index];
    current = input == "-" ? "<stdin>" : fs::path(input).filename().string();
    Transcript t;
    const Error err = TranscribeOne(*rec, input, &t);
    progress.Clear();
    if (!err.ok()) {
      ++failed;
      std::fprintf(stderr, "asr-cli transcribe: error: %s: %s\n",
                   input == "-" ? "<stdin>" : input.c_str(), err.message.c_str());
      continue;
    }
    const std::string source = input == "-" ? "<stdin>" : input;
    if (!args.output_dir.empty()) {
      const std::string stem = input == "-" ? "stdin" : fs::path(input).stem().string();
      const fs::path out = fs::path(args.output_dir) / (stem + "." + FormatExtension(format));
      if (!WriteFile(out, Format(format, t, source, 2), &error)) {
        ++failed;
        std::fprintf(stderr, "asr-cli transcribe: error: %s\n", error.c_str());
      } else if (!args.quiet) {
        std::fprintf(stderr, "%s -> %s\n", source.c_str(), out.string().c_str());
      }
      continue;
    }
    std::string text;
    if (format == OutputFormat::kJson) {
      text = Format(format, t, source, many ? -1 : 2);  // JSON Lines for several inputs
    } else if (format == OutputFormat::kTxt && many) {
      text = source + "\t" + FormatTxt(t);
    } else {
      text = Format(format, t, source, 2);
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  if (failed > 0 || (many && !args.quiet)) {
    std::fprintf(stderr, "asr-cli transcribe: %zu of %zu file(s) transcribed, %zu failed\n",
                 args.inputs.size() - failed, args.inputs.size(), failed);
  }
  return failed > 0 ? 1 : 0;
}

}  // namespace

Command AddTranscribeCommand(CLI::App& parent) {
  auto args = std::make_shared<TranscribeArgs>();
  CLI::App* app = parent.add_subcommand("transcribe", "Transcribe audio files to text");
  app->add_option("files", args->inputs, "Audio files (WAV, FLAC, Ogg, MP3, ...); - for stdin")
      ->required();
  app->add_option("-m,--model", args->model,
                  std::string("Model file (.qasr); default: $QASR_MODEL, else ") + kDefaultModel +
                      " in ../models or ../share/qasr/models next to asr-cli");
  // Numeric options and their ranges (CLI11 rejects a value outside with exit 105).
  const auto bounded = [app](const char* name, auto& value, const std::string& help, auto lo,
                             auto hi) {
    app->add_option(name, value, help)->check(CLI::Range(lo, hi));
  };
  bounded("-b,--beam", args->beam, "Beam size (1 = greedy)", 1, 64);
  bounded("-n,--nbest", args->nbest, "Alternatives per segment (json), at most --beam", 1, 64);
  bounded("-t,--threads", args->threads, "Threads (default: all cores)", 1, 1024);
  app->add_option("-f,--format", args->format, "Output format")
      ->check(CLI::IsMember({"txt", "json", "srt", "vtt"}));
  app->add_option("-o,--output-dir", args->output_dir,
                  "Write FILE's result to DIR/<stem>.<format> instead of stdout");
  bounded("--max-segment", args->max_segment_s, "Longest segment in seconds", 1.0, 600.0);
  bounded("--loop-guard", args->loop_guard,
          "Stop a unit of 1-4 tokens repeating more than N times in a row (0 = off)", 0, 1000);
  bounded("--len-pen", args->len_pen,
          "Length penalty: finished hypotheses are ranked by sum(log p) / length^P "
          "(fairseq --lenpen; > 1 favours longer ones)",
          0.0, 10.0);
  bounded("--ctc-weight", args->ctc_weight,
          "Weight of the CTC prefix score in joint CTC/attention beam search, in [0, 1) "
          "(default: 0.5 for a model with a CTC head, else 0 = attention only)",
          0.0, 0.999999);
  bounded("--ctc-pre-beam", args->ctc_pre_beam,
          "Joint search: tokens per hypothesis scored by CTC, the best by attention "
          "(default 0 = every token)",
          0, 100000);
  app->add_flag("--no-vad", args->no_vad, "Do not split at pauses (fixed-length segments)");
  app->add_flag("-q,--quiet", args->quiet, "No progress or per-file messages on stderr");
  return {app, [args] {
            OutputFormat format = OutputFormat::kTxt;
            if (args->format == "json") format = OutputFormat::kJson;
            if (args->format == "srt") format = OutputFormat::kSrt;
            if (args->format == "vtt") format = OutputFormat::kVtt;
            if (args->nbest > args->beam) {
              std::fputs("asr-cli transcribe: error: --nbest must not exceed --beam\n", stderr);
              return 2;
            }
            return Run(*args, format);
          }};
}

}  // namespace qasr::cli
