// Package bench holds acdledger's throughput and latency benchmarks
// (run them with `make bench`; see BENCHMARKS.md). Everything is in the
// package's _test.go files: a plain `go test ./bench/` runs no benchmark
// and does no work.
package bench
