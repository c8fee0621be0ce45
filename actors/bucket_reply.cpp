#include "actors/bucket_reply.hpp"

#include <algorithm>
#include <limits>

#include "persistence/codec/rollup.hpp"
#include "cluster/ring.hpp"
#include "wire/batch.hpp"
#include "wire/series_hash.hpp"

namespace strata::actors {
namespace {

// The storage's sketch as the query engine sees it.
class store_sketch final : public query::value_sketch {
 public:
  explicit store_sketch(persistence::codec::quantile_sketch s) : s_(std::move(s)) {}
  std::unique_ptr<query::value_sketch> clone() const override { return std::make_unique<store_sketch>(s_); }
  void merge(const query::value_sketch& o) override { s_.merge(static_cast<const store_sketch&>(o).s_); }
  void add(double v) override { s_.add(v); }
  double quantile(double q) const override { return s_.quantile(q); }

 private:
  persistence::codec::quantile_sketch s_;
};

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

bool get_u32(std::string_view& in, uint32_t* v) {
  if (in.size() < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i) *v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  in.remove_prefix(4);
  return true;
}

status bad(const std::string& why) { return error(strata_errc::corruption, "bucket reply: " + why); }

query::bucket to_query(int64_t start, persistence::codec::rollup_bucket&& b) {
  query::bucket x;
  x.start = start;
  x.count = b.count;
  x.sum = b.sum;
  x.min = b.min;
  x.max = b.max;
  x.first = b.first;
  x.last = b.last;
  x.first_t = b.first_t;
  x.last_t = b.last_t;
  x.increase = b.increase;
  x.sketch = std::make_shared<store_sketch>(std::move(b.sketch));
  return x;
}

// One series of an answer: its raw samples and the buckets sent.
struct answered_series {
  series raw;
  std::vector<std::pair<int64_t, persistence::codec::rollup_bucket>> buckets;
};

result<std::vector<answered_series>> gather_buckets(const persistence::shard_store& store, const matchers& ms,
                                                    int64_t mint, int64_t maxt, int64_t window_ms, int64_t edge_step,
                                                    const partition_set& parts) {
  bool all = parts.size() == cluster::partitions;
  auto mine = [&parts, all](const labels& ls) { return all || parts.has(cluster::partition_of(wire::series_hash(ls))); };
  const persistence::tier* tier = nullptr;
  for (const auto& t : persistence::rollup_tiers)
    if (persistence::window_span(t) == window_ms) tier = &t;
  if (!tier)
    return error(strata_errc::bad_request, "window_ms " + std::to_string(window_ms) +
                                               " is the width of no rollup tier (60000, 300000, 3600000)");
  if (maxt > std::numeric_limits<int64_t>::max() - window_ms)
    return error(strata_errc::bad_request, "maxt " + std::to_string(maxt) + " is too large");
  auto bs = store.select_buckets(ms, mint, maxt, *tier);
  bs.erase(std::remove_if(bs.begin(), bs.end(), [&](const auto& s) { return !mine(s.lbls); }), bs.end());
  // A bucket that begins with a sample on its start cannot stand in where
  // that start is a window's edge (a window leaves out a sample on its left
  // edge and takes one on its right): such a bucket comes as its raw samples.
  auto at_edge = [&](int64_t start) { return edge_step <= 0 || (start - mint) % edge_step == 0; };
  auto wants_raw = [&](int64_t start, const persistence::codec::rollup_bucket& b) {
    return b.first_t == start && at_edge(start);
  };
  // Raw samples are needed after each series' last bucket and inside those
  // buckets: read from the oldest such point, or from mint when a matching
  // series has no bucket at all.
  int64_t raw_from = mint;
  if (!bs.empty() && [&] {
        auto ls = store.select_labels(ms, mint, maxt);
        return static_cast<size_t>(std::count_if(ls.begin(), ls.end(), mine)) <= bs.size();
      }()) {
    raw_from = std::numeric_limits<int64_t>::max();
    for (const auto& s : bs) {
      raw_from = std::min(raw_from, s.buckets.back().second.last_t + 1);
      for (const auto& [start, b] : s.buckets)
        if (wants_raw(start, b)) {
          raw_from = std::min(raw_from, start);
          break;
        }
    }
    raw_from = std::max(raw_from, mint);
  }
  // Both are sorted by labels (shard_store's order); the raw samples come one
  // series at a time, and only those the answer needs are kept.
  std::vector<answered_series> out;
  size_t i = 0;
  auto buckets_only_before = [&](const labels* ls) {
    for (; i < bs.size() && (!ls || bs[i].lbls < *ls); ++i)
      out.push_back({series{std::move(bs[i].lbls), {}}, std::move(bs[i].buckets)});
  };
  auto st = store.select_each(ms, raw_from, maxt + window_ms, [&](series& r) -> status {
    if (!mine(r.lbls)) return status::ok();
    buckets_only_before(&r.lbls);
    const bool has_buckets = i < bs.size() && !(r.lbls < bs[i].lbls);
    answered_series a{series{std::move(r.lbls), {}}, {}};
    const auto& xs = r.samples;
    int64_t after = std::numeric_limits<int64_t>::min();
    if (has_buckets) {
      // The buckets sent stay where they are, those answered raw are taken
      // out: no second vector of a long range's buckets.
      auto& kept = bs[i].buckets;
      size_t n = 0;
      for (size_t j = 0; j < kept.size(); ++j) {
        const auto& [start, b] = kept[j];
        after = b.last_t;
        if (wants_raw(start, b)) {
          // Its samples, when all of them are still raw.
          auto lo = std::lower_bound(xs.begin(), xs.end(), start, [](const sample& x, int64_t t) { return x.t < t; });
          auto hi = std::upper_bound(lo, xs.end(), b.last_t, [](int64_t t, const sample& x) { return t < x.t; });
          if (static_cast<uint64_t>(hi - lo) == b.count) {
            a.raw.samples.insert(a.raw.samples.end(), lo, hi);
            continue;
          }
        }
        if (n != j) kept[n] = std::move(kept[j]);
        ++n;
      }
      kept.resize(n);
      a.buckets = std::move(kept);
      ++i;
    }
    auto tail = std::upper_bound(xs.begin(), xs.end(), after, [](int64_t t, const sample& x) { return t < x.t; });
    a.raw.samples.insert(a.raw.samples.end(), tail, xs.end());
    out.push_back(std::move(a));
    return status::ok();
  });
  if (!st) return st;
  buckets_only_before(nullptr);
  return out;
}

}  // namespace

result<std::string> answer_buckets(const persistence::shard_store& store, const matchers& ms, int64_t mint,
                                   int64_t maxt, int64_t window_ms, int64_t edge_step, const partition_set& parts) {
  auto got = gather_buckets(store, ms, mint, maxt, window_ms, edge_step, parts);
  if (!got) return got.error();
  write_batch batch;
  std::vector<std::string> records;
  for (auto& a : *got) {
    records.push_back(persistence::codec::encode_buckets(window_ms, a.buckets));
    batch.push_back(std::move(a.raw));
  }
  std::string b = wire::encode_batch(batch);
  std::string out;
  put_u32(out, static_cast<uint32_t>(b.size()));
  out += b;
  for (const auto& r : records) {
    put_u32(out, static_cast<uint32_t>(r.size()));
    out += r;
  }
  return out;
}

result<std::vector<query::bucket_series>> decode_bucket_reply(std::string_view in, size_t* samples) {
  uint32_t len = 0;
  if (!get_u32(in, &len) || len > in.size()) return bad("batch length past the end");
  auto batch = wire::decode_batch(in.substr(0, len));
  if (!batch) return batch.error();
  in.remove_prefix(len);
  std::vector<query::bucket_series> out;
  out.reserve(batch->size());
  size_t n = 0;
  for (auto& s : *batch) {
    if (!get_u32(in, &len) || len > in.size()) return bad("rollup record length past the end");
    auto run = persistence::codec::decode_buckets(in.substr(0, len));
    if (!run) return run.error();
    in.remove_prefix(len);
    query::bucket_series q{std::move(s.lbls), {}, std::move(s.samples)};
    q.buckets.reserve(run->size());
    for (auto& [start, b] : *run) q.buckets.push_back(to_query(start, std::move(b)));
    n += q.buckets.size() + q.samples.size();
    out.push_back(std::move(q));
  }
  if (!in.empty()) return bad(std::to_string(in.size()) + " bytes after the last record");
  if (samples) *samples = n;
  return out;
}

result<std::vector<query::bucket_series>> local_buckets(const persistence::shard_store& store, const matchers& ms,
                                                       int64_t mint, int64_t maxt, int64_t window_ms,
                                                       int64_t edge_step, const partition_set& parts) {
  auto got = gather_buckets(store, ms, mint, maxt, window_ms, edge_step, parts);
  if (!got) return got.error();
  std::vector<query::bucket_series> out;
  out.reserve(got->size());
  for (auto& a : *got) {
    query::bucket_series q{std::move(a.raw.lbls), {}, std::move(a.raw.samples)};
    q.buckets.reserve(a.buckets.size());
    for (auto& [start, b] : a.buckets) q.buckets.push_back(to_query(start, std::move(b)));
    a.buckets = {};  // freed series by series: the two forms of all buckets are never held at once
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace strata::actors
