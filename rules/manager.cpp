#include "rules/manager.hpp"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <map>

namespace strata::rules {

manager::manager(manager_options o, const clock& clk, evaluate_fn eval, write_fn write, members_fn members,
                 std::unique_ptr<alert_store> store, notifier::post_fn post)
    : opts_(std::move(o)),
      clock_(clk),
      eval_(std::move(eval)),
      write_(std::move(write)),
      members_(std::move(members)),
      store_(std::move(store)),
      started_ms_(clk.now_ms()) {
  notifier_ = std::make_unique<notifier>(opts_.alertmanager_urls, 10000, std::move(post));
}

manager::~manager() { stop(); }

namespace {

// The last pair of a peer's whole state: ("end/<its address>", "").
constexpr std::string_view end_of_state = "end/";
// ("prompt/<metric name>", ""): a peer acknowledged a write of that metric,
// which an alerting rule of a group this node owns selects.
constexpr std::string_view prompt_key = "prompt/";

// The first evaluation of a group falls at a fixed offset inside its
// interval (a hash of its name), like Prometheus, so groups spread out.
int64_t first_eval(const group& g, int64_t now) {
  auto h = static_cast<int64_t>(XXH64(g.name.data(), g.name.size(), 0) % static_cast<uint64_t>(g.interval_ms));
  int64_t base = now - now % g.interval_ms + h;
  return base < now ? base + g.interval_ms : base;
}

bool same_rules(const group& a, const group& b) {
  if (a.rules.size() != b.rules.size() || a.interval_ms != b.interval_ms || a.limit != b.limit ||
      a.query_offset_ms != b.query_offset_ms)
    return false;
  for (size_t i = 0; i < a.rules.size(); ++i) {
    const auto &x = a.rules[i], &y = b.rules[i];
    if (x.record != y.record || x.alert != y.alert || x.expr_text != y.expr_text || x.for_ms != y.for_ms ||
        x.keep_firing_for_ms != y.keep_firing_for_ms || x.labels.size() != y.labels.size() ||
        x.annotations.size() != y.annotations.size())
      return false;
    for (size_t k = 0; k < x.labels.size(); ++k)
      if (x.labels[k].first != y.labels[k].first || x.labels[k].second.source() != y.labels[k].second.source())
        return false;
    for (size_t k = 0; k < x.annotations.size(); ++k)
      if (x.annotations[k].first != y.annotations[k].first ||
          x.annotations[k].second.source() != y.annotations[k].second.source())
        return false;
  }
  return true;
}

}  // namespace

status manager::reload() {
  load_options lo;
  lo.default_interval_ms = opts_.default_interval_ms;
  std::vector<std::string> files = opts_.rule_files;
  if (opts_.list_rule_files) {
    auto listed = opts_.list_rule_files();
    if (!listed) {
      std::lock_guard<std::mutex> lock(mu_);
      ++reloads_failed_;
      return listed.error();
    }
    files = std::move(*listed);
  }
  auto loaded = load_rule_files(files, lo);
  if (!loaded) {
    std::lock_guard<std::mutex> lock(mu_);
    ++reloads_failed_;
    return loaded.error();
  }
  int64_t now = clock_.now_ms();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<entry> next;
  for (auto& g : *loaded) {
    entry e;
    for (auto& old : groups_)
      if (old.g && old.g->definition().file == g.file && old.g->definition().name == g.name &&
          same_rules(old.g->definition(), g)) {
        e = std::move(old);
        break;
      }
    if (!e.g) {
      e.next_ms = first_eval(g, now);
      e.g = std::make_unique<group_eval>(std::move(g), opts_.external_labels);
      e.g->attach_store(store_.get());
    }
    next.push_back(std::move(e));
  }
  groups_ = std::move(next);
  auto watched = std::make_shared<std::set<std::string, std::less<>>>();
  if (opts_.prompt_evaluation)
    for (const auto& e : groups_) watched->insert(e.g->alert_metric_names().begin(), e.g->alert_metric_names().end());
  std::atomic_store(&watched_, std::shared_ptr<const std::set<std::string, std::less<>>>(std::move(watched)));
  changed_ = true;
  cv_.notify_all();
  size_t rules = 0;
  for (const auto& e : groups_) rules += e.g->definition().rules.size();
  spdlog::info("rules: loaded {} groups, {} rules from {} files", groups_.size(), rules, files.size());
  return {};
}

void manager::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void manager::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void manager::eval_group(entry& e, int64_t t_ms, const std::vector<std::string>& members, const std::string& self,
                         bool alerts_only) {
  bool owned = owner_of(e.g->definition().name, members) == self;
  if (!owned) {
    if (e.owned) {
      spdlog::info("rules: group {} moved to {}", e.g->definition().name, owner_of(e.g->definition().name, members));
      e.g->reset();
    }
    e.owned = false;
    return;
  }
  if (!e.owned) {
    spdlog::info("rules: this node now evaluates group {}", e.g->definition().name);
    if (auto st = e.g->restore(); !st)
      spdlog::error("rules: group {}: alert state not restored: {}", e.g->definition().name, st.message());
  }
  e.owned = true;
  std::vector<alert_transition> changed;
  auto notes = e.g->evaluate(t_ms, eval_, write_, opts_.resend_delay_ms, opts_.on_alert ? &changed : nullptr,
                             alerts_only);
  for (const auto& t : changed) opts_.on_alert(t);
  for (auto& n : notes) {
    std::vector<am_alert> out;
    std::string url = opts_.generator_url_base + "/graph?g0.expr=" + n.rule_expr + "&g0.tab=1";
    for (const auto& a : n.alerts) out.push_back(to_am_alert(a, opts_.external_labels, url));
    notifier_->send(std::move(out));
  }
}

void manager::evaluate_all(int64_t t_ms) {
  auto [members, self] = members_();
  std::lock_guard<std::mutex> lock(mu_);
  exchange_state(t_ms, self);
  if (!synced(t_ms, members, self)) return;
  for (auto& e : groups_) eval_group(e, t_ms, members, self);
  exchange_state(t_ms, self);
}

bool manager::synced(int64_t now, const std::vector<std::string>& members, const std::string& self) {
  if (synced_ || !opts_.send_to) return true;
  bool all = true;
  for (const auto& m : members) all = all && (m == self || heard_from_.count(m));
  if (all || now - started_ms_ >= opts_.sync_timeout_ms) {
    synced_ = true;
    if (!all) spdlog::warn("rules: not every peer sent its alert state within {} ms; evaluating anyway",
                           opts_.sync_timeout_ms);
  }
  return synced_;
}

std::vector<std::string> manager::watched_names(const write_batch& b) const {
  std::vector<std::string> out;
  auto watched = std::atomic_load(&watched_);
  if (!watched || watched->empty()) return out;
  for (const auto& s : b) {
    auto name = label_value(s.lbls, "__name__");
    if (name.empty() || watched->find(name) == watched->end()) continue;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.emplace_back(name);
  }
  return out;
}

void manager::wake() {
  inbox_pending_ = true;
  // Holding mu_ for a moment orders this after a driver that is checking
  // its wait condition; when mu_ is busy the driver sees the flag later.
  { std::unique_lock<std::mutex> lock(mu_, std::try_to_lock); }
  cv_.notify_all();
}

void manager::written(std::vector<std::string> names) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    written_names_.insert(names.begin(), names.end());
  }
  wake();
}

int64_t manager::prompt_evaluations(int64_t now, const std::vector<std::string>& members, const std::string& self) {
  int64_t next = std::numeric_limits<int64_t>::max();
  std::set<std::string> written;  // acknowledged here
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    written.swap(written_names_);
  }
  std::set<std::string> prompted;  // acknowledged by a peer for a group it thought this node's
  prompted.swap(prompted_names_);
  if (written.empty() && prompted.empty()) return next;
  std::set<std::string> waiting, waiting_prompted;
  std::map<std::string, std::set<std::string>> forward;  // owner -> names written here
  for (auto& e : groups_) {
    const auto& names = e.g->alert_metric_names();
    std::vector<std::string> hit, hit_prompted;
    for (const auto& n : written)
      if (names.count(n)) hit.push_back(n);
    for (const auto& n : prompted)
      if (names.count(n)) hit_prompted.push_back(n);
    if (hit.empty() && hit_prompted.empty()) continue;
    std::string owner = owner_of(e.g->definition().name, members);
    if (owner != self) {
      // The owner evaluates it; a name a peer sent is not sent on (views of
      // the members may differ for a moment: dropped, the interval covers it).
      if (!owner.empty() && opts_.send_to) forward[owner].insert(hit.begin(), hit.end());
      continue;
    }
    int64_t due = e.g->last_eval_ms() + std::max<int64_t>(1, e.g->definition().interval_ms / 4);
    if (due <= now) {
      eval_group(e, now, members, self, true);
    } else {
      waiting.insert(hit.begin(), hit.end());
      waiting_prompted.insert(hit_prompted.begin(), hit_prompted.end());
      next = std::min(next, due);
    }
  }
  for (auto& [owner, names] : forward) {
    if (names.empty()) continue;
    std::vector<kv_pair> pairs;
    for (const auto& n : names) pairs.emplace_back(std::string(prompt_key) + n, "");
    opts_.send_to(owner, encode_pairs(pairs));
  }
  prompted_names_.insert(waiting_prompted.begin(), waiting_prompted.end());
  std::lock_guard<std::mutex> lock(inbox_mu_);
  written_names_.insert(waiting.begin(), waiting.end());
  return next;
}

void manager::receive(std::string blob) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_.push_back(std::move(blob));
  }
  wake();
}

void manager::peer_up(std::string address) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    new_peers_.push_back(std::move(address));
  }
  wake();
}


void manager::exchange_state(int64_t now, const std::string& self) {
  std::vector<std::string> inbox, new_peers;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox.swap(inbox_);
    new_peers.swap(new_peers_);
  }
  for (const auto& blob : inbox) {
    auto pairs = decode_pairs(blob);
    if (!pairs) {
      spdlog::warn("rules: {}", pairs.error().message());
      continue;
    }
    for (const auto& p : *pairs) {
      if (p.first.rfind(end_of_state, 0) == 0) {
        heard_from_.insert(p.first.substr(end_of_state.size()));
        continue;
      }
      if (p.first.rfind(prompt_key, 0) == 0) {
        if (opts_.prompt_evaluation) prompted_names_.insert(p.first.substr(prompt_key.size()));
        continue;
      }
      if (!store_) continue;
      if (auto r = store_->apply(p); !r) spdlog::warn("rules: {}", r.error().message());
    }
  }
  if (!store_) return;
  // Batches of at most ~1 MiB, so one message never grows without bound.
  auto send_batches = [](const std::vector<kv_pair>& pairs, const std::function<void(std::string)>& send) {
    std::vector<kv_pair> batch;
    size_t bytes = 0;
    for (const auto& p : pairs) {
      batch.push_back(p);
      bytes += p.first.size() + p.second.size();
      if (bytes >= (1u << 20)) {
        send(encode_pairs(std::exchange(batch, {})));
        bytes = 0;
      }
    }
    if (!batch.empty()) send(encode_pairs(batch));
  };
  auto changes = store_->take_changes();
  if (opts_.publish && !changes.empty()) send_batches(changes, opts_.publish);
  if (opts_.send_to)
    for (const auto& peer : new_peers) {
      auto all = store_->dump();
      if (!all) {
        spdlog::warn("rules: alert state for {}: {}", peer, all.error().message());
        continue;
      }
      all->emplace_back(std::string(end_of_state) + self, "");
      send_batches(*all, [&](std::string blob) { opts_.send_to(peer, std::move(blob)); });
    }
  if (now >= next_prune_ms_) {
    if (auto st = store_->prune(now - opts_.history_retention_ms); !st)
      spdlog::warn("rules: alert history not pruned: {}", st.message());
    next_prune_ms_ = now + 3600 * 1000;
  }
}

result<std::vector<history_entry>> manager::history(int64_t start, int64_t end, size_t limit,
                                                    const std::string& rule) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!store_) return std::vector<history_entry>{};
  return store_->history(start, end, limit, rule);
}

void manager::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    // The member list is read without the lock (it may wait on the shard
    // table); groups_ is only touched with it held.
    lock.unlock();
    auto [members, self] = members_();
    lock.lock();
    if (stop_) return;
    int64_t now = clock_.now_ms();
    inbox_pending_ = false;
    exchange_state(now, self);
    int64_t next = now + 1000;
    bool ready = synced(now, members, self);
    for (auto& e : groups_) {
      if (!ready) break;
      if (e.next_ms > now) {
        next = std::min(next, e.next_ms);
        continue;
      }
      const group& d = e.g->definition();
      int64_t t = e.next_ms;
      // Missed rounds are skipped, not replayed (Prometheus does the same).
      t += (now - t) / d.interval_ms * d.interval_ms;
      e.next_ms = t + d.interval_ms;
      next = std::min(next, e.next_ms);
      eval_group(e, t, members, self);
    }
    if (ready) next = std::min(next, prompt_evaluations(clock_.now_ms(), members, self));
    exchange_state(clock_.now_ms(), self);
    changed_ = false;
    int64_t wait_ms = std::max<int64_t>(1, next - clock_.now_ms());
    cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [this] { return stop_ || changed_ || inbox_pending_; });
  }
}

void manager::visit(const std::function<void(const std::vector<group_view>&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<group_view> v;
  for (const auto& e : groups_) v.push_back({e.g.get(), e.owned});
  fn(v);
}

}  // namespace strata::rules
