# acdledger — the two commands a new user needs: `make demo` and `make test`.
GO      ?= go
BIN     := bin/acdledger
PKGS    := ./...

.PHONY: all build test vet demo fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/acdledger

vet:
	$(GO) vet $(PKGS)

# The test command the README gives and CI runs: vet, then every test with
# the race detector (the ledger, verifier and CLI are concurrent).
test: vet
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# End-to-end on the embedded default (Tessera POSIX log in demo/):
# keys and registry → init → append in two steps → verify receipts →
# verify consistency across growth → audit.
demo: build
	./scripts/demo.sh $(BIN) demo

# A short run of every fuzz target (go test -fuzz runs one target at a time).
FUZZTIME ?= 15s
fuzz:
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzParseEntry$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs -run '^$$' -fuzz '^FuzzCheckEnvelope$$' -fuzztime $(FUZZTIME)
	$(GO) test ./specs/tlogproof -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier -run '^$$' -fuzz '^FuzzVerifyReceipt$$' -fuzztime $(FUZZTIME)
	$(GO) test ./verifier/tlog -run '^$$' -fuzz '^FuzzVerifyCheckpoint$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin demo
