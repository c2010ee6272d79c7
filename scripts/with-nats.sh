#!/usr/bin/env bash
# Runs a command beside a throw-away NATS server with JetStream: store in a temp dir, a free
# loopback port, export RECUR_TEST_NATS_URL, run, tear down.
# Usage: scripts/with-nats.sh COMMAND [ARGS...]
set -euo pipefail

command -v nats-server >/dev/null || { echo "with-nats: nats-server not found (run scripts/install-deps.sh)" >&2; exit 1; }

dir=$(mktemp -d /tmp/recur-nats.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

nats-server -js -sd "$dir/store" -a 127.0.0.1 -p "$port" -l "$dir/server.log" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Ready when it answers PING with PONG (bounded: 10 s).
python3 - "$port" <<'PY' || { cat "$dir/server.log" >&2; exit 1; }
import socket, sys, time
deadline = time.time() + 10
while time.time() < deadline:
    try:
        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1) as s:
            s.recv(4096)  # INFO
            s.sendall(b"CONNECT {}\r\nPING\r\n")
            if b"PONG" in s.recv(4096):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
PY

export RECUR_TEST_NATS_URL="nats://127.0.0.1:$port"
echo "with-nats: NATS JetStream on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
status=$?
set -e
exit $status
