#include "rules/template.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>

namespace strata::rules {

// ---------------------------------------------------------------- numbers

std::string go_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest digits that read back as v.
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s(buf);
  auto e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  // Go's %v: %e form when exp < -4 or exp >= 6 (the shortest precision's
  // eprec), mantissa without trailing zeros, exponent at least 2 digits.
  if (exp < -4 || exp >= 6) {
    std::string mant = s.substr(0, e);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return mant + eb;
  }
  int decimals = std::max(0, prec - 1 - exp);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

namespace {

std::string g4(double v, const char* suffix = "") {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g%s", v, suffix);
  return buf;
}

}  // namespace

std::string humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return g4(v);
  if (std::fabs(v) >= 1) {
    const char* prefix = "";
    for (const char* p : {"k", "M", "G", "T", "P", "E", "Z", "Y"}) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return g4(v, prefix);
  }
  const char* prefix = "";
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v, prefix);
}

std::string humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return g4(v);
  const char* prefix = "";
  for (const char* p : {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"}) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return g4(v, prefix);
}

std::string humanize_percentage(double v) { return g4(v * 100, "%"); }

std::string humanize_duration(double v) {
  if (std::isnan(v) || std::isinf(v)) return g4(v);
  char buf[128];
  if (std::fabs(v) >= 1) {
    const char* sign = "";
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    auto d = static_cast<int64_t>(v);
    long long seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 3600) % 24, days = d / 86400;
    if (days != 0) std::snprintf(buf, sizeof buf, "%s%lldd %lldh %lldm %llds", sign, days, hours, minutes, seconds);
    else if (hours != 0) std::snprintf(buf, sizeof buf, "%s%lldh %lldm %llds", sign, hours, minutes, seconds);
    else if (minutes != 0) std::snprintf(buf, sizeof buf, "%s%lldm %llds", sign, minutes, seconds);
    else std::snprintf(buf, sizeof buf, "%s%.4gs", sign, v);
    return buf;
  }
  if (v == 0) return g4(v, "s");
  const char* prefix = "";
  for (const char* p : {"m", "u", "n", "p", "f", "a", "z", "y"}) {
    if (std::fabs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  std::snprintf(buf, sizeof buf, "%.4g%ss", v, prefix);
  return buf;
}

// ---------------------------------------------------------------- syntax

namespace {

struct operand {
  enum kind_t { variable, field, string_lit, number_lit, ident } kind = ident;
  std::string name;                // variable or function name, or literal text
  std::vector<std::string> path;   // .a.b after a variable or field
  double number = 0;
};

using command = std::vector<operand>;
using pipeline = std::vector<command>;

}  // namespace

struct text_template::node {
  enum kind_t { list, text_node, action, if_, with } kind = list;
  std::string text;
  pipeline pipe;
  std::vector<std::shared_ptr<node>> children;   // list; then-branch of if/with
  std::vector<std::shared_ptr<node>> otherwise;  // else-branch
};

namespace {

using node_ptr = std::shared_ptr<text_template::node>;

const char* const known_functions[] = {"humanize", "humanize1024", "humanizePercentage", "humanizeDuration",
                                       "humanizeTimestamp", "printf", "toUpper", "toLower", "title", "index",
                                       "eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not", "len"};

bool known(const std::string& f) {
  for (const char* k : known_functions)
    if (f == k) return true;
  return false;
}

status syntax(std::string msg) { return error(strata_errc::bad_request, std::move(msg)); }

// Splits the inside of one action into a pipeline.
result<pipeline> parse_pipeline(std::string_view s) {
  pipeline p;
  command cur;
  size_t i = 0;
  auto ident_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '|') {
      if (cur.empty()) return syntax("missing command before '|'");
      p.push_back(std::move(cur));
      cur.clear();
      ++i;
      continue;
    }
    operand o;
    if (c == '"' || c == '`') {
      char q = c;
      ++i;
      std::string v;
      while (i < s.size() && s[i] != q) {
        if (q == '"' && s[i] == '\\' && i + 1 < s.size()) {
          char n = s[++i];
          v += n == 'n' ? '\n' : n == 't' ? '\t' : n;
        } else {
          v += s[i];
        }
        ++i;
      }
      if (i >= s.size()) return syntax("unterminated quoted string");
      ++i;
      o.kind = operand::string_lit;
      o.name = std::move(v);
    } else if (c == '$' || c == '.') {
      o.kind = c == '$' ? operand::variable : operand::field;
      size_t start = i;
      if (c == '$') {
        ++i;
        while (i < s.size() && ident_char(s[i])) ++i;
        o.name = std::string(s.substr(start, i - start));
      }
      while (i < s.size() && s[i] == '.') {
        size_t b = ++i;
        while (i < s.size() && ident_char(s[i])) ++i;
        if (i > b) o.path.emplace_back(s.substr(b, i - b));
      }
      if (o.kind == operand::variable && o.name != "$" && o.name != "$labels" && o.name != "$value" &&
          o.name != "$externalLabels")
        return syntax("undefined variable \"" + o.name + "\"");
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+') {
      char* end = nullptr;
      std::string rest(s.substr(i));
      double v = std::strtod(rest.c_str(), &end);
      if (end == rest.c_str()) return syntax(std::string("unexpected character '") + c + "'");
      o.kind = operand::number_lit;
      o.number = v;
      i += static_cast<size_t>(end - rest.c_str());
    } else if (ident_char(c)) {
      size_t start = i;
      while (i < s.size() && ident_char(s[i])) ++i;
      o.kind = operand::ident;
      o.name = std::string(s.substr(start, i - start));
      if (o.name == "query" || o.name == "range" || o.name == "define" || o.name == "template" ||
          o.name == "block")
        return syntax("\"" + o.name + "\" is not supported in strata templates");
      if (o.name != "true" && o.name != "false" && o.name != "nil" && !known(o.name))
        return syntax("function \"" + o.name + "\" not defined");
    } else {
      return syntax(std::string("unexpected character '") + c + "' in action");
    }
    cur.push_back(std::move(o));
  }
  if (cur.empty()) return syntax(p.empty() ? "missing value for command" : "missing command after '|'");
  p.push_back(std::move(cur));
  return p;
}

struct frame {
  node_ptr n;
  bool in_else = false;
};

result<node_ptr> parse_template(std::string_view src) {
  auto root = std::make_shared<text_template::node>();
  std::vector<frame> stack{{root, false}};
  auto append = [&](node_ptr n) {
    auto& f = stack.back();
    (f.in_else ? f.n->otherwise : f.n->children).push_back(std::move(n));
  };
  size_t i = 0;
  bool trim_next = false;
  while (i <= src.size()) {
    size_t open = src.find("{{", i);
    std::string_view txt = src.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i);
    bool trim_prev = open != std::string_view::npos && open + 2 < src.size() && src[open + 2] == '-' &&
                     open + 3 < src.size() && std::isspace(static_cast<unsigned char>(src[open + 3]));
    std::string t(txt);
    if (trim_next) t.erase(0, t.find_first_not_of(" \t\r\n") == std::string::npos ? t.size()
                                                                                    : t.find_first_not_of(" \t\r\n"));
    if (trim_prev) {
      auto last = t.find_last_not_of(" \t\r\n");
      t.erase(last == std::string::npos ? 0 : last + 1);
    }
    if (!t.empty()) {
      auto n = std::make_shared<text_template::node>();
      n->kind = text_template::node::text_node;
      n->text = std::move(t);
      append(n);
    }
    if (open == std::string_view::npos) break;
    size_t close = src.find("}}", open + 2);
    if (close == std::string_view::npos) return syntax("unclosed action");
    std::string_view inner = src.substr(open + 2, close - open - 2);
    if (trim_prev) inner.remove_prefix(1);
    trim_next = inner.size() >= 2 && inner.back() == '-' && std::isspace(static_cast<unsigned char>(inner[inner.size() - 2]));
    if (trim_next) inner.remove_suffix(1);
    i = close + 2;
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.front()))) inner.remove_prefix(1);
    while (!inner.empty() && std::isspace(static_cast<unsigned char>(inner.back()))) inner.remove_suffix(1);
    if (inner.size() >= 2 && inner.substr(0, 2) == "/*") continue;  // comment
    auto word_end = inner.find_first_of(" \t\r\n");
    std::string_view word = inner.substr(0, word_end);
    std::string_view rest = word_end == std::string_view::npos ? std::string_view() : inner.substr(word_end);
    if (word == "if" || word == "with") {
      auto p = parse_pipeline(rest);
      if (!p) return p.error();
      auto n = std::make_shared<text_template::node>();
      n->kind = word == "if" ? text_template::node::if_ : text_template::node::with;
      n->pipe = std::move(*p);
      append(n);
      stack.push_back({n, false});
    } else if (word == "else") {
      if (stack.size() < 2 || stack.back().in_else) return syntax("unexpected {{else}}");
      if (!rest.empty() && rest.find_first_not_of(" \t") != std::string_view::npos)
        return syntax("{{else if}} and {{else with}} are not supported");
      stack.back().in_else = true;
    } else if (word == "end") {
      if (stack.size() < 2) return syntax("unexpected {{end}}");
      stack.pop_back();
    } else if (word == "range" || word == "define" || word == "template" || word == "block") {
      return syntax("\"" + std::string(word) + "\" is not supported in strata templates");
    } else {
      if (!inner.empty() && inner[0] == '$') {
        size_t k = 1;
        while (k < inner.size() && (std::isalnum(static_cast<unsigned char>(inner[k])) || inner[k] == '_')) ++k;
        while (k < inner.size() && std::isspace(static_cast<unsigned char>(inner[k]))) ++k;
        if (k < inner.size() && (inner[k] == '=' || inner.substr(k, 2) == ":="))
          return syntax("variable declarations are not supported");
      }
      auto p = parse_pipeline(inner);
      if (!p) return p.error();
      auto n = std::make_shared<text_template::node>();
      n->kind = text_template::node::action;
      n->pipe = std::move(*p);
      append(n);
    }
  }
  if (stack.size() > 1) return syntax("unexpected EOF: missing {{end}}");
  return root;
}

// ---------------------------------------------------------------- evaluation

struct value {
  enum kind_t { nil, str, num, map, boolean, dot_root } kind = nil;
  std::string s;
  double d = 0;
  const labels* m = nullptr;
  bool b = false;
};

value of_str(std::string s) {
  value v;
  v.kind = value::str;
  v.s = std::move(s);
  return v;
}
value of_num(double d) {
  value v;
  v.kind = value::num;
  v.d = d;
  return v;
}
value of_map(const labels* m) {
  value v;
  v.kind = value::map;
  v.m = m;
  return v;
}
value of_bool(bool b) {
  value v;
  v.kind = value::boolean;
  v.b = b;
  return v;
}

bool truthy(const value& v) {
  switch (v.kind) {
    case value::nil: return false;
    case value::str: return !v.s.empty();
    case value::num: return v.d != 0;
    case value::map: return v.m && !v.m->empty();
    case value::boolean: return v.b;
    case value::dot_root: return true;
  }
  return false;
}

std::string print(const value& v) {
  switch (v.kind) {
    case value::nil: return "<no value>";
    case value::str: return v.s;
    case value::num: return go_float(v.d);
    case value::boolean: return v.b ? "true" : "false";
    case value::map: {
      std::string out = "map[";
      if (v.m)
        for (size_t i = 0; i < v.m->size(); ++i) {
          if (i) out += ' ';
          out += (*v.m)[i].name + ":" + (*v.m)[i].value;
        }
      return out + "]";
    }
    case value::dot_root: return "{...}";
  }
  return "";
}

result<double> to_number(const value& v, const char* fn) {
  if (v.kind == value::num) return v.d;
  if (v.kind == value::str) {
    char* end = nullptr;
    double d = std::strtod(v.s.c_str(), &end);
    if (end != v.s.c_str() && *end == '\0') return d;
    if (v.s == "NaN") return std::nan("");
    if (v.s == "+Inf" || v.s == "Inf") return HUGE_VAL;
    if (v.s == "-Inf") return -HUGE_VAL;
  }
  return error(strata_errc::bad_request,
               std::string("error calling ") + fn + ": cannot convert " + print(v) + " to float");
}

value field_of(const value& base, const std::vector<std::string>& path, const template_data& d) {
  value cur = base;
  for (const auto& p : path) {
    if (cur.kind == value::dot_root) {
      if (p == "Labels") cur = of_map(d.lbls);
      else if (p == "ExternalLabels") cur = of_map(d.external);
      else if (p == "Value") cur = of_num(d.value);
      else return value{};
    } else if (cur.kind == value::map) {
      cur = of_str(cur.m ? std::string(label_value(*cur.m, p)) : std::string());
    } else {
      return value{};
    }
  }
  return cur;
}

std::string go_printf(const std::string& fmt, const std::vector<value>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t start = i++;
    while (i < fmt.size() && std::strchr("-+# 0", fmt[i])) ++i;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) ++i;
    if (i < fmt.size() && fmt[i] == '.') {
      ++i;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) ++i;
    }
    if (i >= fmt.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = fmt[i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    std::string spec = fmt.substr(start, i - start);
    if (ai >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const value& a = args[ai++];
    char buf[512];
    if (std::strchr("feEgG", verb)) {
      auto n = to_number(a, "printf");
      if (!n) {
        out += std::string("%!") + verb + "(string=" + print(a) + ")";
        continue;
      }
      std::snprintf(buf, sizeof buf, (spec + verb).c_str(), *n);
      out += buf;
    } else if (verb == 'd') {
      auto n = to_number(a, "printf");
      if (!n) {
        out += "%!d(string=" + print(a) + ")";
        continue;
      }
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(), static_cast<long long>(*n));
      out += buf;
    } else if (verb == 'q') {
      out += '"' + print(a) + '"';
    } else {  // s, v and anything else: the printed value, padded per spec
      std::snprintf(buf, sizeof buf, (spec + "s").c_str(), print(a).c_str());
      out += buf;
    }
  }
  if (ai < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = ai; k < args.size(); ++k) {
      if (k > ai) out += ", ";
      out += print(args[k]);
    }
    out += ")";
  }
  return out;
}

int compare(const value& a, const value& b) {
  if (a.kind == value::num && b.kind == value::num) return a.d < b.d ? -1 : a.d > b.d ? 1 : 0;
  std::string x = print(a), y = print(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

result<value> call(const std::string& fn, const std::vector<value>& args) {
  auto need = [&](size_t n) -> status {
    if (args.size() != n)
      return error(strata_errc::bad_request, "wrong number of args for " + fn + ": want " + std::to_string(n) +
                                                 " got " + std::to_string(args.size()));
    return {};
  };
  auto num_fn = [&](std::string (*f)(double)) -> result<value> {
    if (auto st = need(1); !st) return st;
    auto n = to_number(args[0], fn.c_str());
    if (!n) return n.error();
    return of_str(f(*n));
  };
  if (fn == "humanize") return num_fn(humanize);
  if (fn == "humanize1024") return num_fn(humanize1024);
  if (fn == "humanizePercentage") return num_fn(humanize_percentage);
  if (fn == "humanizeDuration") return num_fn(humanize_duration);
  if (fn == "humanizeTimestamp")
    return num_fn([](double v) -> std::string {
      if (std::isnan(v) || std::isinf(v)) return g4(v);
      auto secs = static_cast<time_t>(v);
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[64];
      std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
      double frac = v - static_cast<double>(secs);
      std::string out = buf;
      if (frac > 0) {
        char fb[32];
        std::snprintf(fb, sizeof fb, "%.9f", frac);
        std::string f = fb + 1;  // ".xxxxxxxxx"
        while (!f.empty() && f.back() == '0') f.pop_back();
        out += f;
      }
      return out + " +0000 UTC";
    });
  if (fn == "toUpper" || fn == "toLower" || fn == "title") {
    if (auto st = need(1); !st) return st;
    std::string s = print(args[0]);
    bool start = true;
    for (auto& c : s) {
      auto u = static_cast<unsigned char>(c);
      if (fn == "toUpper") c = static_cast<char>(std::toupper(u));
      else if (fn == "toLower") c = static_cast<char>(std::tolower(u));
      else {
        if (start && std::isalpha(u)) c = static_cast<char>(std::toupper(u));
        start = !std::isalnum(u);
      }
    }
    return of_str(std::move(s));
  }
  if (fn == "printf") {
    if (args.empty()) return error(strata_errc::bad_request, "wrong number of args for printf: want at least 1 got 0");
    return of_str(go_printf(print(args[0]), std::vector<value>(args.begin() + 1, args.end())));
  }
  if (fn == "index") {
    if (auto st = need(2); !st) return st;
    if (args[0].kind != value::map)
      return error(strata_errc::bad_request, "error calling index: can't index item of type " + print(args[0]));
    return of_str(args[0].m ? std::string(label_value(*args[0].m, print(args[1]))) : std::string());
  }
  if (fn == "len") {
    if (auto st = need(1); !st) return st;
    if (args[0].kind == value::map) return of_num(args[0].m ? static_cast<double>(args[0].m->size()) : 0);
    return of_num(static_cast<double>(print(args[0]).size()));
  }
  if (fn == "not") {
    if (auto st = need(1); !st) return st;
    return of_bool(!truthy(args[0]));
  }
  if (fn == "and" || fn == "or") {
    if (args.empty()) return error(strata_errc::bad_request, "wrong number of args for " + fn);
    for (const auto& a : args)
      if (truthy(a) == (fn == "or")) return a;
    return args.back();
  }
  if (auto st = need(2); !st) return st;
  int c = compare(args[0], args[1]);
  if (fn == "eq") return of_bool(c == 0);
  if (fn == "ne") return of_bool(c != 0);
  if (fn == "lt") return of_bool(c < 0);
  if (fn == "le") return of_bool(c <= 0);
  if (fn == "gt") return of_bool(c > 0);
  return of_bool(c >= 0);  // ge
}

result<value> eval_operand(const operand& o, const value& dot, const template_data& d) {
  switch (o.kind) {
    case operand::string_lit: return of_str(o.name);
    case operand::number_lit: return of_num(o.number);
    case operand::field: return field_of(dot, o.path, d);
    case operand::variable: {
      value base;
      if (o.name == "$labels") base = of_map(d.lbls);
      else if (o.name == "$externalLabels") base = of_map(d.external);
      else if (o.name == "$value") base = of_num(d.value);
      else base.kind = value::dot_root;
      return field_of(base, o.path, d);
    }
    case operand::ident:
      if (o.name == "true" || o.name == "false") return of_bool(o.name == "true");
      if (o.name == "nil") return value{};
      return call(o.name, {});
  }
  return value{};
}

result<value> eval_pipeline(const pipeline& p, const value& dot, const template_data& d) {
  value piped;
  bool have_piped = false;
  for (const auto& cmd : p) {
    if (cmd.front().kind == operand::ident && cmd.front().name != "true" && cmd.front().name != "false" &&
        cmd.front().name != "nil") {
      std::vector<value> args;
      for (size_t i = 1; i < cmd.size(); ++i) {
        auto v = eval_operand(cmd[i], dot, d);
        if (!v) return v.error();
        args.push_back(std::move(*v));
      }
      if (have_piped) args.push_back(piped);
      auto r = call(cmd.front().name, args);
      if (!r) return r.error();
      piped = std::move(*r);
    } else {
      if (cmd.size() > 1 || have_piped)
        return error(strata_errc::bad_request, "can't give argument to non-function " + cmd.front().name);
      auto v = eval_operand(cmd.front(), dot, d);
      if (!v) return v.error();
      piped = std::move(*v);
    }
    have_piped = true;
  }
  return piped;
}

status run(const std::vector<node_ptr>& nodes, const value& dot, const template_data& d, std::string& out);

status run_node(const text_template::node& n, const value& dot, const template_data& d, std::string& out) {
  switch (n.kind) {
    case text_template::node::text_node: out += n.text; return {};
    case text_template::node::list: return run(n.children, dot, d, out);
    case text_template::node::action: {
      auto v = eval_pipeline(n.pipe, dot, d);
      if (!v) return v.error();
      out += print(*v);
      return {};
    }
    case text_template::node::if_:
    case text_template::node::with: {
      auto v = eval_pipeline(n.pipe, dot, d);
      if (!v) return v.error();
      if (truthy(*v)) return run(n.children, n.kind == text_template::node::with ? *v : dot, d, out);
      return run(n.otherwise, dot, d, out);
    }
  }
  return {};
}

status run(const std::vector<node_ptr>& nodes, const value& dot, const template_data& d, std::string& out) {
  for (const auto& c : nodes)
    if (auto st = run_node(*c, dot, d, out); !st) return st;
  return {};
}

}  // namespace

text_template::text_template() = default;
text_template::~text_template() = default;
text_template::text_template(text_template&&) noexcept = default;
text_template& text_template::operator=(text_template&&) noexcept = default;
text_template::text_template(const text_template&) = default;
text_template& text_template::operator=(const text_template&) = default;

result<text_template> text_template::compile(std::string_view text) {
  auto root = parse_template(text);
  if (!root) return root.error();
  text_template t;
  t.root_ = std::move(*root);
  t.source_ = std::string(text);
  return t;
}

text_template text_template::literal(std::string text) {
  auto n = std::make_shared<node>();
  n->kind = node::text_node;
  n->text = text;
  auto root = std::make_shared<node>();
  root->children.push_back(std::move(n));
  text_template t;
  t.root_ = std::move(root);
  t.source_ = std::move(text);
  return t;
}

result<std::string> text_template::expand(const template_data& d) const {
  std::string out;
  if (!root_) return out;
  value dot;
  dot.kind = value::dot_root;
  if (auto st = run_node(*root_, dot, d, out); !st) return st;
  return out;
}

const std::string& text_template::source() const { return source_; }

}  // namespace strata::rules
