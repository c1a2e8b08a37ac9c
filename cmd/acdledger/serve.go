package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/spf13/cobra"
)

func newServe() *cobra.Command {
	var dir, addr, logFormat, policy string
	var unencrypted bool
	var maxInFlight int
	var sf storageFlags
	var batchAge, cpInterval, waitTimeout, reorderWait time.Duration
	cmd := &cobra.Command{
		Use:   "serve --ledger DIR [--listen ADDR]",
		Short: "Serve the ledger over HTTP: agencies POST /add, everyone reads the tlog-tiles",
		Long: `serve opens a ledger directory and serves (specs/http-api.md):

  POST /add            one DSSE envelope (Content-Type application/json or
                       application/vnd.dsse.envelope.v1+json). The agency's signature
                       is the authentication. Answers 200 with the receipt once a
                       checkpoint covers the entry, or 202 with the index once it is
                       durably sequenced (?wait=false). Refusals are 4xx with a JSON
                       body {code, entry_id, field, rule, message}; the log is unchanged.
                       A retry of an envelope already in the log gets its receipt again.
  GET /checkpoint, /tile/…, /tile/entries/…   the C2SP tlog-tiles read API
  GET /healthz, /metrics                      liveness; Prometheus metrics

With --policy, a checkpoint is published only once the policy's quorum of
committee witnesses has cosigned it. While fewer witnesses answer, appends are
still sequenced and durable (?wait=false answers 202) but nothing new is
published, and waiting appends get 503 not-yet-published after --wait-timeout;
publication resumes by itself when the quorum is back. A fresh log needs its
quorum reachable to start, since even the empty tree's checkpoint is cosigned.
The policy is read as C2SP tlog-policy, strictly (specs/witnesses.md): every
witness line needs its URL here, and the log line must be this log's key.

On SIGTERM or SIGINT it stops accepting, finishes the appends in flight,
publishes a final checkpoint and exits 0. Logs are structured (log/slog) on stderr.

Every flag can also be set by an environment variable: ACDLEDGER_LEDGER,
ACDLEDGER_LISTEN, ACDLEDGER_MAX_IN_FLIGHT, ACDLEDGER_BATCH_MAX_AGE,
ACDLEDGER_CHECKPOINT_INTERVAL, ACDLEDGER_WAIT_TIMEOUT, ACDLEDGER_REORDER_WAIT,
ACDLEDGER_LOG_FORMAT, ACDLEDGER_POLICY (flags win).

With the AWS storage driver (a directory made by init --storage aws, or the
flags below over it), any number of serve processes may run on the same
database and bucket behind a load balancer: admission is decided in the
database, so no two frontends accept the same agency seq, and each serves the
read API from the bucket (a CDN in front of the bucket serves it as well).
Checkpoints are published at most once a second on that driver.
Appends get 503 + Retry-After while the log integrates a burst (pushback).

` + storageHelp,
		Example: `  acdledger serve --ledger ledger --listen 127.0.0.1:8080
  acdledger append --server http://127.0.0.1:8080 --receipts receipts entries.dsse.jsonl
  acdledger audit --log http://127.0.0.1:8080 --vkey ledger/log.vkey --registry registry.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := envDefaults(cmd, map[string]string{
				"ledger": "ACDLEDGER_LEDGER", "listen": "ACDLEDGER_LISTEN", "max-in-flight": "ACDLEDGER_MAX_IN_FLIGHT",
				"batch-max-age": "ACDLEDGER_BATCH_MAX_AGE", "checkpoint-interval": "ACDLEDGER_CHECKPOINT_INTERVAL",
				"wait-timeout": "ACDLEDGER_WAIT_TIMEOUT", "reorder-wait": "ACDLEDGER_REORDER_WAIT", "log-format": "ACDLEDGER_LOG_FORMAT",
				"policy": "ACDLEDGER_POLICY",
			})
			if err != nil {
				return usage(err)
			}
			if err := sf.envDefaults(cmd); err != nil {
				return usage(err)
			}
			if dir == "" {
				return usage(errors.New("--ledger (or ACDLEDGER_LEDGER) is required"))
			}
			logger, err := newLogger(logFormat)
			if err != nil {
				return usage(err)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := ledger.Options{BatchMaxAge: batchAge, CheckpointInterval: cpInterval, Logger: logger,
				KeyPassphrase: keyPassphrase, UnencryptedKey: unencrypted}
			if opts.Storage, err = sf.forDir(dir); err != nil {
				return usage(err)
			}
			if policy != "" {
				if opts.WitnessPolicy, err = os.ReadFile(policy); err != nil {
					return usage(err)
				}
			}
			l, err := ledger.Open(ctx, dir, opts)
			if errors.Is(err, ledger.ErrCorrupt) {
				return failed(err) // the log does not match its checkpoint: exit 1, naming the file
			}
			if err != nil {
				return usage(err)
			}
			srv := server.New(l, server.Config{MaxInFlight: maxInFlight, WaitTimeout: waitTimeout, ReorderWait: reorderWait, Logger: logger})
			hs := srv.HTTPServer(addr)
			ln, err := listen(cmd.OutOrStdout(), addr)
			if err != nil {
				l.Close(context.Background())
				return usage(err)
			}
			logger.Info("serving", "ledger", dir, "storage", l.Storage().Driver, "origin", l.Origin(), "listen", ln.Addr().String(), "entries", l.Len())
			err = serveUntilDone(ctx, hs, ln, logger, waitTimeout+10*time.Second)
			cerr := l.Close(context.Background())
			logger.Info("stopped", "entries", l.Len(), "final_checkpoint_size", l.PublishedSize(context.Background()))
			if err == nil {
				err = cerr
			}
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	addUnencryptedFlag(cmd, &unencrypted, "use a log.key that is not encrypted with a passphrase (refused otherwise)")
	f.StringVar(&dir, "ledger", "", "ledger directory (from init)")
	f.StringVar(&addr, "listen", "127.0.0.1:8080", "address to listen on (port 0: any free port, printed on stdout)")
	f.IntVar(&maxInFlight, "max-in-flight", 4096, "concurrent appends before new ones get 503 + Retry-After")
	f.DurationVar(&batchAge, "batch-max-age", 50*time.Millisecond, "longest an entry waits for its Tessera batch")
	f.DurationVar(&cpInterval, "checkpoint-interval", 100*time.Millisecond, "how often a checkpoint may be published (minimum 100ms)")
	f.DurationVar(&waitTimeout, "wait-timeout", 30*time.Second, "longest POST /add waits for the checkpoint covering its entry")
	f.DurationVar(&reorderWait, "reorder-wait", 10*time.Second, "longest an entry that arrives before an earlier seq or ref of its own waits for it")
	f.StringVar(&logFormat, "log-format", "json", "log format on stderr: json or text")
	sf.register(cmd, "storage")
	f.StringVar(&policy, "policy", "", "witness policy file: publish only checkpoints cosigned by its quorum (specs/witnesses.md)")
	return cmd
}

// envDefaults sets each flag not given on the command line from its
// environment variable, if that is set.
func envDefaults(cmd *cobra.Command, vars map[string]string) error {
	for flag, env := range vars {
		v, ok := os.LookupEnv(env)
		if !ok || cmd.Flags().Changed(flag) {
			continue
		}
		if err := cmd.Flags().Set(flag, v); err != nil {
			return fmt.Errorf("%s=%q: %w", env, v, err)
		}
	}
	return nil
}
