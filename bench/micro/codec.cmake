# micro benchmarks: codec (Gorilla and packed chunks, quantile sketch, rollup records)
add_executable(codec_bench ${CMAKE_CURRENT_LIST_DIR}/codec_bench.cpp)
target_link_libraries(codec_bench PRIVATE strata_persistence benchmark::benchmark_main)
