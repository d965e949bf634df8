// The C API (include/qasr/qasr.h) over the C++ API. Handles are C++ objects
// behind opaque C types; nothing here may throw across the boundary.
#include <cstring>
#include <new>

#include "qasr/qasr.h"
#include "qasr/qasr.hpp"

struct qasr_model {
  std::shared_ptr<const qasr::Model> model;
};
struct qasr_recognizer {
  std::unique_ptr<qasr::Recognizer> recognizer;
  qasr_params params;
  std::string last_error;
};
struct qasr_result {
  qasr::Transcript transcript;
  std::string text;
};

namespace {

void CopyError(const qasr::Error& e, char* buf, size_t size) {
  if (buf == nullptr || size == 0) return;
  const std::string msg = e.message;
  const size_t n = std::min(msg.size(), size - 1);
  std::memcpy(buf, msg.data(), n);
  buf[n] = '\0';
}

qasr_status Code(const qasr::Error& e) { return static_cast<qasr_status>(e.code); }

const qasr::Segment* SegmentAt(const qasr_result* r, int i) {
  if (r == nullptr || i < 0 || static_cast<size_t>(i) >= r->transcript.segments.size()) {
    return nullptr;
  }
  return &r->transcript.segments[static_cast<size_t>(i)];
}

template <typename F>
qasr_status Transcribe(qasr_recognizer* rec, qasr_result** result, F&& run) {
  if (result != nullptr) *result = nullptr;
  if (rec == nullptr || result == nullptr) return QASR_ERR_INVALID_ARGUMENT;
  try {
    auto r = std::make_unique<qasr_result>();
    const qasr::Error e = run(&r->transcript);
    rec->last_error = e.message;
    r->text = r->transcript.text();
    *result = r.release();
    return Code(e);
  } catch (const std::bad_alloc&) {
    rec->last_error = "out of memory";
    return QASR_ERR_RESOURCE_EXHAUSTED;
  } catch (...) {
    rec->last_error = "internal error";
    return QASR_ERR_INTERNAL;
  }
}

}  // namespace

extern "C" {

const char* qasr_version(void) { return qasr::VersionString(); }

qasr_params qasr_default_params(void) {
  const qasr::RecognizerOptions d;
  qasr_params p{};
  p.beam = d.beam;
  p.nbest = d.nbest;
  p.threads = d.threads;
  p.max_len_b = d.max_len_b;
  p.max_len_a = d.max_len_a;
  p.len_pen = d.len_pen;
  p.loop_max_repeats = d.loop_max_repeats;
  p.vad = d.vad ? 1 : 0;
  p.max_segment_s = d.max_segment_s;
  p.ctc_weight = d.ctc_weight;
  return p;
}

qasr_status qasr_model_load(const char* path, int threads, qasr_model** model, char* error,
                            size_t error_size) {
  if (model != nullptr) *model = nullptr;
  if (path == nullptr || model == nullptr) {
    CopyError({qasr::ErrorCode::kInvalidArgument, "null path or model pointer"}, error, error_size);
    return QASR_ERR_INVALID_ARGUMENT;
  }
  try {
    qasr::Error e;
    qasr::ModelOptions o;
    o.threads = threads;
    auto m = qasr::Model::Load(path, o, &e);
    if (!m) {
      CopyError(e, error, error_size);
      return Code(e);
    }
    *model = std::make_unique<qasr_model>(qasr_model{std::move(m)}).release();
    CopyError({}, error, error_size);
    return QASR_OK;
  } catch (const std::bad_alloc&) {
    CopyError({qasr::ErrorCode::kResourceExhausted, "out of memory"}, error, error_size);
    return QASR_ERR_RESOURCE_EXHAUSTED;
  }
}

void qasr_model_free(qasr_model* model) { std::unique_ptr<qasr_model> owned(model); }

int qasr_model_vocab_size(const qasr_model* model) {
  return model == nullptr ? 0 : model->model->vocab_size();
}

qasr_recognizer* qasr_recognizer_create(const qasr_model* model, const qasr_params* params,
                                        char* error, size_t error_size) {
  if (model == nullptr) {
    CopyError({qasr::ErrorCode::kInvalidArgument, "null model"}, error, error_size);
    return nullptr;
  }
  try {
    auto rec = std::make_unique<qasr_recognizer>();
    rec->params = params != nullptr ? *params : qasr_default_params();
    const qasr_params& p = rec->params;
    qasr::RecognizerOptions o;
    o.beam = p.beam;
    o.nbest = p.nbest;
    o.threads = p.threads;
    o.max_len_a = p.max_len_a;
    o.max_len_b = p.max_len_b;
    o.len_pen = p.len_pen;
    o.loop_max_repeats = p.loop_max_repeats;
    o.vad = p.vad != 0;
    o.max_segment_s = p.max_segment_s;
    o.ctc_weight = p.ctc_weight;
    if (p.progress_callback != nullptr) {
      o.on_progress = [cb = p.progress_callback, user = p.progress_user_data](
                          const qasr::Progress& pr) { cb(pr.processed_s, pr.total_s, user); };
    }
    if (p.cancel_callback != nullptr) {
      o.should_cancel = [cb = p.cancel_callback, user = p.cancel_user_data] {
        return cb(user) != 0;
      };
    }
    qasr::Error e;
    rec->recognizer = qasr::Recognizer::Create(model->model, o, &e);
    if (!rec->recognizer) {
      CopyError(e, error, error_size);
      return nullptr;
    }
    CopyError({}, error, error_size);
    return rec.release();
  } catch (const std::bad_alloc&) {
    CopyError({qasr::ErrorCode::kResourceExhausted, "out of memory"}, error, error_size);
    return nullptr;
  }
}

void qasr_recognizer_free(qasr_recognizer* recognizer) {
  std::unique_ptr<qasr_recognizer> owned(recognizer);
}

void qasr_recognizer_cancel(qasr_recognizer* recognizer) {
  if (recognizer != nullptr) recognizer->recognizer->Cancel();
}

const char* qasr_recognizer_last_error(const qasr_recognizer* recognizer) {
  return recognizer == nullptr ? "null recognizer" : recognizer->last_error.c_str();
}

qasr_status qasr_transcribe_file(qasr_recognizer* recognizer, const char* path,
                                 qasr_result** result) {
  if (path == nullptr) return QASR_ERR_INVALID_ARGUMENT;
  return Transcribe(recognizer, result, [&](qasr::Transcript* t) {
    return recognizer->recognizer->TranscribeFile(path, t);
  });
}

qasr_status qasr_transcribe_pcm(qasr_recognizer* recognizer, const float* samples, size_t count,
                                int sample_rate, qasr_result** result) {
  return Transcribe(recognizer, result, [&](qasr::Transcript* t) {
    return recognizer->recognizer->TranscribeSamples(samples, count, sample_rate, t);
  });
}

void qasr_result_free(qasr_result* result) { std::unique_ptr<qasr_result> owned(result); }

const char* qasr_result_text(const qasr_result* result) {
  return result == nullptr ? "" : result->text.c_str();
}

int qasr_result_segment_count(const qasr_result* result) {
  return result == nullptr ? 0 : static_cast<int>(result->transcript.segments.size());
}

const char* qasr_result_segment_text(const qasr_result* result, int i) {
  const qasr::Segment* s = SegmentAt(result, i);
  return s == nullptr ? "" : s->text.c_str();
}

double qasr_result_segment_start(const qasr_result* result, int i) {
  const qasr::Segment* s = SegmentAt(result, i);
  return s == nullptr ? 0.0 : s->start_s;
}

double qasr_result_segment_end(const qasr_result* result, int i) {
  const qasr::Segment* s = SegmentAt(result, i);
  return s == nullptr ? 0.0 : s->end_s;
}

double qasr_result_segment_confidence(const qasr_result* result, int i) {
  const qasr::Segment* s = SegmentAt(result, i);
  return s == nullptr ? 0.0 : s->confidence;
}

}  // extern "C"
