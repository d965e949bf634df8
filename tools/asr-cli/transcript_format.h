// asr-cli transcribe's output formats: plain text, JSON, SubRip, WebVTT.
#pragma once

#include <string>

#include "qasr/qasr.hpp"

namespace qasr::cli {

enum class OutputFormat { kTxt, kJson, kSrt, kVtt };

// "txt", "json", "srt", "vtt" (the file extensions).
const char* FormatExtension(OutputFormat format);

std::string FormatTxt(const Transcript& t);
// One JSON object (pretty when indent >= 0, one line when -1).
std::string FormatJson(const Transcript& t, const std::string& source, int indent);
std::string FormatSrt(const Transcript& t);
std::string FormatVtt(const Transcript& t);
std::string Format(OutputFormat format, const Transcript& t, const std::string& source,
                   int json_indent);

// "HH:MM:SS,mmm" (sep ',') or "HH:MM:SS.mmm" (sep '.').
std::string Timestamp(double seconds, char sep);

}  // namespace qasr::cli
