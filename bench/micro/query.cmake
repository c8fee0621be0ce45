# micro benchmarks: range functions over raw samples and over rollup tiers
add_executable(query_bench ${CMAKE_CURRENT_LIST_DIR}/query_bench.cpp)
target_link_libraries(query_bench PRIVATE strata_query strata_codec benchmark::benchmark)
target_include_directories(query_bench PRIVATE ${PROJECT_SOURCE_DIR})
