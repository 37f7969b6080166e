"""lstmlab's asv benchmarks (see ../README.md)."""
