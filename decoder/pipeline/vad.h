// Energy-based voice activity detection that splits a long 16 kHz recording at
// pauses into segments of at most max_segment_s, streaming: samples go in
// chunk by chunk, finished segments come out, and only the open segment (plus
// pad_s of silence) is buffered, so memory is flat however long the input.
//
// Per 10 ms frame, log energy e = 10 log10(mean(x^2) + 1) on the int16 scale.
// A frame is speech when e exceeds max(min_energy_db, floor + threshold_db),
// where the noise floor follows the quietest recent frames (it drops at once,
// rises by floor_rise_db per frame). A segment opens at the first speech frame
// (minus pad_s) and closes after min_pause_s of non-speech (plus pad_s). A
// segment reaching max_segment_s is cut at its quietest frame in the last
// third. Segments with less than min_speech_s of speech are dropped. With
// enabled = false every frame counts as speech (fixed-length cuts only).
// Thread safety: one thread at a time per Segmenter.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::decoder {

struct VadOptions {
  bool enabled = true;
  double max_segment_s = 20.0;
  double min_pause_s = 0.3;
  double pad_s = 0.15;
  double min_speech_s = 0.1;
  double threshold_db = 15.0;
  double min_energy_db = 40.0;  // about -50 dBFS
  double floor_rise_db = 0.01;
};

struct AudioSegment {
  size_t start_sample = 0;  // in the 16 kHz stream
  std::vector<float> samples;
  double start_s(int rate) const { return static_cast<double>(start_sample) / rate; }
  double end_s(int rate) const { return static_cast<double>(start_sample + samples.size()) / rate; }
};

class Segmenter {
 public:
  using Emit = std::function<Status(AudioSegment&&)>;
  static Result<Segmenter> Create(const VadOptions& options, int sample_rate = 16000);

  // Consumes samples; calls `emit` for each segment they complete.
  Status Accept(std::span<const float> samples, const Emit& emit);
  // Ends the stream, emitting the open segment if any.
  Status Finish(const Emit& emit);
  size_t samples_accepted() const { return total_samples_; }
  size_t buffered_samples() const { return buf_.size(); }

 private:
  Segmenter(const VadOptions& options, int sample_rate);
  Status ProcessFrame(const Emit& emit);
  Status EmitUpTo(size_t end_frame, const Emit& emit);
  void DropBefore(size_t frame);
  size_t Local(size_t frame) const { return frame - buf_frame_; }

  VadOptions options_;
  size_t frame_len_, pad_frames_, pause_frames_, max_frames_, min_speech_frames_;
  std::vector<float> buf_;     // samples from frame buf_frame_ on
  std::vector<float> energy_;  // per buffered frame
  std::vector<char> speech_;   // per buffered frame
  size_t buf_frame_ = 0;       // first buffered frame
  size_t next_frame_ = 0;      // first frame not yet classified
  size_t total_samples_ = 0;
  double floor_db_ = 0.0;
  bool open_ = false;
  size_t seg_start_ = 0, last_speech_ = 0, silence_run_ = 0;
};

}  // namespace qasr::decoder
