# micro benchmarks: codec
