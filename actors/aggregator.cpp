#include "actors/aggregator.hpp"

#include <caf/event_based_actor.hpp>

#include <functional>
#include <memory>
#include <string>

#include "actors/messages.hpp"
#include "actors/read_plan.hpp"
#include "query/parser.hpp"
#include "query/plan.hpp"

namespace strata::actors {
namespace {

using combine_fn = std::function<result<std::string>(std::vector<std::string>&)>;

// Sends `msg` to every shard and answers combine(their replies), or the
// first error.
caf::response_promise gather(caf::event_based_actor* self, const std::vector<caf::actor>& shards,
                             std::chrono::milliseconds timeout, const caf::message& msg, combine_fn combine) {
  auto rp = self->make_response_promise();
  struct acc {
    std::vector<std::string> replies;
    size_t left = 0;
    bool failed = false;
  };
  auto a = std::make_shared<acc>();
  a->left = shards.size();
  if (shards.empty()) {
    rp.deliver(to_caf_error(error(strata_errc::unavailable, "this node has no shard")));
    return rp;
  }
  auto one_done = [=]() mutable {
    if (--a->left > 0 || a->failed) return;
    auto r = combine(a->replies);
    if (!r) rp.deliver(to_caf_error(r.error()));
    else rp.deliver(std::move(*r));
  };
  for (const auto& shard : shards)
    self->request(shard, timeout, msg)
        .then(
            [=](std::string& bytes) mutable {
              a->replies.push_back(std::move(bytes));
              one_done();
            },
            [=](caf::error& e) mutable {
              if (!a->failed) rp.deliver(std::move(e));
              a->failed = true;
              --a->left;
            });
  return rp;
}

result<std::string> combine_partials(const std::string& text, std::vector<std::string>& replies) {
  auto e = query::parse(text);
  if (!e) return e.error();
  if (!query::is_pushable(*e)) return error(strata_errc::bad_request, "not an expression a shard evaluates: " + text);
  std::vector<query::partial_table> tables;
  for (const auto& bytes : replies) {
    auto t = decode_partials(bytes);
    if (!t) return t.error();
    tables.push_back(std::move(*t));
  }
  auto merged = query::combine_partial_tables(std::move(tables));
  int64_t k = 0;
  for (const auto& entries : merged.steps)
    if (!entries.empty()) k = entries.front().second.k;
  return encode_partials(merged, query::partial_op(*e), k);
}

result<std::string> combine_holds(std::vector<std::string>& replies) {
  partition_set held;
  for (const auto& bytes : replies)
    for (uint32_t p : partition_set::decode(bytes).list()) held.add(p);
  return held.encode();
}

caf::behavior aggregator(caf::event_based_actor* self, std::vector<caf::actor> shards,
                         std::chrono::milliseconds timeout) {
  return {
      [=](partial_atom, const std::string& text, int64_t start, int64_t end, int64_t step, const std::string& opts,
          const std::string& parts) {
        auto msg = caf::make_message(partial_atom::value, text, start, end, step, opts, parts);
        return gather(self, shards, timeout, msg,
                      [text](std::vector<std::string>& replies) { return combine_partials(text, replies); });
      },
      [=](holds_atom, const std::vector<std::string>& flat, const std::string& parts) {
        return gather(self, shards, timeout, caf::make_message(holds_atom::value, flat, parts), combine_holds);
      },
  };
}

}  // namespace

caf::actor spawn_aggregator(caf::actor_system& sys, std::vector<caf::actor> shards, std::chrono::milliseconds timeout) {
  return sys.spawn(aggregator, std::move(shards), timeout);
}

}  // namespace strata::actors
