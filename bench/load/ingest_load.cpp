// ingest_load: sends a bench dataset (../shared/bench/gen.py) to a node
// through one ingest protocol and reports samples/s and the node's CPU
// seconds per million samples (docs/bench/ingest.md).
//
//   ingest_load --data DIR --port P --pid PID --protocol rw1|rw2|text|json|capnp [--conns N]
//
// Before timing, every remote_write body of the dataset is decoded and cut
// into requests of whole scrape steps (about --batch samples each, one host
// shard per request), then encoded for the protocol:
//   rw1    remote_write 1.0 (snappy protobuf), POST /api/v1/write
//   rw2    remote_write 2.0 (symbol table), POST /api/v1/write
//   capnp  strata batch, POST /api/v1/push (application/x-capnp)
//   json   one metrics.push event, every sample a gauge, POST /api/v1/push
//          (the event adds service="bench" to every series)
//   text   Prometheus text 0.0.4 with timestamps, one POST per (job, instance)
//          group: /metrics/job/<job>/instance/<instance>
// Requests of one host shard go in order over one keep-alive connection
// (shard % conns), so every series stays in time order.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wire/batch.hpp"
#include "wire/remote_write.hpp"
#include "wire/remote_write_v2.hpp"

namespace {

using namespace strata;
using json = nlohmann::json;

struct request {
  std::string target;
  std::string content_type;
  std::string encoding;  // Content-Encoding, or ""
  std::string body;
  size_t samples = 0;
};

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Requests of whole steps: consecutive samples with the same timestamp stay
// together (gen.py writes every series of a shard at t0, then t1, ...).
std::vector<write_batch> cut_by_steps(const write_batch& shard, size_t batch) {
  std::vector<write_batch> out(1);
  for (size_t i = 0; i < shard.size(); ++i) {
    bool step_start = i == 0 || shard[i].samples[0].t != shard[i - 1].samples[0].t;
    if (step_start && out.back().size() >= batch) out.emplace_back();
    out.back().push_back(shard[i]);
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string escape(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\' || c == '"') o += '\\';
    if (c == '\n') {
      o += "\\n";
      continue;
    }
    o += c;
  }
  return o;
}

std::vector<request> encode(const std::string& protocol, const write_batch& b) {
  std::vector<request> out;
  const size_t n = b.size();  // one sample per series entry
  if (protocol == "rw1") {
    out.push_back({"/api/v1/write", "application/x-protobuf", "snappy", wire::encode_remote_write(b), n});
  } else if (protocol == "rw2") {
    out.push_back({"/api/v1/write", "application/x-protobuf;proto=io.prometheus.write.v2.Request", "snappy",
                   wire::encode_remote_write_v2(b), n});
  } else if (protocol == "capnp") {
    out.push_back({"/api/v1/push", "application/x-capnp", "", wire::encode_batch(b), n});
  } else if (protocol == "json") {
    json metrics = json::array();
    for (const auto& s : b) {
      json m = {{"type", "gauge"}, {"timestamp", s.samples[0].t}};
      json ls = json::object();
      for (const auto& l : s.lbls) {
        if (l.name == metric_name_label) m["name"] = l.value;
        else ls[l.name] = l.value;
      }
      m["labels"] = std::move(ls);
      double v = s.samples[0].v;
      if (std::isfinite(v)) m["value"] = v;
      else m["value"] = format_value(v);
      metrics.push_back(std::move(m));
    }
    json ev = {{"type", "metrics.push"}, {"data", {{"service", "bench"}, {"metrics", std::move(metrics)}}}};
    out.push_back({"/api/v1/push", "application/json", "", ev.dump(), n});
  } else if (protocol == "text") {
    std::map<std::pair<std::string, std::string>, request> groups;  // (job, instance)
    for (const auto& s : b) {
      auto job = std::string(label_value(s.lbls, "job")), inst = std::string(label_value(s.lbls, "instance"));
      auto& r = groups[{job, inst}];
      if (r.target.empty()) {
        r.target = "/metrics/job/" + job + "/instance/" + inst;
        r.content_type = "text/plain; version=0.0.4";
      }
      std::string line(label_value(s.lbls, metric_name_label));
      bool first = true;
      for (const auto& l : s.lbls) {
        if (l.name == metric_name_label || l.name == "job" || l.name == "instance") continue;
        line += first ? '{' : ',';
        first = false;
        line += l.name + "=\"" + escape(l.value) + "\"";
      }
      if (!first) line += '}';
      line += ' ' + format_value(s.samples[0].v) + ' ' + std::to_string(s.samples[0].t) + '\n';
      r.body += line;
      ++r.samples;
    }
    for (auto& [k, r] : groups) out.push_back(std::move(r));
  } else {
    std::cerr << "unknown --protocol " << protocol << " (rw1, rw2, text, json, capnp)\n";
    std::exit(2);
  }
  return out;
}

// One keep-alive HTTP/1.1 connection to 127.0.0.1.
class connection {
 public:
  explicit connection(uint16_t port) : port_(port) { open(); }
  ~connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  // The status code, or 0 when the connection failed.
  int post(const request& r, std::string& reply_body) {
    std::string head = "POST " + r.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + r.content_type +
                       "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n";
    if (!r.encoding.empty()) head += "Content-Encoding: " + r.encoding + "\r\n";
    if (r.target == "/api/v1/write")
      head += r.content_type.find("v2") != std::string::npos ? "X-Prometheus-Remote-Write-Version: 2.0.0\r\n"
                                                             : "X-Prometheus-Remote-Write-Version: 0.1.0\r\n";
    head += "\r\n";
    if (!send_all(head) || !send_all(r.body)) return reconnect();
    // Status line and headers.
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return reconnect();
    int status = std::atoi(buf_.c_str() + 9);
    size_t length = 0;
    std::string headers = buf_.substr(0, end);
    for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto p = headers.find("content-length:"); p != std::string::npos) length = std::stoul(headers.substr(p + 15));
    bool close = headers.find("connection: close") != std::string::npos;
    buf_.erase(0, end + 4);
    while (buf_.size() < length)
      if (!fill()) return reconnect();
    reply_body = buf_.substr(0, length);
    buf_.erase(0, length);
    if (close) reconnect();
    return status;
  }

 private:
  void open() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  int reconnect() {
    if (fd_ >= 0) ::close(fd_);
    buf_.clear();
    open();
    return 0;
  }
  bool send_all(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      auto n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool fill() {
    char tmp[65536];
    auto n = ::read(fd_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  uint16_t port_;
  int fd_ = -1;
  std::string buf_;
};

// utime + stime of `pid` in seconds (/proc/<pid>/stat fields 14 and 15).
double cpu_seconds(int pid) {
  std::string stat = read_all("/proc/" + std::to_string(pid) + "/stat");
  auto p = stat.rfind(')');
  if (p == std::string::npos) return -1;
  std::istringstream in(stat.substr(p + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, protocol = "rw1";
  uint16_t port = 9201;
  int pid = 0;
  size_t conns = 4, batch = 10000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--data") data = v;
    else if (k == "--port") port = static_cast<uint16_t>(std::stoi(v));
    else if (k == "--pid") pid = std::stoi(v);
    else if (k == "--protocol") protocol = v;
    else if (k == "--conns") conns = std::stoul(v);
    else if (k == "--batch") batch = std::stoul(v);
    else {
      std::cerr << "unknown flag " << k << "\n";
      return 2;
    }
  }
  if (data.empty() || pid == 0 || conns == 0) {
    std::cerr << "usage: ingest_load --data DIR --port P --pid PID --protocol rw1|rw2|text|json|capnp [--conns N] "
                 "[--batch SAMPLES]\n";
    return 2;
  }

  // Decode the dataset and build the requests, per host shard, in order.
  json man = json::parse(read_all(data + "/manifest.json"));
  std::map<int, write_batch> shards;
  wire::write_limits no_limits{wire::default_max_decompressed, 0, 0, 0, 0};
  for (const auto& b : man["bodies"]) {
    auto d = wire::decode_remote_write(read_all(data + "/bodies/" + b["file"].get<std::string>()), no_limits);
    if (!d) {
      std::cerr << b["file"] << ": " << d.error().message() << "\n";
      return 1;
    }
    auto& dst = shards[b["shard"].get<int>()];
    for (auto& s : *d) dst.push_back(std::move(s));
  }
  std::vector<std::vector<request>> queues(std::min(conns, shards.size()));
  size_t total_samples = 0, total_bytes = 0, requests = 0;
  for (auto& [shard, all] : shards)
    for (const auto& part : cut_by_steps(all, batch))
      for (auto& r : encode(protocol, part)) {
        total_samples += r.samples;
        total_bytes += r.body.size();
        ++requests;
        queues[static_cast<size_t>(shard) % queues.size()].push_back(std::move(r));
      }
  shards.clear();

  std::atomic<size_t> ok_samples{0}, failed{0};
  std::mutex err_mu;
  std::string first_error;
  const double cpu0 = cpu_seconds(pid);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (auto& q : queues)
    workers.emplace_back([&, port] {
      connection c(port);
      std::string reply;
      for (const auto& r : q) {
        int st = c.post(r, reply);
        if (st >= 200 && st < 300) {
          ok_samples += r.samples;
          // A JSON event is 200 even when metrics are rejected.
          if (protocol == "json" && reply.find("\"rejected\":[]") == std::string::npos) ++failed;
        } else {
          ++failed;
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.empty()) first_error = std::to_string(st) + " " + reply.substr(0, 300);
        }
      }
    });
  for (auto& w : workers) w.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds(pid) - cpu0;

  json out = {{"protocol", protocol},
              {"connections", queues.size()},
              {"requests", requests},
              {"samples", total_samples},
              {"samples_ok", ok_samples.load()},
              {"failed_requests", failed.load()},
              {"bytes_sent", total_bytes},
              {"wall_s", std::round(wall * 1000) / 1000},
              {"samples_per_s", std::round(static_cast<double>(ok_samples.load()) / wall)},
              {"server_cpu_s", std::round(cpu * 100) / 100},
              {"server_cpu_s_per_million", std::round(cpu / (static_cast<double>(ok_samples.load()) / 1e6) * 100) / 100}};
  if (!first_error.empty()) out["first_error"] = first_error;
  std::cout << out.dump() << "\n";
  return failed.load() == 0 ? 0 : 1;
}
