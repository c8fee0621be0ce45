#pragma once
#include <string>

#include "common/status.hpp"

namespace strata {

// Sets the default spdlog logger: stderr, `ts level [component] message`.
// Level names: trace, debug, info, warn, error, critical, off.
status setup_logging(const std::string& level);

}  // namespace strata
