/* qasr C API: speech recognition with low-bit transformer models on CPUs.
 *
 *   qasr_model* model = NULL;
 *   char err[256];
 *   if (qasr_model_load("model.qasr", 1, &model, err, sizeof err) != QASR_OK) ...
 *   qasr_params p = qasr_default_params();
 *   qasr_recognizer* rec = qasr_recognizer_create(model, &p, err, sizeof err);
 *   qasr_result* res = NULL;
 *   if (qasr_transcribe_file(rec, "talk.wav", &res) != QASR_OK)
 *     puts(qasr_recognizer_last_error(rec));
 *   puts(qasr_result_text(res));
 *   qasr_result_free(res); qasr_recognizer_free(rec); qasr_model_free(model);
 *
 * Thread safety: a qasr_model is immutable and may be shared by any number of
 * threads; use one qasr_recognizer per thread. qasr_recognizer_cancel may be
 * called from any thread. Strings returned are owned by their handle and
 * valid until it is freed (qasr_recognizer_last_error: until the next call on
 * that recognizer). No function aborts or throws on bad input.
 */
#ifndef QASR_QASR_H_
#define QASR_QASR_H_

#include <stddef.h>
#include <stdint.h>

#ifndef QASR_API
#define QASR_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qasr_status {
  QASR_OK = 0,
  QASR_ERR_INVALID_ARGUMENT = 1,
  QASR_ERR_NOT_FOUND = 2,
  QASR_ERR_DATA_LOSS = 3,
  QASR_ERR_UNIMPLEMENTED = 4,
  QASR_ERR_OUT_OF_RANGE = 5,
  QASR_ERR_RESOURCE_EXHAUSTED = 6,
  QASR_ERR_CANCELLED = 7,
  QASR_ERR_INTERNAL = 8
} qasr_status;

typedef struct qasr_model qasr_model;
typedef struct qasr_recognizer qasr_recognizer;
typedef struct qasr_result qasr_result;

/* Progress: seconds consumed, total (< 0 if unknown). */
typedef void (*qasr_progress_callback)(double processed_s, double total_s, void* user_data);
/* Return non-zero to cancel; polled before every decoder step. */
typedef int (*qasr_cancel_callback)(void* user_data);

typedef struct qasr_params {
  int beam;  /* 1 = greedy */
  int nbest; /* alternatives per segment, <= beam */
  int threads;
  int max_len_b; /* max tokens per segment (plus max_len_a * frames) */
  double max_len_a;
  double len_pen;
  int loop_max_repeats; /* repetition guard, 0 = off */
  int vad;              /* non-zero: split at pauses */
  double max_segment_s;
  qasr_progress_callback progress_callback;
  void* progress_user_data;
  qasr_cancel_callback cancel_callback;
  void* cancel_user_data;
  double ctc_weight; /* joint CTC/attention search; < 0: 0.5 with a CTC head, else 0 */
} qasr_params;

QASR_API const char* qasr_version(void);
QASR_API qasr_params qasr_default_params(void);

/* On failure *model is NULL and `error` (if not NULL) holds the message. */
QASR_API qasr_status qasr_model_load(const char* path, int threads, qasr_model** model, char* error,
                                     size_t error_size);
QASR_API void qasr_model_free(qasr_model* model);
QASR_API int qasr_model_vocab_size(const qasr_model* model);

/* params NULL: defaults. Returns NULL on failure (message in `error`). */
QASR_API qasr_recognizer* qasr_recognizer_create(const qasr_model* model, const qasr_params* params,
                                                 char* error, size_t error_size);
QASR_API void qasr_recognizer_free(qasr_recognizer* recognizer);
QASR_API void qasr_recognizer_cancel(qasr_recognizer* recognizer);
QASR_API const char* qasr_recognizer_last_error(const qasr_recognizer* recognizer);

/* On success *result must be freed with qasr_result_free. On failure
 * *result may hold the segments finished before it (e.g. cancellation). */
QASR_API qasr_status qasr_transcribe_file(qasr_recognizer* recognizer, const char* path,
                                          qasr_result** result);
/* Mono float samples in [-1, 1] at any rate. */
QASR_API qasr_status qasr_transcribe_pcm(qasr_recognizer* recognizer, const float* samples,
                                         size_t count, int sample_rate, qasr_result** result);

QASR_API void qasr_result_free(qasr_result* result);
QASR_API const char* qasr_result_text(const qasr_result* result);
QASR_API int qasr_result_segment_count(const qasr_result* result);
QASR_API const char* qasr_result_segment_text(const qasr_result* result, int i);
QASR_API double qasr_result_segment_start(const qasr_result* result, int i);
QASR_API double qasr_result_segment_end(const qasr_result* result, int i);
QASR_API double qasr_result_segment_confidence(const qasr_result* result, int i);

#ifdef __cplusplus
}
#endif

#endif /* QASR_QASR_H_ */
