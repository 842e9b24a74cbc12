#!/usr/bin/env bash
# Deno smoke test: the same sources run under Deno 2. Creates an admin with the
# Deno-run CLI, starts `deno task start` on a fresh data dir, waits for
# /health/ready, logs in, opens a WebSocket (connect, subscribe, ping), then stops
# it with SIGTERM and expects close 4001 on the socket and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

deno=./node_modules/deno/deno
[ -x "$deno" ] || { echo "deno-smoke: $deno missing; run npm ci first" >&2; exit 1; }
data=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
log="$data/server.log"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
export LECTERN_DATA_DIR="$data" PASSWORD_HASH_COST=12 LOG_FORMAT=json HOST=127.0.0.1 PORT="$port"
unset DATABASE_URL REDIS_URL

"$deno" --version | head -1
"$deno" task -q lectern users create --email smoke@example.com --password 'deno smoke password' --role admin --name Smoke

"$deno" run --allow-all --no-prompt src/main.ts serve >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  if curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "deno-smoke: server exited early"; cat "$log"; exit 1; }
  sleep 0.5
done
ready=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/health/ready")
echo "ready: $ready"
case "$ready" in *' 200') ;; *) echo "deno-smoke: not ready"; cat "$log"; exit 1 ;; esac

login=$(curl -s -w ' %{http_code}' "http://127.0.0.1:$port/api/v1/auth/login" \
  -H 'content-type: application/json' -d '{"email":"smoke@example.com","password":"deno smoke password"}')
case "$login" in
  *'"accessToken"'*' 200') echo "login: 200 with an access token" ;;
  *) echo "deno-smoke: login failed: $login"; cat "$log"; exit 1 ;;
esac

token=$(node -e 'const b=JSON.parse(process.argv[1].replace(/ 200$/,""));process.stdout.write(b.accessToken)' "$login")
user_id=$(node -e 'const p=JSON.parse(Buffer.from(process.argv[1].split(".")[1],"base64url"));process.stdout.write(p.sub)' "$token")
ws_log="$data/ws.log"
node scripts/ws-smoke.mjs "ws://127.0.0.1:$port/ws" "$token" "$user_id" >"$ws_log" 2>&1 &
ws_pid=$!
for _ in $(seq 1 60); do
  grep -q ready-for-shutdown "$ws_log" 2>/dev/null && break
  kill -0 "$ws_pid" 2>/dev/null || break
  sleep 0.5
done
grep -q ready-for-shutdown "$ws_log" || { echo "deno-smoke: realtime check failed"; cat "$ws_log" "$log"; exit 1; }

kill -TERM "$pid"
if ! wait "$ws_pid"; then echo "deno-smoke: realtime check failed"; cat "$ws_log" "$log"; exit 1; fi
grep '^ws:' "$ws_log"
set +e
wait "$pid"
code=$?
set -e
pid=""
[ "$code" -eq 0 ] || { echo "deno-smoke: exit code $code after SIGTERM"; cat "$log"; exit 1; }
echo "deno-smoke: ok (served under Deno, logged in, realtime connect/subscribe/ping, 4001 and exit 0 on SIGTERM)"
