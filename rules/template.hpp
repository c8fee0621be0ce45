#pragma once
// The annotation and label templates of Prometheus rule files: a subset of
// Go's text/template with Prometheus's preamble, so that `$labels`,
// `$value` and `$externalLabels` (and `.Labels`, `.Value`,
// `.ExternalLabels`) are defined.
//
// Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming; operands
// `$labels.x`, `$externalLabels.x`, `$value`, `.`, `.Labels.x`, `.Value`,
// string and number literals; pipelines `a | f` and calls `f a b`;
// functions humanize, humanize1024, humanizePercentage, humanizeDuration,
// humanizeTimestamp, printf, toUpper, toLower, title, index, and `eq`/`ne`
// for conditions; `{{ if }}`, `{{ else }}`, `{{ with }}`, `{{ end }}`.
// Anything else (an unknown function, `query`, `range`) is refused when the
// template is compiled, so that a rule file fails at load, not at eval.
#include <memory>
#include <string>
#include <string_view>

#include "common/series.hpp"
#include "common/status.hpp"

namespace strata::rules {

struct template_data {
  const labels* lbls = nullptr;
  const labels* external = nullptr;
  double value = 0;
};

class text_template {
 public:
  text_template();
  ~text_template();
  text_template(text_template&&) noexcept;
  text_template& operator=(text_template&&) noexcept;
  text_template(const text_template&);
  text_template& operator=(const text_template&);

  // Fails (bad_request) with the reason, e.g. `function "foo" not defined`.
  static result<text_template> compile(std::string_view text);
  // Expands to `text` as it is (a recording rule's label value).
  static text_template literal(std::string text);

  // Fails only on a runtime error (e.g. printf with a missing argument is
  // rendered as Go does, not an error; index of a non-map is an error).
  result<std::string> expand(const template_data& d) const;

  const std::string& source() const;

  struct node;

 private:
  std::shared_ptr<const node> root_;
  std::string source_;
};

// Go's fmt %v of a float64 (strconv 'g' with the shortest precision):
// 0.5, 123456, 1.234567e+06, NaN, +Inf.
std::string go_float(double v);
std::string humanize(double v);
std::string humanize1024(double v);
std::string humanize_percentage(double v);
std::string humanize_duration(double seconds);

}  // namespace strata::rules
