# Sourced by load/run.sh and load/soak.sh after they set WHAT ("load", "soak"), RECUR and
# CLUSTER_DIR: the checks before a run, the teardown on exit (Locust, then the cluster), and
# cluster_var NAME (a value of $CLUSTER_DIR/cluster.env).
LOCUST=/usr/bin/locust  # Debian's python3-locust 2.12.1 (a pyenv python3 on PATH has no locust)
[ -x "$RECUR" ] || { echo "$WHAT: no recur binary at $RECUR (make build first)" >&2; exit 1; }
[ -x "$LOCUST" ] || { echo "$WHAT: $LOCUST is missing (apt-get install python3-locust)" >&2; exit 1; }
if [ -e "$CLUSTER_DIR/cluster.env" ]; then
  echo "$WHAT: a cluster is already up in $CLUSTER_DIR (another run?); stop it with" \
       "CLUSTER_DIR=$CLUSTER_DIR bash ops/cluster/down.sh" >&2
  exit 1
fi

LOCUST_PID=""
CLUSTER_UP=0
# shellcheck disable=SC2317  # run by the trap
cleanup() {
  if [ -n "$LOCUST_PID" ]; then kill -TERM "$LOCUST_PID" 2>/dev/null || true; fi
  if ((CLUSTER_UP)); then CLUSTER_DIR=$CLUSTER_DIR bash ops/cluster/down.sh > /dev/null 2>&1 || true; fi
  CLUSTER_UP=0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cluster_var() { sed -n "s/^$1=//p" "$CLUSTER_DIR/cluster.env" | tr -d '"'; }

# Brings up a cluster of NODES nodes (its log in LOG) and sets API_URL, DB_URL, KEY (an admin
# key) and NODE_PIDS (the recur nodes ops/cluster/up.sh started, from its pids file).
start_cluster() {  # NODES LOG
  CLUSTER_UP=1
  if ! RECUR_NODES=$1 CLUSTER_DIR=$CLUSTER_DIR bash ops/cluster/up.sh "$RECUR" > "$2" 2>&1; then
    echo "$WHAT: the cluster did not come up; its log:" >&2
    tail -20 "$2" >&2
    exit 1
  fi
  API_URL=$(cluster_var API_URL)
  DB_URL=$(cluster_var DB_URL)
  KEY=$("$RECUR" keys create --role admin --db "$DB_URL" --master-key-file "$(cluster_var MASTER_KEY_FILE)" \
    2>> "$2" | tail -1)
  NODE_PIDS=()
  local port pid
  for port in $(cluster_var NODE_PORTS); do
    for pid in $(pgrep -f -- "--listen 127.0.0.1:$port " || true); do
      grep -qx "$pid" "$CLUSTER_DIR/pids" && NODE_PIDS+=("$pid")
    done
  done
  ((${#NODE_PIDS[@]})) || { echo "$WHAT: no recur node of $CLUSTER_DIR found running" >&2; exit 1; }
}
