#!/usr/bin/env bash
# Compare shardscope with kinesalite (npm kinesalite@3.3.3, in-memory) through
# the same client in the same run: `shardscope bench` against both, at 100 B
# and 1 KiB, 4 shards, 4 producers × 100-record batches, limits off, fsync on.
#
#   go build -o /tmp/shardscope . && api/testdata/bench-kinesalite.sh /tmp/shardscope [duration]
set -euo pipefail
bin=${1:?usage: bench-kinesalite.sh SHARDSCOPE_BINARY [DURATION]}
dur=${2:-10s}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund kinesalite@3.3.3 >/dev/null)
node "$work/node_modules/kinesalite/cli.js" --port 45671 --createStreamMs 0 --deleteStreamMs 0 --shardLimit 100 >"$work/kinesalite.log" 2>&1 &
"$bin" serve --listen 127.0.0.1:45672 --db "$work/shardscope.db" --no-limits --sync always --log-level warn &
for port in 45671 45672; do
  for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
printf '| size | endpoint | result |\n|---|---|---|\n'
for size in 100 1024; do
  for target in kinesalite:45671 shardscope:45672; do
    name=${target%%:*}; port=${target##*:}
    line=$("$bin" bench --endpoint "http://127.0.0.1:$port" --size "$size" --duration "$dur" --shards 4 --producers 4 --batch 100 --consumers 1 --poll 10ms)
    printf '| %s B | %s | %s |\n' "$size" "$name" "$line"
  done
done
