#include "persistence/kv/store.hpp"

namespace strata::persistence::kv {

const char* to_string(table t) {
  switch (t) {
    case table::meta:
      return "meta";
    case table::wal:
      return "wal";
    case table::series:
      return "series";
    case table::chunks:
      return "chunks";
    case table::rollups:
      return "rollups";
  }
  return "?";
}

}  // namespace strata::persistence::kv
