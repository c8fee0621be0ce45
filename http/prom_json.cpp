#include "http/prom_json.hpp"

#include "common/utf8.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace strata::http {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

void append_u_escape(std::string& out, unsigned cp) {
  out += "\\u";
  out += hex_digits[(cp >> 12) & 0xF];
  out += hex_digits[(cp >> 8) & 0xF];
  out += hex_digits[(cp >> 4) & 0xF];
  out += hex_digits[cp & 0xF];
}

void append_labels(std::string& out, const labels& ls) {
  out += '{';
  for (size_t i = 0; i < ls.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, ls[i].name);
    out += ':';
    append_json_string(out, ls[i].value);
  }
  out += '}';
}

// Writes the digits of `ms` as Prometheus prints a timestamp to `p`, which
// has room for 25 bytes; returns the end.
char* put_time(char* p, int64_t ms) {
  uint64_t abs = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (ms < 0) *p++ = '-';
  p = std::to_chars(p, p + 20, abs / 1000).ptr;
  if (uint64_t frac = abs % 1000; frac != 0) {
    *p++ = '.';
    *p++ = static_cast<char>('0' + frac / 100);
    *p++ = static_cast<char>('0' + frac / 10 % 10);
    *p++ = static_cast<char>('0' + frac % 10);
  }
  return p;
}

// Writes json_value(v) to `p`, which has room for 32 bytes (the shortest
// round-trip form of a double takes at most 24); returns the end.
char* put_value(char* p, double v) {
  auto word = [&](const char* w) {
    while (*w) *p++ = *w++;
    return p;
  };
  if (std::isnan(v)) return word("NaN");
  if (std::isinf(v)) return word(v > 0 ? "+Inf" : "-Inf");
  double a = std::fabs(v);
  if (a < 9007199254740992.0 && v == std::trunc(v)) {
    // An integer below 2^53 (counts, bytes, 0/1): its digits are its
    // shortest form, and integer formatting is several times faster.
    if (v == 0) return word(std::signbit(v) ? "-0" : "0");
    return std::to_chars(p, p + 32, static_cast<int64_t>(v)).ptr;
  }
  if (a >= 1e16 && a < 1e21) {
    // Go's shortest digits padded with zeros ("123456789012345670000"), where
    // fixed to_chars prints the double's exact integer (...667584). Every
    // double this large is an integer of at most 17 significant digits.
    char sci[32];
    auto [end, ec] = std::to_chars(sci, sci + sizeof sci, v, std::chars_format::scientific);
    if (ec != std::errc()) return word("NaN");  // cannot fail: at most 24 bytes
    const char* e = std::find(sci, end, 'e');  // "d.ddde+XX": to_chars writes no terminator
    int exp = 0;
    std::from_chars(e + 1 + (e + 1 < end && e[1] == '+'), end, exp);
    int digits = 0;
    for (const char* c = sci; c < e; ++c) {
      if (*c == '-') *p++ = '-';
      else if (*c != '.') *p++ = *c, ++digits;
    }
    for (; digits <= exp; ++digits) *p++ = '0';
    return p;
  }
  auto fmt = (a != 0 && (a < 1e-6 || a >= 1e21)) ? std::chars_format::scientific : std::chars_format::fixed;
  auto [end, ec] = std::to_chars(p, p + 32, v, fmt);
  return ec == std::errc() ? end : word("NaN");  // cannot fail: at most 25 bytes below 1e21
}

// One point, [time,"value"], written in one piece: a range answer holds
// hundreds of thousands of them.
void append_point(std::string& out, const sample& s) {
  char buf[64];
  char* p = buf;
  *p++ = '[';
  p = put_time(p, s.t);
  *p++ = ',';
  *p++ = '"';
  p = put_value(p, s.v);  // digits, '.', 'e', signs, letters: nothing to escape
  *p++ = '"';
  *p++ = ']';
  out.append(buf, static_cast<size_t>(p - buf));
}

std::string finish(std::string out, const warnings_t& warnings) {
  if (!warnings.empty()) {
    out += ",\"warnings\":[";
    for (size_t i = 0; i < warnings.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, warnings[i]);
    }
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    // A run of bytes that stand for themselves, appended at once.
    size_t run = i;
    while (run < s.size()) {
      auto c = static_cast<unsigned char>(s[run]);
      if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&') break;
      ++run;
    }
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '<':
        case '>':
        case '&': append_u_escape(out, c); break;
        default:
          if (c < 0x20)
            append_u_escape(out, c);
          else
            out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    unsigned cp;
    size_t n = decode_utf8(s, i, cp);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
    } else if (cp == 0x2028 || cp == 0x2029) {
      append_u_escape(out, cp);
      i += n;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  out += '"';
}

void append_json_time(std::string& out, int64_t ms) {
  char buf[32];
  out.append(buf, static_cast<size_t>(put_time(buf, ms) - buf));
}

std::string json_value(double v) {
  char buf[32];
  return std::string(buf, put_value(buf, v));
}

std::string vector_json(const std::vector<std::pair<labels, sample>>& v, const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += R"({"metric":)";
    append_labels(out, v[i].first);
    out += R"(,"value":)";
    append_point(out, v[i].second);
    out += '}';
  }
  out += "]}";
  return finish(std::move(out), warnings);
}

std::string matrix_json(const std::vector<series>& m, const warnings_t& warnings) {
  std::string out;
  size_t points = 0;
  for (const auto& s : m) points += s.samples.size();
  out.reserve(128 + m.size() * 128 + points * 40);  // a point takes 25-50 bytes: rarely a growth and copy
  out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
  for (size_t i = 0; i < m.size(); ++i) {
    if (i) out += ',';
    out += R"({"metric":)";
    append_labels(out, m[i].lbls);
    out += R"(,"values":[)";
    for (size_t k = 0; k < m[i].samples.size(); ++k) {
      if (k) out += ',';
      append_point(out, m[i].samples[k]);
    }
    out += "]}";
  }
  out += "]}";
  return finish(std::move(out), warnings);
}

std::string scalar_json(sample s, const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":{"resultType":"scalar","result":)";
  append_point(out, s);
  out += '}';
  return finish(std::move(out), warnings);
}

std::string series_json(const std::vector<labels>& sets, const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":[)";
  for (size_t i = 0; i < sets.size(); ++i) {
    if (i) out += ',';
    append_labels(out, sets[i]);
  }
  out += ']';
  return finish(std::move(out), warnings);
}

std::string strings_json(const std::vector<std::string>& values, const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":[)";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, values[i]);
  }
  out += ']';
  return finish(std::move(out), warnings);
}

std::string error_json(std::string_view error_type, std::string_view message, const warnings_t& warnings) {
  std::string out = R"({"status":"error","errorType":)";
  append_json_string(out, error_type);
  out += R"(,"error":)";
  append_json_string(out, message);
  return finish(std::move(out), warnings);
}

std::string metadata_json(const std::vector<metric_metadata>& sorted, int64_t limit, int64_t limit_per_metric,
                          const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":{)";
  int64_t families = 0;
  for (size_t i = 0; i < sorted.size();) {
    if (limit >= 0 && families >= limit) break;
    if (families++) out += ',';
    append_json_string(out, sorted[i].family);
    out += ":[";
    int64_t n = 0;
    size_t j = i;
    for (; j < sorted.size() && sorted[j].family == sorted[i].family; ++j) {
      if (limit_per_metric > 0 && n >= limit_per_metric) continue;
      if (n++) out += ',';
      out += R"({"type":)";
      append_json_string(out, sorted[j].type);
      out += R"(,"help":)";
      append_json_string(out, sorted[j].help);
      out += R"(,"unit":)";
      append_json_string(out, sorted[j].unit);
      out += '}';
    }
    out += ']';
    i = j;
  }
  out += '}';
  return finish(std::move(out), warnings);
}

std::string success_json(std::string_view data, const warnings_t& warnings) {
  std::string out = R"({"status":"success","data":)";
  out += data;
  return finish(std::move(out), warnings);
}

}  // namespace strata::http
