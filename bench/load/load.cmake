# ingest_load: the per-protocol ingest load tool (docs/bench/ingest.md).
add_executable(ingest_load ${CMAKE_CURRENT_LIST_DIR}/ingest_load.cpp)
target_link_libraries(ingest_load PRIVATE strata_wire nlohmann_json::nlohmann_json Threads::Threads)
