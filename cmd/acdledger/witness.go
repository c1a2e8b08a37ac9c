package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/verifier/witness"
	"github.com/spf13/cobra"
)

func newWitness() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "Run a commission member's witness, which cosigns the log's checkpoints",
		Long: `A witness keeps, for each log it knows, the latest checkpoint it cosigned, and
cosigns a new checkpoint only if a consistency proof shows that it extends that one.
Checkpoints carrying a quorum of witness cosignatures cannot be part of a forked or
rolled-back log unless that many witnesses misbehaved (specs/witnesses.md).

The protocol is C2SP tlog-witness (POST <prefix>/add-checkpoint) and the cosignatures
are C2SP tlog-cosignature v1, so the log's Tessera witness client talks to it directly.

  keygen   make the witness key pair; the public key goes into the policy file
  serve    serve POST /add-checkpoint and GET /<origin hash>/checkpoint`,
		Example: `  acdledger witness keygen --name w1.commission.example --out keys/w1
  acdledger witness serve --key keys/w1.key --state witness-state \
      --log-vkey ledger/log.vkey --listen 0.0.0.0:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usage(errors.New("witness needs a subcommand: keygen or serve (see --help)"))
		},
	}
	cmd.AddCommand(newWitnessKeygen(), newWitnessServe())
	return cmd
}

func newWitnessKeygen() *cobra.Command {
	var name, out string
	var unencrypted bool
	cmd := &cobra.Command{
		Use:   "keygen --name NAME --out BASE",
		Short: "Make a witness key pair",
		Long: `keygen makes an Ed25519 witness key pair named NAME (a schema-less URL is
recommended, e.g. w1.commission.example; it appears in every cosignature line):

  BASE.key   the private key in signed-note form (PRIVATE+KEY+…), mode 0600. Keep it secret:
             whoever holds it can cosign anything in the witness's name.
  BASE.vkey  the cosignature/v1 verifier key (signature type 0x04): the key of this
             witness's "witness" line in the policy file.

Neither file is ever overwritten.`,
		Example: `  acdledger witness keygen --name w1.commission.example --out keys/w1
  # then, in the policy file:
  #   witness w1 <contents of keys/w1.vkey> https://w1.commission.example
  # (the URL is needed by the log's serve --policy; auditors' copies may omit it)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, vkey, err := witness.GenerateKey(name)
			if err != nil {
				return usage(err)
			}
			if err := prepareOut(out); err != nil {
				return usage(err)
			}
			pass, err := newKeyPassphrase(unencrypted)
			if err != nil {
				return usage(err)
			}
			if err := sealNew(out+".key", []byte(skey+"\n"), pass); err != nil {
				return usage(existsHint(err, out+".key"))
			}
			if err := atomicfile.WriteNew(out+".vkey", []byte(vkey+"\n"), 0o644); err != nil {
				return usage(fmt.Errorf("%w (%s.key was written; remove it before trying again)", err, out))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s.key and %s.vkey\nvkey: %s\npolicy line: witness <short-name> %s [<submission URL>]\n", out, out, vkey, vkey)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "the witness's key name, e.g. w1.commission.example (no spaces or '+')")
	f.StringVar(&out, "out", "", "file name base: writes BASE.key and BASE.vkey")
	addUnencryptedFlag(cmd, &unencrypted, "write BASE.key in the clear (it is encrypted with the key passphrase otherwise)")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newWitnessServe() *cobra.Command {
	var keyFile, stateDir, addr, logFormat string
	var unencrypted bool
	var logKeys []string
	var maxBody int64
	cmd := &cobra.Command{
		Use:   "serve --key FILE --state DIR --log-vkey FILE [--log-vkey FILE…] [--listen ADDR]",
		Short: "Serve the C2SP tlog-witness API: POST /add-checkpoint, GET /<origin hash>/checkpoint",
		Long: `serve runs the witness over HTTP (C2SP tlog-witness):

  POST /add-checkpoint   body: "old <size>", the consistency proof (one base64 hash per
                         line, at most 63), an empty line, the log's signed checkpoint.
      200  the witness's cosignature line(s), "— <name> <base64>"; the checkpoint was
           recorded on disk before the answer
      400  malformed request, or old size larger than the checkpoint's
      403  no valid signature by a trusted key of the checkpoint's log
      404  the checkpoint's origin is not a log this witness knows
      409  old size is not the size the witness last cosigned: the body is that size,
           Content-Type text/x.tlog.size (clients retry from it)
      413  body larger than --max-body
      422  the consistency proof does not verify, or is not empty from old 0; a checkpoint
           of the cosigned size with another root hash (a split view); a size-0
           checkpoint whose root is not the empty tree's (each logged as evidence)

  GET /<origin hash>/checkpoint   for monitors; origin hash: SHA-256 of the log's origin,
                         64 lower-case hex digits
      200  the latest checkpoint cosigned for that log, with the log's signature and the
           cosignature add-checkpoint returned (text/plain; charset=utf-8)
      404  no log of that hash, or none cosigned yet

--log-vkey names a file holding a log's checkpoint verifier key (e.g. ledger/log.vkey;
one key per line, '#' comments); the key's name is the log's origin. Repeat it for more
logs, or list a log's old and new keys to rotate its key.

--state holds one file per log, the latest checkpoint cosigned for it (with the
witness's cosignature, as GET …/checkpoint serves it), replaced
atomically. It is read and verified again at start: a restarted witness refuses anything
older than what it cosigned, and a state file that does not verify stops the witness
(exit 1) rather than being reset. Back it up with the key; if it is lost, the witness
re-learns each log from "old 0", and can no longer detect a rollback to before that.

The first line on stdout is "listening on http://ADDR" (so --listen with port 0 works).
Logs are structured (log/slog) on stderr. SIGTERM or SIGINT stops it gracefully.`,
		Example: `  acdledger witness serve --key keys/w1.key --state /var/lib/acdledger-witness \
      --log-vkey ledger/log.vkey --listen 0.0.0.0:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(logFormat)
			if err != nil {
				return usage(err)
			}
			if len(logKeys) == 0 {
				return usage(errors.New("at least one --log-vkey is required"))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()

			skey, err := readSecret(keyFile, unencrypted)
			if err != nil {
				return usage(fmt.Errorf("witness key: %w", err))
			}
			logs, err := witness.ReadLogKeyFiles(logKeys...)
			if err != nil {
				return usage(err)
			}
			cfg := witness.Config{Key: string(skey), StateDir: stateDir, Logs: logs}
			cfg.Logger, cfg.MaxBodySize = logger, maxBody
			w, err := witness.New(cfg)
			if errors.Is(err, witness.ErrBadState) {
				return failed(err)
			}
			if err != nil {
				return usage(err)
			}
			defer w.Close()
			witness.WarnKeyFileMode(keyFile, logger)
			ln, err := listen(cmd.OutOrStdout(), addr)
			if err != nil {
				return usage(err)
			}
			logger.Info("witness serving", "name", w.Name(), "vkey", w.VerifierKey(), "logs", w.Origins(), "state", stateDir, "listen", ln.Addr().String())
			hs := &http.Server{
				Handler:           w,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       30 * time.Second,
				WriteTimeout:      30 * time.Second,
				IdleTimeout:       2 * time.Minute,
				MaxHeaderBytes:    64 << 10,
				ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			}
			err = serveUntilDone(ctx, hs, ln, logger, 10*time.Second)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			logger.Info("stopped")
			if err != nil {
				return failed(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key", "", "the witness's private key file (from witness keygen), encrypted with the key passphrase")
	addUnencryptedFlag(cmd, &unencrypted, "use a witness key file that is not encrypted (refused otherwise)")
	f.StringVar(&stateDir, "state", "", "state directory: the latest cosigned checkpoint of each log (created if missing)")
	f.StringArrayVar(&logKeys, "log-vkey", nil, "file with a log's checkpoint verifier key; repeat for more logs")
	f.StringVar(&addr, "listen", "127.0.0.1:8081", "address to listen on (port 0: any free port, printed on stdout)")
	f.Int64Var(&maxBody, "max-body", witness.DefaultMaxBodySize, "largest request body accepted, in bytes")
	f.StringVar(&logFormat, "log-format", "json", "log format on stderr: json or text")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("state")
	return cmd
}
