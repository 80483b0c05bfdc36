#!/usr/bin/env bash
# Sweep the tuned defaults on the bundled question set, one `newsqa eval --json` per setting:
# passage size and overlap (each rebuilds the index), then the hybrid fusion weight and the
# abstention threshold over the default index. Prints one line per setting:
#   setting hit@1 hit@5 ndcg@10 answer_hit abstain_recall false_abstain
# Usage: bash eval/sweep.sh [OUT_DIR]   (about 10 minutes on 2 cores)
set -euo pipefail
out=${1:-build/sweep}
newsqa=${NEWSQA:-.venv/bin/newsqa}
export HF_HUB_OFFLINE=1
mkdir -p "$out"

row() {  # row LABEL JSON_FILE
  python3 -c 'import json, sys
m = json.load(open(sys.argv[2]))["modes"]["hybrid"]
print(sys.argv[1], *(m[k] for k in ("hit@1", "hit@5", "ndcg@10", "answer_hit", "abstain_recall", "false_abstain")))' "$1" "$2"
}

for chunking in 96-32 128-0 128-32 128-64 192-32 192-48 256-64; do
  size=${chunking%-*} overlap=${chunking#*-}
  index="$out/index-$size-$overlap"
  NEWSQA_CHUNK_TOKENS=$size NEWSQA_CHUNK_OVERLAP=$overlap "$newsqa" index --index-dir "$index" >/dev/null
  "$newsqa" eval --index-dir "$index" --modes hybrid --json >"$out/chunk-$size-$overlap.json"
  row "chunk_tokens=$size,overlap=$overlap" "$out/chunk-$size-$overlap.json"
done
for weight in 0.1 0.25 0.5 1.0; do
  NEWSQA_LEXICAL_WEIGHT=$weight "$newsqa" eval --index-dir "$out/index-128-32" --modes hybrid --json >"$out/weight-$weight.json"
  row "lexical_weight=$weight" "$out/weight-$weight.json"
done
for threshold in 0.3 0.35 0.4; do
  NEWSQA_ABSTAIN_THRESHOLD=$threshold "$newsqa" eval --index-dir "$out/index-128-32" --modes hybrid --json >"$out/abstain-$threshold.json"
  row "abstain_threshold=$threshold" "$out/abstain-$threshold.json"
done
