#include "tools/asr-cli/transcript_format.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace qasr::cli {

const char* FormatExtension(OutputFormat format) {
  switch (format) {
    case OutputFormat::kTxt:
      return "txt";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kSrt:
      return "srt";
    case OutputFormat::kVtt:
      return "vtt";
  }
  return "txt";
}

std::string Timestamp(double seconds, char sep) {
  const long long ms = std::llround(std::max(seconds, 0.0) * 1000.0);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld%c%03lld", ms / 3600000, ms / 60000 % 60,
                ms / 1000 % 60, sep, ms % 1000);
  return buf;
}

std::string FormatTxt(const Transcript& t) { return t.text() + "\n"; }

std::string FormatJson(const Transcript& t, const std::string& source, int indent) {
  using nlohmann::json;
  json segments = json::array();
  for (const Segment& s : t.segments) {
    json tokens = json::array();
    for (const Token& k : s.tokens) {
      tokens.push_back({{"id", k.id}, {"text", k.text}, {"log_prob", k.log_prob}});
    }
    json seg = {{"start", s.start_s}, {"end", s.end_s},
                {"text", s.text},     {"confidence", s.confidence},
                {"score", s.score},   {"log_prob", s.log_prob},
                {"tokens", tokens}};
    if (s.nbest.size() > 1) {
      json alts = json::array();
      for (const Alternative& a : s.nbest) {
        alts.push_back(
            {{"text", a.text}, {"ids", a.ids}, {"score", a.score}, {"log_prob", a.log_prob}});
      }
      seg["nbest"] = alts;
    }
    segments.push_back(seg);
  }
  const json doc = {
      {"source", source}, {"duration", t.duration_s}, {"text", t.text()}, {"segments", segments}};
  // Invalid UTF-8 (never expected from SentencePiece) is replaced, not thrown.
  return doc.dump(indent, ' ', false, json::error_handler_t::replace) + "\n";
}

namespace {

std::string Cues(const Transcript& t, char sep, bool numbered) {
  std::string out;
  int n = 0;
  for (const Segment& s : t.segments) {
    if (s.text.empty()) continue;
    if (numbered) out += std::to_string(++n) + "\n";
    out += Timestamp(s.start_s, sep) + " --> " + Timestamp(s.end_s, sep) + "\n";
    // A blank line would end the cue early.
    std::string text = s.text;
    for (char& c : text) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    // WebVTT forbids "-->" inside cue text; SubRip readers trip on it too.
    for (size_t at = text.find("-->"); at != std::string::npos; at = text.find("-->", at)) {
      text.replace(at, 3, "->");
    }
    out += text + "\n\n";
  }
  return out;
}

}  // namespace

std::string FormatSrt(const Transcript& t) { return Cues(t, ',', true); }

std::string FormatVtt(const Transcript& t) { return "WEBVTT\n\n" + Cues(t, '.', false); }

std::string Format(OutputFormat format, const Transcript& t, const std::string& source,
                   int json_indent) {
  switch (format) {
    case OutputFormat::kTxt:
      return FormatTxt(t);
    case OutputFormat::kJson:
      return FormatJson(t, source, json_indent);
    case OutputFormat::kSrt:
      return FormatSrt(t);
    case OutputFormat::kVtt:
      return FormatVtt(t);
  }
  return {};
}

}  // namespace qasr::cli
