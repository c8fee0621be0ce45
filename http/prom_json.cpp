#include "http/prom_json.hpp"

#include "common/utf8.hpp"

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

void append_point(std::string& out, const sample& s) {
  out += '[';
  append_json_time(out, s.t);
  out += ',';
  append_json_string(out, json_value(s.v));
  out += ']';
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
  uint64_t abs = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (ms < 0) out += '-';
  out += std::to_string(abs / 1000);
  uint64_t frac = abs % 1000;
  if (frac != 0) {
    char buf[5] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                   static_cast<char>('0' + frac % 10), 0};
    out += buf;
  }
}

std::string json_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  double a = std::fabs(v);
  auto fmt = (a != 0 && (a < 1e-6 || a >= 1e21)) ? std::chars_format::scientific : std::chars_format::fixed;
  char buf[400];  // fixed notation of a double below 1e21 needs far less
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
  if (ec != std::errc()) return "NaN";  // cannot happen with this buffer
  return std::string(buf, end);
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
  std::string out = R"({"status":"success","data":{"resultType":"matrix","result":[)";
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
