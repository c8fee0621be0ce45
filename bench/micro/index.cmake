# micro benchmarks: index (series selection, postings, get_or_add, memory per series)
add_executable(index_bench ${CMAKE_CURRENT_LIST_DIR}/index_bench.cpp)
target_link_libraries(index_bench PRIVATE strata_index benchmark::benchmark_main)
