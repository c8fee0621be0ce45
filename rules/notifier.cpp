#include "rules/notifier.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace strata::rules {

am_alert to_am_alert(const alert& a, const labels& external, const std::string& generator_url) {
  am_alert out;
  out.lbls = a.lbls;
  for (const auto& e : external)
    if (label_value(out.lbls, e.name).empty()) out.lbls.push_back(e);
  sort_labels(out.lbls);
  out.annotations = a.annotations;
  out.starts_at_ms = a.fired_at;
  out.ends_at_ms = a.resolved_at != 0 ? a.resolved_at : a.valid_until;
  out.generator_url = generator_url;
  return out;
}

std::string rfc3339(int64_t ms) {
  time_t secs = static_cast<time_t>(ms / 1000);
  int64_t frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(frac));
  return out;
}

std::string alerts_json(const std::vector<am_alert>& alerts) {
  auto arr = nlohmann::json::array();
  for (const auto& a : alerts) {
    nlohmann::json j;
    j["labels"] = nlohmann::json::object();
    for (const auto& l : a.lbls) j["labels"][l.name] = l.value;
    j["annotations"] = nlohmann::json::object();
    for (const auto& l : a.annotations) j["annotations"][l.name] = l.value;
    j["startsAt"] = rfc3339(a.starts_at_ms);
    if (a.ends_at_ms != 0) j["endsAt"] = rfc3339(a.ends_at_ms);
    j["generatorURL"] = a.generator_url;
    arr.push_back(std::move(j));
  }
  return arr.dump();
}

std::string alerts_endpoint(const std::string& base_url) {
  std::string u = base_url;
  while (!u.empty() && u.back() == '/') u.pop_back();
  const std::string suffix = "/api/v2/alerts";
  if (u.size() >= suffix.size() && u.compare(u.size() - suffix.size(), suffix.size(), suffix) == 0) return u;
  return u + suffix;
}

namespace {

status unavailable(const std::string& url, const std::string& why) {
  return error(strata_errc::unavailable, "POST " + url + ": " + why);
}

}  // namespace

status http_post_json(const std::string& url, const std::string& body, int timeout_ms,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) return unavailable(url, "only http:// URLs are supported");
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return unavailable(url, std::string("resolve: ") + gai_strerror(rc));
  int fd = -1;
  std::string last_err = "no address";
  for (auto* ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    last_err = std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return unavailable(url, "connect: " + last_err);
  std::string extra;
  for (const auto& [name, value] : headers) extra += name + ": " + value + "\r\n";
  std::string req = "POST " + path + " HTTP/1.1\r\nHost: " + hostport + "\r\n" + extra +
                    "User-Agent: strata\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      std::string e = std::strerror(errno);
      close(fd);
      return unavailable(url, "send: " + e);
    }
    off += static_cast<size_t>(n);
  }
  std::string resp;
  char buf[4096];
  while (resp.find("\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  auto eol = resp.find("\r\n");
  if (eol == std::string::npos) return unavailable(url, "no response");
  std::string status_line = resp.substr(0, eol);
  auto sp = status_line.find(' ');
  int code = sp == std::string::npos ? 0 : std::atoi(status_line.c_str() + sp + 1);
  if (code < 200 || code > 299) return unavailable(url, status_line);
  return {};
}

notifier::notifier(std::vector<std::string> urls, size_t queue_capacity, post_fn post)
    : capacity_(queue_capacity), post_(std::move(post)) {
  for (const auto& u : urls) urls_.push_back(alerts_endpoint(u));
  if (!post_) post_ = [](const std::string& url, const std::string& body) { return http_post_json(url, body, 10000); };
  thread_ = std::thread([this] { run(); });
}

notifier::~notifier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void notifier::send(std::vector<am_alert> alerts) {
  if (urls_.empty() || alerts.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& a : alerts) {
      if (queue_.size() >= capacity_) {
        queue_.pop_front();
        ++dropped_;
      }
      queue_.push_back(std::move(a));
    }
  }
  cv_.notify_all();
}

void notifier::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stop_; });
}

void notifier::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::vector<am_alert> batch;
    while (!queue_.empty() && batch.size() < max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    busy_ = true;
    lock.unlock();
    std::string body = alerts_json(batch);
    for (const auto& url : urls_) {
      if (auto st = post_(url, body); !st) {
        ++errors_;
        spdlog::warn("alertmanager: {} alerts not delivered: {}", batch.size(), st.message());
      } else {
        sent_ += batch.size();
      }
    }
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace strata::rules
