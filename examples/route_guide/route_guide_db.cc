#include "route_guide_db.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numbers>
#include <optional>
#include <sstream>
#include <utility>

namespace route_guide {
namespace {

/// Nesting deeper than this is refused (the database needs 3 levels).
constexpr int kMaxDepth = 16;

/// A recursive-descent reader for the JSON subset the database uses: objects, arrays, strings
/// (with escapes), integers; true/false/null and fractions are accepted and skipped.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool ReadFeatures(std::vector<routeguide::Feature>* out) {
    SkipSpace();
    if (!Expect('[')) return false;
    SkipSpace();
    if (Consume(']')) return AtEnd();
    while (true) {
      routeguide::Feature feature;
      if (!ReadFeature(&feature)) return false;
      out->push_back(std::move(feature));
      SkipSpace();
      if (Consume(']')) return AtEnd();
      if (!Expect(',')) return false;
    }
  }

  const std::string& error() const { return error_; }

 private:
  bool ReadFeature(routeguide::Feature* feature) {
    return ReadObject([&](const std::string& key) {
      if (key == "name") return ReadString(feature->mutable_name());
      if (key == "location") return ReadPoint(feature->mutable_location());
      return SkipValue(1);
    });
  }

  bool ReadPoint(routeguide::Point* point) {
    return ReadObject([&](const std::string& key) {
      std::optional<int32_t> value;
      if (key == "latitude" || key == "longitude") {
        value = ReadInt32();
        if (!value) return false;
        if (key == "latitude") {
          point->set_latitude(*value);
        } else {
          point->set_longitude(*value);
        }
        return true;
      }
      return SkipValue(2);
    });
  }

  /// Reads {"key": value, ...}, calling `on_member(key)` positioned at each value.
  template <class F>
  bool ReadObject(F on_member) {
    SkipSpace();
    if (!Expect('{')) return false;
    SkipSpace();
    if (Consume('}')) return true;
    while (true) {
      SkipSpace();
      std::string key;
      if (!ReadString(&key)) return false;
      SkipSpace();
      if (!Expect(':')) return false;
      SkipSpace();
      if (!on_member(key)) return false;
      SkipSpace();
      if (Consume('}')) return true;
      if (!Expect(',')) return false;
    }
  }

  std::optional<int32_t> ReadInt32() {
    size_t start = pos_;
    bool negative = Consume('-');
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') {
      Fail("expected an integer");
      return std::nullopt;
    }
    int64_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > int64_t{std::numeric_limits<int32_t>::max()} + 1) {
        pos_ = start;
        Fail("integer out of range");
        return std::nullopt;
      }
    }
    if (negative) value = -value;
    if (value > std::numeric_limits<int32_t>::max()) {
      pos_ = start;
      Fail("integer out of range");
      return std::nullopt;
    }
    return static_cast<int32_t>(value);
  }

  bool ReadString(std::string* out) {
    if (!Expect('"')) return false;
    out->clear();
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in string");
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      char e = text_[pos_++];
      constexpr std::string_view kEscaped = "\"\\/bfnrt";
      constexpr std::string_view kMeaning = "\"\\/\b\f\n\r\t";
      if (size_t k = kEscaped.find(e); k != std::string_view::npos) {
        out->push_back(kMeaning[k]);
        continue;
      }
      if (e != 'u') return Fail("bad escape in string");
      uint32_t cp = 0;
      if (!ReadHex4(&cp)) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // high surrogate: a low one must follow
        uint32_t low = 0;
        if (!Consume('\\') || !Consume('u') || !ReadHex4(&low) || low < 0xDC00 || low > 0xDFFF) {
          return Fail("unpaired surrogate in \\u escape");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return Fail("unpaired surrogate in \\u escape");
      }
      AppendUtf8(cp, out);
    }
    return Fail("unterminated string");
  }

  bool ReadHex4(uint32_t* out) {
    if (text_.size() - pos_ < 4) return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("bad hex digit in \\u escape");
      }
    }
    *out = v;
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  /// Skips any value (for keys the database does not use).
  bool SkipValue(int depth) {
    if (depth > kMaxDepth) return Fail("nesting too deep");
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("expected a value");
    char c = text_[pos_];
    if (c == '"') {
      std::string ignored;
      return ReadString(&ignored);
    }
    if (c == '{') return ReadObject([&](const std::string&) { return SkipValue(depth + 1); });
    if (c == '[') {
      ++pos_;
      SkipSpace();
      if (Consume(']')) return true;
      while (true) {
        if (!SkipValue(depth + 1)) return false;
        SkipSpace();
        if (Consume(']')) return true;
        if (!Expect(',')) return false;
      }
    }
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return true;
      }
    }
    // A number: sign, digits, fraction, exponent.
    size_t start = pos_;
    while (pos_ < text_.size() &&
           std::string_view("+-.eE0123456789").find(text_[pos_]) != std::string_view::npos) {
      ++pos_;
    }
    if (pos_ == start) return Fail("expected a value");
    return true;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Expect(char c) {
    if (Consume(c)) return true;
    return Fail(std::string("expected '") + c + "'");
  }
  bool AtEnd() {
    SkipSpace();
    if (pos_ != text_.size()) return Fail("trailing characters after the array");
    return true;
  }
  bool Fail(const std::string& what) {
    if (error_.empty()) error_ = "offset " + std::to_string(pos_) + ": " + what;
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

bool ParseFeatures(std::string_view json, std::vector<routeguide::Feature>* features,
                   std::string* error) {
  Reader reader(json);
  std::vector<routeguide::Feature> parsed;
  if (!reader.ReadFeatures(&parsed)) {
    *error = reader.error();
    return false;
  }
  *features = std::move(parsed);
  return true;
}

bool LoadFeatures(const std::string& path, std::vector<routeguide::Feature>* features,
                  std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (!ParseFeatures(text.str(), features, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

double DistanceMetres(const routeguide::Point& a, const routeguide::Point& b) {
  constexpr double kE7 = 1e7;
  constexpr double kEarthRadiusMetres = 6371000;
  constexpr double kRadiansPerDegree = std::numbers::pi / 180.0;
  double lat1 = a.latitude() / kE7 * kRadiansPerDegree;
  double lat2 = b.latitude() / kE7 * kRadiansPerDegree;
  double dlat = lat2 - lat1;
  double dlon = (b.longitude() - a.longitude()) / kE7 * kRadiansPerDegree;
  double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
             std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return kEarthRadiusMetres * 2 * std::atan2(std::sqrt(h), std::sqrt(1 - h));
}

bool InRectangle(const routeguide::Point& p, const routeguide::Rectangle& r) {
  int32_t left = std::min(r.lo().longitude(), r.hi().longitude());
  int32_t right = std::max(r.lo().longitude(), r.hi().longitude());
  int32_t bottom = std::min(r.lo().latitude(), r.hi().latitude());
  int32_t top = std::max(r.lo().latitude(), r.hi().latitude());
  return p.longitude() >= left && p.longitude() <= right && p.latitude() >= bottom &&
         p.latitude() <= top;
}

std::string FormatPoint(const routeguide::Point& p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.7f, %.7f", p.latitude() / 1e7, p.longitude() / 1e7);
  return buf;
}

}  // namespace route_guide
