#include "tests/support/process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace strata::testing {

child_process::child_process(std::vector<std::string> argv, const std::string& log_path) {
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
}

child_process::~child_process() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void child_process::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int child_process::wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pid_ > 0) {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// A port below the kernel's ephemeral range (32768-60999 by default), so no
// outgoing connection of another test can take it between this check and
// the node's bind; chosen at random (seeded per process) so that tests run
// side by side rarely try the same one, and never twice in one process.
namespace {

// Test processes run side by side (ctest -j): each port handed out is
// claimed in a shared directory (a file holding the claimer's pid), so two
// processes never start nodes on the same port. A claim whose process is
// gone is taken over; a process removes its claims when it exits.
const std::string& port_claims_dir() {
  static const std::string dir = [] {
    auto d = (std::filesystem::temp_directory_path() / "strata-test-ports").string();
    std::error_code ec;
    std::filesystem::create_directories(d, ec);
    return d;
  }();
  return dir;
}

std::set<uint16_t>& claimed_ports() {
  static std::set<uint16_t> claimed;
  return claimed;
}

bool claim_port(uint16_t port) {
  std::string path = port_claims_dir() + "/" + std::to_string(port);
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::ifstream in(path);
    pid_t owner = 0;
    if (!(in >> owner) || owner <= 0 || ::kill(owner, 0) == 0 || errno != ESRCH) return false;
    ::unlink(path.c_str());  // its process is gone
    fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return false;
  }
  std::string pid = std::to_string(::getpid());
  bool ok = ::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  ::close(fd);
  if (!ok) return false;
  if (claimed_ports().empty())
    std::atexit([] {
      for (uint16_t p : claimed_ports()) ::unlink((port_claims_dir() + "/" + std::to_string(p)).c_str());
    });
  claimed_ports().insert(port);
  return true;
}

}  // namespace

uint16_t free_port() {
  static std::mutex mu;
  static std::mt19937 rng(static_cast<uint32_t>(::getpid()) * 2654435761u ^
                          static_cast<uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::lock_guard<std::mutex> lock(mu);
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (;;) {
    auto port = static_cast<uint16_t>(pick(rng));
    if (claimed_ports().count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (!ok || !claim_port(port)) continue;
    return port;
  }
}

std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "strata-test-XXXXXX").string();
  char* d = ::mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

void remove_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace strata::testing
