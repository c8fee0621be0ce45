# micro benchmarks: index
