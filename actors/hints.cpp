#include "actors/hints.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "actors/messages.hpp"
#include "persistence/codec/detail/bits.hpp"

namespace strata::actors {
namespace {

namespace fs = std::filesystem;

using persistence::codec::detail::get_le;
using persistence::codec::detail::put_le;

// A node's address as a file name: anything but [A-Za-z0-9.-] becomes '_'.
std::string file_stem(const std::string& node) {
  std::string s = node;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
  return s;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct hints_state {
  std::map<std::string, bool> sending;  // node -> a delivery round runs
  static inline const char* name = "strata.hints";
};
using self_ptr = caf::stateful_actor<hints_state>*;

void count(const hints_options& o, const char* outcome, double n = 1) {
  if (o.handoff && n > 0) o.handoff->add({outcome}, n);
}

uint64_t pending_bytes(const hints_options& o, const std::string& node) {
  uint64_t n = 0;
  std::error_code ec;
  for (const char* ext : {".hints", ".hints.sending"}) {
    auto s = fs::file_size(fs::path(o.dir) / (file_stem(node) + ext), ec);
    if (!ec) n += s;
  }
  return n;
}

status append_hint(const hints_options& o, const hint_record& h) {
  auto path = (fs::path(o.dir) / (file_stem(h.node) + ".hints")).string();
  std::string rec = encode_hint(h);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return error(strata_errc::storage, "cannot open " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, rec.data(), rec.size()) == static_cast<ssize_t>(rec.size()) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return error(strata_errc::storage, "cannot append to " + path + ": " + std::strerror(err));
  return status::ok();
}

const shard_ref* find_shard(const shard_view& v, const std::string& node, uint32_t index) {
  for (const auto& s : v.shards)
    if (s.node == node && s.index == index) return &s;
  return nullptr;
}

struct round {
  std::string node;
  fs::path file;
  std::vector<hint_record> records;
  size_t next = 0;
};

void deliver_next(self_ptr self, const shard_table* table, const hints_options& o, std::shared_ptr<round> r) {
  auto stop = [=](bool done) {
    self->state.sending[r->node] = false;
    if (!done) return;
    std::error_code ec;
    fs::remove(r->file, ec);
    spdlog::info("hints: delivered {} parts to {}", r->records.size(), r->node);
  };
  if (r->next == r->records.size()) return stop(true);
  auto view = table->snapshot();
  const auto& h = r->records[r->next];
  const shard_ref* dest = find_shard(*view, h.node, h.shard);
  if (!dest) return stop(false);  // the node went away again, or has fewer shards now: keep for later
  self->request(dest->handle, o.timeout, append_atom::value, h.bytes)
      .then(
          [=](uint64_t) {
            count(o, "delivered");
            ++r->next;
            deliver_next(self, table, o, r);
          },
          [=](caf::error& e) {
            auto st = from_caf_error(e, "hint for " + r->node);
            if (st.code() == strata_errc::bad_request || st.code() == strata_errc::limit_exceeded) {
              // The replica refuses these samples (for example older than its
              // out-of-order window now): retrying cannot help.
              spdlog::warn("hints: {} refused a part: {}", r->node, st.message());
              count(o, "refused");
              ++r->next;
              return deliver_next(self, table, o, r);
            }
            stop(false);
          });
}

void start_round(self_ptr self, const shard_table* table, const hints_options& o, const std::string& node) {
  fs::path dir(o.dir);
  fs::path sending = dir / (file_stem(node) + ".hints.sending");
  fs::path fresh = dir / (file_stem(node) + ".hints");
  std::error_code ec;
  if (!fs::exists(sending, ec)) {
    if (!fs::exists(fresh, ec)) return;
    fs::rename(fresh, sending, ec);
    if (ec) {
      spdlog::warn("hints: cannot rename {}: {}", fresh.string(), ec.message());
      return;
    }
  }
  auto r = std::make_shared<round>();
  r->node = node;
  r->file = sending;
  uint64_t torn = 0;
  r->records = decode_hints(read_file(sending), &torn);
  count(o, "torn", static_cast<double>(torn));
  self->state.sending[node] = true;
  deliver_next(self, table, o, r);
}

caf::behavior hints_behavior(self_ptr self, const shard_table* table, hints_options o) {
  std::error_code ec;
  fs::create_directories(o.dir, ec);
  if (ec) spdlog::error("hints: cannot create {}: {}", o.dir, ec.message());
  self->send(self, tick_atom::value);
  return {
      [=](hint_atom, std::string& node, uint32_t shard, std::string& bytes) {
        if (pending_bytes(o, node) + bytes.size() > o.max_bytes) {
          count(o, "dropped_full");
          return;
        }
        auto st = append_hint(o, hint_record{node, shard, std::move(bytes)});
        if (!st) {
          spdlog::error("hints: {}", st.message());
          count(o, "dropped_error");
          return;
        }
        count(o, "stored");
      },
      [=](tick_atom) {
        auto view = table->snapshot();
        for (const auto& m : view->members)
          if (!self->state.sending[m]) start_round(self, table, o, m);
        self->delayed_send(self, o.interval, tick_atom::value);
      },
  };
}

}  // namespace

std::string encode_hint(const hint_record& h) {
  std::string body;
  put_le<uint16_t>(body, static_cast<uint16_t>(h.node.size()));
  body += h.node;
  put_le<uint32_t>(body, h.shard);
  body += h.bytes;
  std::string out;
  put_le<uint32_t>(out, static_cast<uint32_t>(body.size()));
  put_le<uint64_t>(out, XXH3_64bits(body.data(), body.size()));
  return out + body;
}

std::vector<hint_record> decode_hints(std::string_view file, uint64_t* torn) {
  std::vector<hint_record> out;
  size_t at = 0;
  while (at + 12 <= file.size()) {
    auto len = get_le<uint32_t>(file.data() + at);
    auto sum = get_le<uint64_t>(file.data() + at + 4);
    if (at + 12 + len > file.size() || len < 6) break;
    std::string_view body = file.substr(at + 12, len);
    if (XXH3_64bits(body.data(), body.size()) != sum) break;
    auto nlen = get_le<uint16_t>(body.data() + 0);
    if (2u + nlen + 4u > body.size()) break;
    hint_record h;
    h.node = std::string(body.substr(2, nlen));
    h.shard = get_le<uint32_t>(body.data() + 2 + nlen);
    h.bytes = std::string(body.substr(6 + nlen));
    out.push_back(std::move(h));
    at += 12 + len;
  }
  if (torn && at < file.size()) *torn = 1;
  return out;
}

caf::actor spawn_hints(caf::actor_system& sys, const shard_table& table, hints_options opts) {
  return sys.spawn(hints_behavior, &table, std::move(opts));
}

uint64_t hints_pending_bytes(const std::string& dir, const std::string& node) {
  hints_options o;
  o.dir = dir;
  return pending_bytes(o, node);
}

}  // namespace strata::actors
