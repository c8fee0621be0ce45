#include "http/grouping_key.hpp"

#include <algorithm>

#include "common/utf8.hpp"

namespace strata::http {
namespace {

int base64_digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-' || c == '+') return 62;
  if (c == '_' || c == '/') return 63;
  return -1;
}

bool valid_label_name(std::string_view n) {
  if (n.empty()) return false;
  auto start = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!start(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) { return start(c) || (c >= '0' && c <= '9'); });
}

status bad(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

}  // namespace

bool decode_base64url(std::string_view in, std::string& out) {
  out.clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int d = base64_digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return true;
}

result<labels> parse_grouping_key(std::string_view path) {
  if (path.substr(0, push_path_prefix.size()) != push_path_prefix)
    return bad("push path must start with /metrics/job/<job>");
  std::string_view rest = path.substr(push_path_prefix.size() - 3);  // "job/..." or "job@base64/..."
  if (rest.substr(0, 4) != "job/" && rest.substr(0, 11) != "job@base64/")
    return bad("push path must start with /metrics/job/<job> or /metrics/job@base64/<job>");
  labels key;
  size_t n = 0;
  while (!rest.empty()) {
    auto slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    if (slash == std::string_view::npos)
      return bad("label " + std::string(name) + " in the push path has no value (/<label>/<value> pairs)");
    rest.remove_prefix(slash + 1);
    auto next = rest.find('/');
    std::string_view raw = rest.substr(0, next);
    rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
    if (next != std::string_view::npos && rest.empty())
      return bad("push path ends with '/' after label " + std::string(name));
    std::string value;
    constexpr std::string_view b64 = "@base64";
    bool is_b64 = name.size() > b64.size() && name.substr(name.size() - b64.size()) == b64;
    if (is_b64) {
      name.remove_suffix(b64.size());
      if (!decode_base64url(raw, value))
        return bad("value of label " + std::string(name) + " in the push path is not valid URL-safe base64");
    } else {
      value = std::string(raw);
    }
    if (!valid_label_name(name) || name.substr(0, 2) == "__")
      return bad("invalid label name \"" + std::string(name.substr(0, 64)) +
                 "\" in the push path ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)");
    if (!valid_utf8(value)) return bad("value of label " + std::string(name) + " in the push path is not valid UTF-8");
    if (n == 0 && value.empty()) return bad("the job in the push path is empty");
    if (value.empty() && !is_b64)
      return bad("value of label " + std::string(name) + " in the push path is empty (an empty value is " +
                 std::string(name) + "@base64/=)");
    key.push_back({std::string(name), std::move(value)});
    ++n;
  }
  std::sort(key.begin(), key.end(), [](const label& a, const label& b) { return a.name < b.name; });
  auto dup = std::adjacent_find(key.begin(), key.end(), [](const label& a, const label& b) { return a.name == b.name; });
  if (dup != key.end()) return bad("label " + dup->name + " appears twice in the push path");
  return key;
}

}  // namespace strata::http
