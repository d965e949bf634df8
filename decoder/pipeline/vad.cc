#include "decoder/pipeline/vad.h"

#include <algorithm>
#include <cmath>

namespace qasr::decoder {

Result<Segmenter> Segmenter::Create(const VadOptions& o, int sample_rate) {
  if (sample_rate < 1000) return InvalidArgument("segmenter: sample rate too low");
  if (!(o.max_segment_s >= 1.0 && o.max_segment_s <= 600.0)) {
    return InvalidArgument("max segment length must be within [1, 600] s");
  }
  if (!(o.min_pause_s > 0 && o.min_pause_s < o.max_segment_s) || !(o.pad_s >= 0) ||
      !(o.pad_s < 5) || !(o.min_speech_s >= 0) || !std::isfinite(o.threshold_db) ||
      !std::isfinite(o.min_energy_db) || !(o.floor_rise_db >= 0)) {
    return InvalidArgument("invalid voice activity detection settings");
  }
  return Segmenter(o, sample_rate);
}

Segmenter::Segmenter(const VadOptions& o, int sample_rate) : options_(o) {
  frame_len_ = static_cast<size_t>(sample_rate / 100);
  const auto frames = [](double s) { return static_cast<size_t>(std::lround(s * 100.0)); };
  pad_frames_ = frames(o.pad_s);
  pause_frames_ = std::max<size_t>(1, frames(o.min_pause_s));
  max_frames_ = frames(o.max_segment_s);
  min_speech_frames_ = frames(o.min_speech_s);
  floor_db_ = o.min_energy_db - o.threshold_db;
}

Status Segmenter::Accept(std::span<const float> samples, const Emit& emit) {
  buf_.insert(buf_.end(), samples.begin(), samples.end());
  total_samples_ += samples.size();
  while ((next_frame_ + 1 - buf_frame_) * frame_len_ <= buf_.size()) {
    QASR_RETURN_IF_ERROR(ProcessFrame(emit));
  }
  return Status::Ok();
}

Status Segmenter::ProcessFrame(const Emit& emit) {
  const size_t f = next_frame_++;
  const float* x = buf_.data() + Local(f) * frame_len_;
  double sum = 0.0;
  for (size_t i = 0; i < frame_len_; ++i) sum += static_cast<double>(x[i]) * x[i];
  const double e = 10.0 * std::log10(sum / static_cast<double>(frame_len_) + 1.0);
  const bool speech =
      !options_.enabled || e > std::max(options_.min_energy_db, floor_db_ + options_.threshold_db);
  floor_db_ = std::min(e, floor_db_ + options_.floor_rise_db);
  energy_.push_back(static_cast<float>(e));
  speech_.push_back(speech ? 1 : 0);

  if (!open_) {
    if (speech) {
      open_ = true;
      seg_start_ = f >= buf_frame_ + pad_frames_ ? f - pad_frames_ : buf_frame_;
      last_speech_ = f;
      silence_run_ = 0;
    } else if (f + 1 >= pad_frames_ + 100 + buf_frame_) {
      DropBefore(f + 1 - pad_frames_);  // keep only the padding we may need
    }
    return Status::Ok();
  }
  if (speech) {
    last_speech_ = f;
    silence_run_ = 0;
  } else {
    ++silence_run_;
  }
  if (silence_run_ >= pause_frames_) {
    open_ = false;
    return EmitUpTo(std::min(last_speech_ + 1 + pad_frames_, f + 1), emit);
  }
  if (f + 1 - seg_start_ >= max_frames_) {
    // Cut at the quietest frame of the last third; the rest stays open.
    const size_t from = seg_start_ + max_frames_ * 2 / 3;
    size_t cut = f;
    for (size_t g = from; g <= f; ++g) {
      if (energy_[Local(g)] < energy_[Local(cut)]) cut = g;
    }
    QASR_RETURN_IF_ERROR(EmitUpTo(cut, emit));
    seg_start_ = cut;
  }
  return Status::Ok();
}

Status Segmenter::EmitUpTo(size_t end_frame, const Emit& emit) {
  if (end_frame <= seg_start_) return Status::Ok();
  size_t speech_frames = 0;
  for (size_t g = seg_start_; g < end_frame && g < next_frame_; ++g) {
    speech_frames += static_cast<size_t>(speech_[Local(g)]);
  }
  const size_t begin_sample = Local(seg_start_) * frame_len_;
  const size_t end_sample = std::min(Local(end_frame) * frame_len_, buf_.size());
  Status status;
  if (speech_frames >= std::max<size_t>(min_speech_frames_, 1) && end_sample > begin_sample) {
    AudioSegment seg;
    seg.start_sample = seg_start_ * frame_len_;
    seg.samples.assign(buf_.begin() + static_cast<ptrdiff_t>(begin_sample),
                       buf_.begin() + static_cast<ptrdiff_t>(end_sample));
    status = emit(std::move(seg));
  }
  DropBefore(std::min(end_frame, next_frame_));
  return status;
}

void Segmenter::DropBefore(size_t frame) {
  if (frame <= buf_frame_) return;
  const size_t n = frame - buf_frame_;
  buf_.erase(buf_.begin(),
             buf_.begin() + static_cast<ptrdiff_t>(std::min(n * frame_len_, buf_.size())));
  energy_.erase(energy_.begin(), energy_.begin() + static_cast<ptrdiff_t>(n));
  speech_.erase(speech_.begin(), speech_.begin() + static_cast<ptrdiff_t>(n));
  buf_frame_ = frame;
}

Status Segmenter::Finish(const Emit& emit) {
  if (!open_) return Status::Ok();
  open_ = false;
  // Keep the partial last frame too when the speech runs to the end.
  const size_t end_frame = last_speech_ + 1 + pad_frames_;
  if (end_frame <= seg_start_) return Status::Ok();
  if (end_frame >= next_frame_) {
    size_t speech_frames = 0;
    for (size_t g = seg_start_; g < next_frame_; ++g)
      speech_frames += static_cast<size_t>(speech_[Local(g)]);
    if (speech_frames < std::max<size_t>(min_speech_frames_, 1)) return Status::Ok();
    AudioSegment seg;
    seg.start_sample = seg_start_ * frame_len_;
    seg.samples.assign(buf_.begin() + static_cast<ptrdiff_t>(Local(seg_start_) * frame_len_),
                       buf_.end());
    buf_.clear();
    return emit(std::move(seg));
  }
  return EmitUpTo(end_frame, emit);
}

}  // namespace qasr::decoder
