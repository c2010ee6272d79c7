# Process handling shared by the suites' run.sh scripts (tests/e2e, tests/client,
# tests/gateways): free ports, background jobs in process groups of their own and how to stop
# them, API keys and a `recur serve` on a throw-away database.
# Source it from the repository root after `set -euo pipefail`; it defines python, wait_for
# and pids (the jobs started, which the caller's EXIT trap stops with stop_all).

python=/usr/bin/python3
wait_for=tests/e2e/wait_for.py
pids=()

free_port() { "$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start_job LOG COMMAND...: runs COMMAND in the background, output to LOG, in a process group
# of its own (`set -m`), so that stop_all stops what it started too; its pid ends pids.
start_job() {
  local log=$1
  shift
  set -m
  "$@" >"$log" 2>&1 &
  pids+=($!)
  set +m
}

# Stops each job started (its whole process group), politely first, then by force if it has
# not exited within 15 s.
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    if ! "$python" "$wait_for" exit "$pid" 15; then
      echo "process $pid ignored SIGTERM; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

# new_api_key RECUR DB ROLE LOG: prints a new API key with ROLE (DB migrated already); the
# command's messages go to LOG, and all of LOG to stderr when no key came out.
new_api_key() {
  local key
  key=$("$1" keys create --role "$3" --name "e2e $3" --db "$2" 2>>"$4" | tail -n 1)
  if [ -z "$key" ]; then
    echo "could not create a $3 key" >&2
    cat "$4" >&2
    return 1
  fi
  echo "$key"
}

# browser_test_recur NAME RECUR: the recur binary's full path, once it, Debian's chromium and
# puppeteer-core are found (the browser tests' prerequisites); else says what is missing.
browser_test_recur() {
  local name=$1 recur
  recur=$(realpath "$2")
  [ -x "$recur" ] || { echo "$name: no recur binary at $recur (build it first)" >&2; return 1; }
  [ -x /usr/bin/chromium ] || { echo "$name: /usr/bin/chromium not found (run scripts/install-deps.sh)" >&2; return 1; }
  [ -e node_modules/puppeteer-core ] ||
    { echo "$name: node_modules/puppeteer-core not found (run scripts/install-deps.sh)" >&2; return 1; }
  echo "$recur"
}

# start_recur RECUR DB PORT LOG [SERVE OPTIONS...]: starts `recur serve` on DB at
# 127.0.0.1:PORT as a job (see start_job) and waits until it answers (30 s at most).
# --tick 86400: the tests read subscriptions as of now; a scheduler run in the middle of a
# test would bill (and, for customers without a card, dun) behind its back.
start_recur() {
  local recur=$1 db=$2 port=$3 log=$4
  shift 4
  start_job "$log" "$recur" serve --db "$db" --listen "127.0.0.1:$port" --spec api/openapi.yaml --tick 86400 "$@"
  "$python" "$wait_for" http "http://127.0.0.1:$port/healthz" "${pids[-1]}" 30
}

# start_smtp: a real SMTP server (aiosmtpd) as a job, delivering into $tmp/maildir; sets
# smtp_port and waits until it listens (30 s at most). Requires: scratch_dir.
start_smtp() {
  smtp_port=$(free_port)
  start_job "$tmp/smtp.log" "$python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$tmp/maildir"
  "$python" "$wait_for" tcp "127.0.0.1:$smtp_port" "${pids[-1]}" 30 || { cat "$tmp/smtp.log" >&2; return 1; }
}

# scratch_dir NAME: makes the temporary folder $tmp (/tmp/recur-NAME.*) and arranges that on
# exit every job is stopped and $tmp removed; on a failure the last lines of
# $tmp/server.log go to stderr first.
scratch_dir() {
  tmp=$(mktemp -d "/tmp/recur-$1.XXXXXX")
  trap _scratch_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

_scratch_cleanup() {
  local status=$?
  stop_all
  if [ "$status" -ne 0 ] && [ -s "$tmp/server.log" ]; then
    echo "---- last lines of the server log ----" >&2
    tail -n 40 "$tmp/server.log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
