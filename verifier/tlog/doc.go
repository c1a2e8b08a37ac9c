// Package tlog is the auditor's side of a transparency log published in the
// C2SP tlog-tiles layout (https://c2sp.org/tlog-tiles), as written by
// Tessera's POSIX driver and served from a directory or any static HTTP
// server.
//
// It deliberately depends only on public formats and libraries (signed
// notes, RFC 6962 Merkle trees, the tlog-tiles layout), never on the code that
// writes the log: an auditor must be able to check the log without trusting
// the writer's implementation. It knows nothing about what the leaves mean;
// [Source.Replay] hands the raw leaf bytes to a callback.
//
// What it checks:
//   - [Source.Checkpoint] and [VerifyCheckpoint]: the log's signature and
//     origin on a checkpoint.
//   - [VerifyInclusion] and [Source.InclusionProof]: one leaf is in the tree.
//   - [Source.CheckConsistency] and [CompareCheckpoints]: the log only ever
//     grows. Unlike Tessera's client.LogStateTracker, which silently keeps
//     its old state, a split view ([ForkError]), a shrinking log
//     ([RollbackError]) or a failed consistency proof ([InconsistentError])
//     is reported, with both signed checkpoints kept as evidence
//     ([WriteEvidence]).
//   - [Source.Replay]: every leaf, the root hash, and every stored hash tile.
//
// [LoadState] and [SaveState] keep the last trusted checkpoint between runs.
package tlog
