#pragma once
// Real child processes for multi-node tests.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace strata::testing {

class child_process {
 public:
  // Starts `argv[0]` with the arguments; stdout and stderr go to `log_path`.
  child_process(std::vector<std::string> argv, const std::string& log_path);
  ~child_process();  // SIGKILLs a child still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const { return pid_; }
  void kill(int sig);
  // Waits for exit; returns the exit status (128+signal when killed), -1 on timeout.
  int wait(int timeout_ms);

 private:
  pid_t pid_ = -1;
};

// A loopback TCP port free now, outside the ephemeral range, and claimed for
// this process against other test processes (see process.cpp).
uint16_t free_port();
std::string make_temp_dir();
void remove_dir(const std::string& dir);
std::string read_file(const std::string& path);

}  // namespace strata::testing
