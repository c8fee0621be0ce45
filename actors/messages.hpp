#pragma once
// The vocabulary actors speak, locally and across nodes. Every message that
// crosses a node is built from CAF's builtin types only (std::string,
// std::vector<std::string>, int64_t, caf::actor, ...): batches travel as
// Cap'n Proto bytes in a std::string (wire/batch.hpp), matchers as flat string
// triples. So nothing needs a type registration that two nodes could disagree on.
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/allowed_unsafe_message_type.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/matcher.hpp"
#include "common/metric_metadata.hpp"
#include "common/series.hpp"
#include "common/status.hpp"
#include "query/series_source.hpp"

namespace strata::persistence {
struct tsdb_summary;  // persistence/shard_store.hpp
}
namespace strata::query {
struct partial_table;  // query/plan.hpp
struct eval_options;   // query/engine.hpp
enum class token_kind : uint8_t;  // query/lexer.hpp
}

namespace strata::actors {

// shard actor
using append_atom = caf::atom_constant<caf::atom("append")>;    // (bytes) -> uint64 samples
// The same from a collector on the shard's own node: the series themselves
// (canonical labels, checked by the collector) and each one's
// wire::series_hash; the shard encodes them once, for its WAL record.
using lappend_atom = caf::atom_constant<caf::atom("lappend")>;  // (write_batch, vector<uint64> hashes) -> uint64 samples
// Reads name the partitions to answer (read_plan.hpp's partition_set bytes;
// empty: all): a shard leaves out series of other partitions.
using select_atom = caf::atom_constant<caf::atom("select")>;    // (ms, mint, maxt, parts) -> bytes
// The same for a reader on the shard's own node: the series themselves, no
// encoding between.
using lselect_atom = caf::atom_constant<caf::atom("lselect")>;  // (ms, mint, maxt, parts) -> write_batch
using series_atom = caf::atom_constant<caf::atom("series")>;    // (ms, mint, maxt) -> bytes (no samples)
using names_atom = caf::atom_constant<caf::atom("names")>;      // (ms, mint, maxt) -> strvec
using values_atom = caf::atom_constant<caf::atom("values")>;    // (name, ms, mint, maxt) -> strvec
using stats_atom = caf::atom_constant<caf::atom("stats")>;      // () -> (uint64 series, uint64 samples)
using admin_atom = caf::atom_constant<caf::atom("admin")>;      // ("flush"|"compact") -> string summary
// (ms, mint, maxt, window_ms, edge_step, parts) -> bytes (bucket_reply.hpp)
using buckets_atom = caf::atom_constant<caf::atom("buckets")>;
// The same for a reader on the shard's own node: the buckets themselves
// (bucket_reply.hpp's local_buckets), no records between.
using lbuckets_atom = caf::atom_constant<caf::atom("lbuckets")>;  // -> vector<query::bucket_series>
// (encode_selections, parts) -> partition_set bytes: the partitions of
// `parts` in which the shard holds a series with samples in a selection.
using holds_atom = caf::atom_constant<caf::atom("holds")>;
// (PromQL of a pushable expression (query::is_pushable), start, end, step,
// encode_eval_options bytes, parts) -> encode_partials bytes: the shard's
// partials of the expression at each step over its series of `parts`.
using partial_atom = caf::atom_constant<caf::atom("partial")>;
using maintain_atom = caf::atom_constant<caf::atom("maintain")>;  // () to self: housekeeping tick
using tsdb_atom = caf::atom_constant<caf::atom("tsdb")>;        // () -> bytes (encode_tsdb_summary)
using mdput_atom = caf::atom_constant<caf::atom("mdput")>;      // (flat metadata) -> uint64 entries written
using mdlist_atom = caf::atom_constant<caf::atom("mdlist")>;    // (family or "") -> flat metadata
// collector
using write_atom = caf::atom_constant<caf::atom("write")>;      // (write_batch) -> uint64 samples
// hinted handoff (hints.hpp)
using hint_atom = caf::atom_constant<caf::atom("hint")>;        // (node, shard index, bytes): keep for later
// node (cluster)
using join_atom = caf::atom_constant<caf::atom("join")>;
using epochs_atom = caf::atom_constant<caf::atom("epochs")>;  // (encoded epoch_history) to a peer, which merges it
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using view_atom = caf::atom_constant<caf::atom("view")>;  // () to a shard_table watcher: a new view is out
// Events (docs/api/events.md), the event JSON as a string: evpublish from
// this node's bus to its node actor, which sends evremote to every peer's.
using evpublish_atom = caf::atom_constant<caf::atom("evpublish")>;
using evremote_atom = caf::atom_constant<caf::atom("evremote")>;

// Errors between actors are caf::errors of category "strata" whose code is a
// strata_errc and whose context holds the message.
inline const caf::atom_value error_category = caf::atom("strata");
caf::error to_caf_error(const status& s);
status from_caf_error(const caf::error& e, const std::string& what);

// Matchers on the wire: (op, name, value) triples. Decoding recompiles regexes.
std::vector<std::string> encode_matchers(const matchers& ms);
result<matchers> decode_matchers(const std::vector<std::string>& flat);

// Metadata on the wire: (family, type, help, unit) quadruples. Decoding
// checks each entry (check_metadata).
std::vector<std::string> encode_metadata(const std::vector<metric_metadata>& md);
result<std::vector<metric_metadata>> decode_metadata(const std::vector<std::string>& flat);

// Selections on the wire: per selection mint, maxt (decimal), the matcher
// count, then its matcher triples.
std::vector<std::string> encode_selections(const std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>>& sels);
result<std::vector<std::pair<matchers, std::pair<int64_t, int64_t>>>> decode_selections(
    const std::vector<std::string>& flat);

// A partial_table on the wire: the op (u8) and k (zigzag varint); the
// group count and each group's labels (varint count, then varint length +
// bytes of each name and value); for topk/bottomk the kept series' label
// sets, each once; the step count and per step the entry count and per
// entry the group (varint), a flags byte, the count (a varint when whole,
// else f64 bits) and the fields the op uses as little-endian f64 bits:
// sum and sum_c (only when not 0) for sum and avg; extreme (min, max); mean,
// m2 (stddev, stdvar); for topk/bottomk the kept series (varint count, per
// series its label set's number and value). Decoding checks every length
// and number.
std::string encode_partials(const query::partial_table& t, query::token_kind op, int64_t k);
// The engine options a shard evaluates a pushed-down expression with: the
// coordinator's, so that both choose the same rollup tiers (the deadline
// and precomputed values stay behind).
std::string encode_eval_options(const query::eval_options& o);
result<query::eval_options> decode_eval_options(std::string_view bytes);
result<query::partial_table> decode_partials(std::string_view bytes);

// A shard's tsdb_summary on the wire: fixed-width little-endian integers
// (series, chunks, min_t, max_t, pair count), then per pair the name and the
// value (u32 length + bytes each) and the series count (u64).
std::string encode_tsdb_summary(const persistence::tsdb_summary& s);
result<persistence::tsdb_summary> decode_tsdb_summary(std::string_view bytes);

}  // namespace strata::actors

// A write_batch goes from an HTTP thread to a local collector, from a
// collector to the shards of its node and from a shard to a reader on its
// node only; it never crosses a node (a remote part travels as bytes).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(strata::write_batch)
// Rollup answers likewise go from a shard to a reader on its node only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<strata::query::bucket_series>)
