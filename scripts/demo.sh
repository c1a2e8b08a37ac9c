#!/usr/bin/env bash
# make demo: the whole life of the ledger on the embedded default (a Tessera
# POSIX log on disk), using only the acdledger CLI as agencies, the log
# operator and an auditor would. Usage: scripts/demo.sh BIN DIR
set -euo pipefail
bin=${1:-bin/acdledger}
dir=${2:-demo}
export ACDLEDGER_KEY_PASSPHRASE=${ACDLEDGER_KEY_PASSPHRASE:-demo-passphrase-not-for-production}
origin=demo.acdledger.example/acd

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

rm -rf "$dir"
mkdir -p "$dir"

step "Agencies: keys, registry and signed entries (deterministic, seed 1)"
"$bin" demo generate --out "$dir/agencies" --seed 1 --entries 300 --parts 2

step "Operator: create the ledger (Tessera POSIX log in $dir/log)"
"$bin" init --dir "$dir" --origin "$origin" --registry "$dir/agencies/registry.json"

step "Agencies append part 1 (concurrently, all or nothing), receipts to $dir/receipts"
"$bin" append --ledger "$dir" --receipts "$dir/receipts" "$dir/agencies/part-1.dsse.jsonl" | tail -n 3

step "Auditor: first look at the log (trust on first use of the checkpoint)"
mkdir -p "$dir/auditor"
"$bin" verify consistency --log "$dir/log" --vkey "$dir/log.vkey" --state "$dir/auditor/state" --evidence "$dir/auditor/evidence"

step "Auditor: start watching the log (one JSON line per entry, violation, checkpoint or alarm)"
# The demo appends months of generated activity at once: its entries are
# recorded long after they occurred, and part 1 ends mid-case with deadlines
# that part 2 closes. Allow a year of record lag (R15 and deadlines,
# specs/rules.md); with the defaults, watch would report both.
echo '{"max_record_lag": "8760h"}' > "$dir/auditor/rules.json"
watch() { "$bin" watch --log "$dir/log" --vkey "$dir/log.vkey" --registry "$dir/agencies/registry.json" \
  --state "$dir/auditor/watch.state" --rules-config "$dir/auditor/rules.json" --once | tee -a "$dir/auditor/watch.jsonl"; }
watch | tail -n 1

step "Agencies append part 2"
"$bin" append --ledger "$dir" --receipts "$dir/receipts" "$dir/agencies/part-2.dsse.jsonl" | tail -n 3

step "Auditor: the watcher reads only the new entries"
watch | tail -n 1
echo "$(grep -c '"type":"entry"' "$dir/auditor/watch.jsonl") entries, $(grep -c '"type":"violation"' "$dir/auditor/watch.jsonl" || true) violations, $(grep -c '"type":"alarm"' "$dir/auditor/watch.jsonl" || true) alarms in $dir/auditor/watch.jsonl"

step "Auditor: the log grew consistently with what was trusted"
"$bin" verify consistency --log "$dir/log" --vkey "$dir/log.vkey" --state "$dir/auditor/state" --evidence "$dir/auditor/evidence"

step "A 内内 (NAINAI) acquisition is refused and the log is unchanged"
before=$(find "$dir/log" -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum | sha256sum)
if "$bin" append --ledger "$dir" "$dir/agencies/rejected/nainai.dsse.json"; then
  echo "demo: the NAINAI entry was admitted" >&2; exit 1
fi
after=$(find "$dir/log" -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum | sha256sum)
[ "$before" = "$after" ] && echo "log files unchanged"

step "Auditor: every receipt, offline (checkpoint signature, inclusion, agency signature)"
n=$("$bin" verify receipt --vkey "$dir/log.vkey" --registry "$dir/agencies/registry.json" "$dir"/receipts/*.tlog-proof | tee "$dir/auditor/receipts.txt" | wc -l)
head -n 3 "$dir/auditor/receipts.txt"
echo "… $n receipts verified"

step "Auditor: full replay of the log, with the compliance rules"
"$bin" audit --log "$dir/log" --vkey "$dir/log.vkey" --registry "$dir/agencies/registry.json"

step "Sealed fields: the published log holds no operational secret in clear"
# Entries are base64 inside their envelopes, so look in the decoded payloads too.
secrets=$(find "$dir/log" -type f -print0 | xargs -0 cat | grep -c "DEMO-SECRET-" || true)
payloads=$(find "$dir/log/tile/entries" -type f -print0 | xargs -0 cat | grep -ao '"payload":"[^"]*"' | cut -d'"' -f4 |
  while read -r p; do printf '%s' "$p" | base64 -d; echo; done)
sealed=$(printf '%s\n' "$payloads" | grep -c '"box"' || true)
decoded=$(printf '%s\n' "$payloads" | grep -c "DEMO-SECRET-" || true)
echo "secret markers in the log's files: $secrets; in $(printf '%s\n' "$payloads" | wc -l) decoded entry payloads: $decoded ($sealed of them sealed)"
[ "$secrets" = 0 ] && [ "$decoded" = 0 ] || { echo "demo: sealed plaintext leaked into the log" >&2; exit 1; }

step "Commission: member-1 opens a measure's sealed fields and discloses its target address"
reg="$dir/agencies/registry.json"
# part 1 was appended first, in order: its line number is the log index.
measure=; i=0
while read -r line; do
  payload=$(printf '%s' "$line" | grep -o '"payload":"[^"]*"' | cut -d'"' -f4 | base64 -d)
  case "$payload" in *'"kind":"measure.executed"'*'"target_address"'*) measure=$i; break ;; esac
  i=$((i + 1))
done < "$dir/agencies/part-1.dsse.jsonl"
[ -n "$measure" ] || { echo "demo: no sealed measure in part 1" >&2; exit 1; }
"$bin" open --identity "$dir/agencies/keys/member-1.age" --log "$dir/log" --vkey "$dir/log.vkey" --registry "$reg" "$measure"
mkdir -p "$dir/disclosures"
"$bin" disclose --identity "$dir/agencies/keys/member-1.age" --log "$dir/log" --vkey "$dir/log.vkey" --registry "$reg" \
  --field target_address --out "$dir/disclosures/target_address.json" "$measure"

step "Commission: member-2 opens every entry sealed to its key in one audit (commission-only check C1)"
"$bin" audit --log "$dir/log" --vkey "$dir/log.vkey" --registry "$reg" --no-rules --identity "$dir/agencies/keys/member-2.age" | tail -n 2

step "Anyone: verify the disclosure with public keys only"
"$bin" verify disclosure --vkey "$dir/log.vkey" --registry "$reg" "$dir/disclosures/target_address.json"

step "Commission: annual report for fiscal year 2026, bound to the current checkpoint ($dir/report)"
"$bin" report annual --log "$dir/log" --vkey "$dir/log.vkey" --registry "$dir/agencies/registry.json" \
  --year 2026 --lang ja --out "$dir/report"
"$bin" report render --lang en --out "$dir/report/en" "$dir/report/report.json"

step "Anyone: recompute every figure of the report from the published log"
"$bin" report verify --log "$dir/log" --vkey "$dir/log.vkey" --registry "$dir/agencies/registry.json" "$dir/report/report.json"

step "Left for you to check with any tlog-tiles tool"
echo "  $dir/log/        the log (C2SP tlog-tiles: checkpoint, tile/…, tile/entries/…)"
echo "  $dir/log.vkey    the checkpoint verifier key (signed-note form):"
sed 's/^/                   /' "$dir/log.vkey"
echo "  $dir/receipts/   one C2SP tlog-proof per entry"
echo "  $dir/disclosures/ one sealed field, disclosed (acdledger verify disclosure)"
echo "  $dir/report/     the annual report: report.json (figures), report.md and report.html (ja; en/ in English)"
