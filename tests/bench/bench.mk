# tests/bench/bench.mk: the NVMe/TCP load generator. Built by `make` (not
# run by `make check`: a benchmark asserts no speed); run-standard.sh runs
# the standard set and appends the results to BENCHMARKS.md.
noinst_PROGRAMS += tests/bench/nvb-bench
tests_bench_nvb_bench_SOURCES = tests/bench/nvb-bench.c
tests_bench_nvb_bench_LDADD = nvmetcp/libnvmehost.a $(BRIDGE_LIBS)

dist_noinst_SCRIPTS += tests/bench/run-standard.sh
