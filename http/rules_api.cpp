#include "http/rules_api.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>

#include "http/params.hpp"
#include "rules/notifier.hpp"

namespace strata::http {

rules::evaluate_fn rule_evaluator(const api_context& ctx) {
  const api_context* c = &ctx;
  return [c](const query::expr& e, int64_t t_ms) -> result<query::query_result> {
    // The expression lives in the rule, which outlives this call; the
    // aliasing shared_ptr does not own it.
    std::shared_ptr<const query::expr> ptr(std::shared_ptr<const query::expr>(), &e);
    auto p = std::make_shared<std::promise<result<query::query_result>>>();
    auto f = p->get_future();
    eval_instant_async(*c, ptr, t_ms, [p](result<query::query_result> r) { p->set_value(std::move(r)); });
    return f.get();
  };
}

rules::write_fn rule_writer(const api_context& ctx) {
  actors::gateway* gw = &ctx.gateway;
  return [gw](write_batch b) -> status {
    auto p = std::make_shared<std::promise<status>>();
    auto f = p->get_future();
    gw->write(std::move(b), [p](result<uint64_t> r) { p->set_value(r ? status::ok() : r.error()); });
    return f.get();
  };
}

namespace {

// Go's strconv.FormatFloat(v, 'e', -1, 64): the alert value in the API.
std::string value_string(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  for (int prec = 0; prec <= 16; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*e", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string time_string(int64_t ms) { return ms == 0 ? "0001-01-01T00:00:00Z" : rules::rfc3339(ms); }

nlohmann::json label_object(const labels& ls) {
  auto j = nlohmann::json::object();
  for (const auto& l : ls) j[l.name] = l.value;
  return j;
}

nlohmann::json alert_object(const rules::alert& a) {
  nlohmann::json j;
  j["labels"] = label_object(a.lbls);
  j["annotations"] = label_object(a.annotations);
  j["state"] = rules::to_string(a.state);
  j["activeAt"] = time_string(a.active_at);
  if (a.keep_firing_since != 0) j["keepFiringSince"] = time_string(a.keep_firing_since);
  j["value"] = value_string(a.value);
  return j;
}

response json_response(std::string body, int code = 200) {
  response r;
  r.status = code;
  r.body = std::move(body);
  return r;
}

}  // namespace

namespace {
bool admits(const std::vector<std::string>& allowed, const std::string& v) {
  return allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end();
}
}  // namespace

std::string rules_json(const rules::manager& mgr, const rules_filter& f) {
  nlohmann::json groups = nlohmann::json::array();
  mgr.visit([&](const std::vector<rules::manager::group_view>& gs) {
    for (const auto& gv : gs) {
      const auto& g = *gv.g;
      const auto& d = g.definition();
      if (!admits(f.groups, d.name) || !admits(f.files, d.file)) continue;
      nlohmann::json jg;
      jg["name"] = d.name;
      jg["file"] = d.file;
      auto jrules = nlohmann::json::array();
      for (size_t i = 0; i < d.rules.size(); ++i) {
        const auto& r = d.rules[i];
        if (f.type == "alert" && !r.is_alert()) continue;
        if (f.type == "record" && r.is_alert()) continue;
        if (!admits(f.rule_names, r.name())) continue;
        const auto& h = g.health()[i];
        nlohmann::json jr;
        jr["name"] = r.name();
        jr["query"] = r.expr_text;
        labels ls;
        for (const auto& [name, t] : r.labels) ls.push_back({name, t.source()});
        sort_labels(ls);
        jr["labels"] = label_object(ls);
        if (r.is_alert()) {
          const auto* st = g.alerts_of(i);
          jr["state"] = rules::to_string(st->overall());
          jr["duration"] = static_cast<double>(r.for_ms) / 1000;
          jr["keepFiringFor"] = static_cast<double>(r.keep_firing_for_ms) / 1000;
          labels ann;
          for (const auto& [name, t] : r.annotations) ann.push_back({name, t.source()});
          sort_labels(ann);
          jr["annotations"] = label_object(ann);
          auto ja = nlohmann::json::array();
          for (const auto& a : st->alerts())
            if (a.state != rules::alert_state::inactive) ja.push_back(alert_object(a));
          if (!f.exclude_alerts) jr["alerts"] = std::move(ja);
        }
        jr["health"] = h.health;
        jr["lastError"] = h.last_error;
        jr["evaluationTime"] = h.eval_seconds;
        jr["lastEvaluation"] = time_string(h.last_eval_ms);
        jr["type"] = r.is_alert() ? "alerting" : "recording";
        jrules.push_back(std::move(jr));
      }
      // Prometheus leaves out groups a name filter emptied.
      if (jrules.empty() && (!f.rule_names.empty() || !f.type.empty()) && !d.rules.empty()) continue;
      jg["rules"] = std::move(jrules);
      jg["interval"] = static_cast<double>(d.interval_ms) / 1000;
      jg["limit"] = d.limit;
      jg["evaluationTime"] = g.last_eval_seconds();
      jg["lastEvaluation"] = time_string(g.last_eval_ms());
      groups.push_back(std::move(jg));
    }
  });
  nlohmann::json out;
  out["status"] = "success";
  out["data"]["groups"] = std::move(groups);
  return out.dump();
}

std::string alerts_json(const rules::manager& mgr) {
  auto arr = nlohmann::json::array();
  mgr.visit([&](const std::vector<rules::manager::group_view>& gs) {
    for (const auto& gv : gs)
      for (size_t i = 0; i < gv.g->definition().rules.size(); ++i)
        if (const auto* st = gv.g->alerts_of(i))
          for (const auto& a : st->alerts())
            if (a.state != rules::alert_state::inactive) arr.push_back(alert_object(a));
  });
  nlohmann::json out;
  out["status"] = "success";
  out["data"]["alerts"] = std::move(arr);
  return out.dump();
}

void register_rules_api(server& srv, const rules::manager& mgr, std::function<status()> reload) {
  const rules::manager* m = &mgr;
  srv.route({"GET", "POST"}, "/api/v1/rules", [m](request&& req, respond_fn r) {
    rules_filter f;
    f.type = std::string(req.param("type"));
    auto bad = [&](const std::string& msg) {
      nlohmann::ordered_json j{{"status", "error"}, {"errorType", "bad_data"}, {"error", msg}};
      r(json_response(j.dump(), 400));
    };
    if (!f.type.empty() && f.type != "alert" && f.type != "record")
      return bad("invalid parameter \"type\": not supported value \"" + f.type + "\" (use alert or record)");
    f.rule_names = req.params_named("rule_name[]");
    f.groups = req.params_named("rule_group[]");
    f.files = req.params_named("file[]");
    std::string ex(req.param("exclude_alerts"));
    if (!ex.empty() && ex != "true" && ex != "false" && ex != "1" && ex != "0")
      return bad("invalid parameter \"exclude_alerts\": \"" + ex + "\" is not a boolean");
    f.exclude_alerts = ex == "true" || ex == "1";
    r(json_response(rules_json(*m, f)));
  });
  srv.route({"GET"}, "/api/v1/alerts", [m](request&&, respond_fn r) { r(json_response(alerts_json(*m))); });
  srv.route({"GET"}, "/api/v1/alerts/history", [m](request&& req, respond_fn r) {
    auto bad = [&](const std::string& msg) {
      nlohmann::ordered_json j{{"status", "error"}, {"errorType", "bad_data"}, {"error", msg}};
      r(json_response(j.dump(), 400));
    };
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t end = now, start = 0;
    if (auto e = req.param("end"); !e.empty()) {
      auto t = parse_time_ms(e);
      if (!t) return bad("invalid parameter \"end\": " + t.error().message());
      end = *t;
    }
    start = end - 24 * 3600 * 1000;
    if (auto s = req.param("start"); !s.empty()) {
      auto t = parse_time_ms(s);
      if (!t) return bad("invalid parameter \"start\": " + t.error().message());
      start = *t;
    }
    if (start > end) return bad("invalid parameter \"end\": end timestamp must not be before start time");
    size_t limit = 1000;
    if (auto l = req.param("limit"); !l.empty()) {
      char* stop = nullptr;
      std::string text(l);
      long v = std::strtol(text.c_str(), &stop, 10);
      if (*stop != '\0' || v < 1 || v > 10000)
        return bad("invalid parameter \"limit\": \"" + text + "\" is not a number from 1 to 10000");
      limit = static_cast<size_t>(v);
    }
    auto h = m->history(start, end, limit, std::string(req.param("alertname")));
    if (!h) {
      nlohmann::ordered_json j{{"status", "error"}, {"errorType", "internal"}, {"error", h.error().message()}};
      return r(json_response(j.dump(), 500));
    }
    auto arr = nlohmann::ordered_json::array();
    for (const auto& e : *h) {
      nlohmann::ordered_json j;
      j["time"] = rules::rfc3339(e.at);
      j["group"] = e.group;
      j["alertname"] = e.rule;
      j["state"] = e.state == rules::alert_state::pending ? "pending"
                   : e.state == rules::alert_state::firing ? "firing"
                                                            : "resolved";
      j["labels"] = label_object(e.lbls);
      j["annotations"] = label_object(e.annotations);
      j["value"] = value_string(e.value);
      arr.push_back(std::move(j));
    }
    nlohmann::ordered_json out;
    out["status"] = "success";
    out["data"]["entries"] = std::move(arr);
    r(json_response(out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace)));
  });
  srv.route({"POST", "PUT"}, "/-/reload", [reload](request&&, respond_fn r) {
    auto st = reload();
    response resp;
    resp.content_type = "text/plain; charset=utf-8";
    if (st) {
      resp.status = 200;
    } else {
      resp.status = 500;
      resp.body = "failed to reload config: " + st.message() + "\n";
    }
    r(std::move(resp));
  });
}

}  // namespace strata::http
