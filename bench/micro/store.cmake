# micro benchmarks: store
