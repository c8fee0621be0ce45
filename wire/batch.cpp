#include "wire/batch.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>
#include <kj/io.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory_resource>
#include <unordered_map>

#include "schema/batch.capnp.h"

namespace strata::wire {
namespace {

status corrupt(std::string msg) { return error(strata_errc::corruption, "batch: " + std::move(msg)); }

// Interns label strings; the views point into the batch being encoded.
class string_table {
 public:
  // Every distinct string takes a node from one buffer, released with the table.
  explicit string_table(size_t expected) : memory_(expected * 64 + 1024), ids_(&memory_) { ids_.reserve(expected); }
  uint32_t index(const std::string& s) {
    auto [it, inserted] = ids_.try_emplace(std::string_view(s), static_cast<uint32_t>(order_.size()));
    if (inserted) order_.push_back(&s);
    return it->second;
  }
  const std::vector<const std::string*>& strings() const { return order_; }

 private:
  struct hash {
    size_t operator()(std::string_view s) const { return XXH3_64bits(s.data(), s.size()); }
  };
  std::pmr::monotonic_buffer_resource memory_;
  std::pmr::unordered_map<std::string_view, uint32_t, hash> ids_;
  std::vector<const std::string*> order_;
};

result<write_batch> read_batch(kj::ArrayPtr<const capnp::word> words) {
  capnp::ReaderOptions opts;
  // Each part of the message is read once; the limit only guards against
  // messages whose pointers make the reader visit the same words many times.
  opts.traversalLimitInWords = 4 * words.size() + 1024;
  capnp::FlatArrayMessageReader reader(words, opts);
  if (reader.getEnd() != words.end())
    return corrupt(std::to_string((words.end() - reader.getEnd()) * sizeof(capnp::word)) +
                   " trailing bytes after the message");
  auto root = reader.getRoot<schema::Batch>();
  if (root.getVersion() != batch_version)
    return corrupt("unsupported version " + std::to_string(root.getVersion()) + " (expected " +
                   std::to_string(batch_version) + ")");

  auto strings = root.getStrings();
  std::vector<std::string_view> table;
  table.reserve(strings.size());
  for (auto t : strings) table.emplace_back(t.begin(), t.size());

  auto in = root.getSeries();
  write_batch out;
  out.reserve(in.size());
  for (uint32_t i = 0; i < in.size(); ++i) {
    auto s = in[i];
    auto ls = s.getLabels();
    if (ls.size() % 2 != 0)
      return corrupt("series " + std::to_string(i) + " has an odd number (" + std::to_string(ls.size()) +
                     ") of label string indices");
    auto ts = s.getTimestamps();
    auto vs = s.getValues();
    if (ts.size() != vs.size())
      return corrupt("series " + std::to_string(i) + " has " + std::to_string(ts.size()) + " timestamps but " +
                     std::to_string(vs.size()) + " values");
    series& o = out.emplace_back();
    o.lbls.reserve(ls.size() / 2);
    for (uint32_t k = 0; k < ls.size(); k += 2) {
      uint32_t n = ls[k], v = ls[k + 1];
      if (n >= table.size() || v >= table.size())
        return corrupt("series " + std::to_string(i) + " label " + std::to_string(k / 2) + " refers to string " +
                       std::to_string(n >= table.size() ? n : v) + " of " + std::to_string(table.size()));
      o.lbls.push_back({std::string(table[n]), std::string(table[v])});
    }
    o.samples.resize(ts.size());
    for (uint32_t k = 0; k < ts.size(); ++k) o.samples[k] = {ts[k], vs[k]};
  }
  return out;
}

}  // namespace

std::string encode_batch(const write_batch& b, size_t headroom) {
  size_t label_words = 0, sample_words = 0, label_count = 0;
  for (const auto& s : b) {
    label_count += s.lbls.size();
    label_words += s.lbls.size() + 1;
    for (const auto& l : s.lbls) label_words += (l.name.size() + l.value.size()) / 8 + 4;  // as strings, at most
    sample_words += 2 * s.samples.size() + 2;
  }
  // One first segment big enough for the usual batch (stack.md: fewer segments,
  // fewer copies); the builder adds more when the estimate is short.
  size_t estimate = 16 + b.size() * 5 + label_words + sample_words;
  // Distinct strings: far fewer than label strings in a usual batch (names repeat).
  string_table strings(std::min<size_t>(label_count, 4096));
  capnp::MallocMessageBuilder mb(static_cast<unsigned>(std::min<size_t>(estimate, 1u << 26)));
  auto root = mb.initRoot<schema::Batch>();
  root.setVersion(batch_version);

  auto out = root.initSeries(static_cast<unsigned>(b.size()));
  // Neighbouring series mostly share their names and many values (one
  // metric, one target) at the same positions: such a string takes the index
  // it had in the series before, without a lookup in the table.
  std::vector<uint32_t> ids, prev_ids;
  const labels* prev = nullptr;
  for (unsigned i = 0; i < b.size(); ++i) {
    const series& s = b[i];
    auto os = out[i];
    auto ls = os.initLabels(static_cast<unsigned>(s.lbls.size() * 2));
    ids.resize(2 * s.lbls.size());
    for (unsigned k = 0; k < s.lbls.size(); ++k) {
      const label& l = s.lbls[k];
      bool near = prev && k < prev->size();
      ids[2 * k] = near && (*prev)[k].name == l.name ? prev_ids[2 * k] : strings.index(l.name);
      ids[2 * k + 1] = near && (*prev)[k].value == l.value ? prev_ids[2 * k + 1] : strings.index(l.value);
      ls.set(2 * k, ids[2 * k]);
      ls.set(2 * k + 1, ids[2 * k + 1]);
    }
    prev = &s.lbls;
    std::swap(ids, prev_ids);
    auto ts = os.initTimestamps(static_cast<unsigned>(s.samples.size()));
    auto vs = os.initValues(static_cast<unsigned>(s.samples.size()));
    for (unsigned k = 0; k < s.samples.size(); ++k) {
      ts.set(k, s.samples[k].t);
      vs.set(k, s.samples[k].v);
    }
  }
  auto table = root.initStrings(static_cast<unsigned>(strings.strings().size()));
  for (unsigned i = 0; i < strings.strings().size(); ++i) {
    const std::string& s = *strings.strings()[i];
    table.set(i, capnp::Text::Reader(s.data(), s.size()));
  }

  size_t words = capnp::computeSerializedSizeInWords(mb);
  std::string bytes(headroom + words * sizeof(capnp::word), '\0');
  kj::ArrayOutputStream os(kj::arrayPtr(reinterpret_cast<kj::byte*>(bytes.data()) + headroom, bytes.size() - headroom));
  capnp::writeMessage(os, mb);
  return bytes;
}

result<write_batch> decode_batch(std::string_view bytes) {
  if (bytes.size() % sizeof(capnp::word) != 0)
    return corrupt("size " + std::to_string(bytes.size()) + " is not a multiple of 8");
  if (bytes.empty()) return corrupt("empty message");
  try {
    size_t n = bytes.size() / sizeof(capnp::word);
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) == 0)
      return read_batch(kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), n));
    // Cap'n Proto refuses unaligned messages; LMDB and network buffers give no
    // alignment guarantee, so copy.
    auto aligned = kj::heapArray<capnp::word>(n);
    std::memcpy(aligned.begin(), bytes.data(), bytes.size());
    return read_batch(kj::ArrayPtr<const capnp::word>(aligned.begin(), aligned.size()));
  } catch (const kj::Exception& e) {
    return corrupt(std::string(e.getDescription().cStr()));
  } catch (const std::exception& e) {
    return corrupt(e.what());
  }
}

}  // namespace strata::wire
