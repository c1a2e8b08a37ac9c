# acdledger — the two commands a new user needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/acdledger
PKGS    := ./...

.PHONY: all build test vet deps demo fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/acdledger

vet:
	$(GO) vet $(PKGS)

# The test command the README gives and CI runs: vet, every test with the
# race detector (the ledger, server, verifier and CLI are concurrent), then
# the load and crash tests again at full size without it (the race detector
# slows them several times over, so under it they run smaller), and the
# allocation tests, which only mean something without it.
# The AWS-driver tests need MariaDB and versitygw: scripts/services.sh
# starts them on loopback for the run (install them with
# scripts/install-test-deps.sh; ACDLEDGER_NO_SERVICES=1 skips those tests).
LOADTESTS := TestConcurrentAgencies|TestCrash|TestYearReport|NoAllocation
test: vet deps
	./scripts/services.sh test-run sh -c "$(GO) test -race -count=1 -timeout 30m $(PKGS) && \
	  $(GO) test -count=1 -timeout 10m -run '$(LOADTESTS)' ./ledger/server ./cmd/acdledger ./verifier/report ./specs"

# What the tests need beyond Go (idempotent: skips what is installed).
deps:
	./scripts/install-test-deps.sh

# End-to-end on the embedded default (Tessera POSIX log in demo/), as the
# committee lives it, on loopback: three witnesses (2 of 3) → serve --policy →
# agencies append over HTTP → one witness down, publication goes on → two
# down, appends acknowledged, nothing published until one returns → receipts,
# consistency, watch, audit with the policy → a refused NAINAI entry → sealed
# fields opened and disclosed → annual report (demo/report/). Every process it
# starts is stopped at the end, even on failure.
demo: build
	./scripts/demo.sh $(BIN) demo

# A short run of every fuzz target (go test -fuzz runs one target at a time).
FUZZTIME ?= 15s
fuzz:
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseEntry$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzCheckEnvelope$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzShapeDifferential$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs/shape -run '^$$' -fuzz '^FuzzSimplePattern$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzCanonicalWhileReading$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/report -run '^$$' -fuzz '^FuzzAdmittedIsReadable$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseDisclosure$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseBox$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs/tlogproof -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/compliance -run '^$$' -fuzz '^FuzzParseText$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/compliance -run '^$$' -fuzz '^FuzzParseState$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/tilecheck -run '^$$' -fuzz '^FuzzFiles$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier -run '^$$' -fuzz '^FuzzVerifyReceipt$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzLogStateJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/tlog -run '^$$' -fuzz '^FuzzVerifyCheckpoint$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/tlog -run '^$$' -fuzz '^FuzzParsePolicy$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/rules -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/rules -run '^$$' -fuzz '^FuzzRestoreEngine$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/witness -run '^$$' -fuzz '^FuzzAddCheckpoint$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ledger/server -run '^$$' -fuzz '^FuzzAdd$$' -fuzztime $(FUZZTIME)
	$(GO) test ./ledger/submit -run '^$$' -fuzz '^FuzzFollowsOf$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/report -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/evidence -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseBundle$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/ckptarchive -run '^$$' -fuzz '^FuzzArchive$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseSnapshot$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzLogStateSnapshot$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzLogStateSnapshotV2$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzLogStateSnapshotV3$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs/registrylog -run '^$$' -fuzz '^FuzzRegistryLeaves$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs/registrylog -run '^$$' -fuzz '^FuzzHistoryJSON$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/watch -run '^$$' -fuzz '^FuzzState$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin demo

# Throughput and latency figures (bench/, explained in BENCHMARKS.md):
# bare Tessera as the anchor, in-process and HTTP appends, audit, verify
# receipt. One run of each, a summary table at the end; nothing is asserted.
.PHONY: bench
bench:
	./scripts/services.sh test-run $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 90m ./bench
