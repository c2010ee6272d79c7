#!/usr/bin/env bash
# `make cluster`: Recur on proven parts, all from Debian packages, on 127.0.0.1 ports
# (docs/OPERATIONS.md, "A cluster"):
#   etcd (Patroni's store) -> 2 PostgreSQL nodes managed by Patroni (a primary and a streaming
#   replica, automatic failover) -> HAProxy's PostgreSQL fronts (the primary, by Patroni's
#   /primary check; the replica, by /replica, for the reads that may lag) -> 3 `recur serve` nodes (Redis for shared caches and rate limits)
#   -> HAProxy's API front (health checks on /readyz).
# Every port is picked free and written to $CLUSTER_DIR/cluster.env; `make cluster-down`
# (ops/cluster/down.sh) stops everything and removes the folder.
#
# Usage: ops/cluster/up.sh [PATH/TO/recur]     (default: build/recur)
# Env:   CLUSTER_DIR (default /tmp/recur-cluster), RECUR_NODES (default 3),
#        RECUR_NODE_FLAGS (extra flags for every node, e.g. "--modules api")
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
RECUR=$(realpath "${1:-build/recur}")
CLUSTER_DIR=${CLUSTER_DIR:-/tmp/recur-cluster}
NODES=${RECUR_NODES:-3}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

[ -x "$RECUR" ] || { echo "cluster: no recur binary at $RECUR (make build first)" >&2; exit 1; }
for tool in etcd patroni haproxy redis-server "$PG_BIN/initdb"; do
  command -v "$tool" >/dev/null || { echo "cluster: $tool is missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done
if [ -e "$CLUSTER_DIR/cluster.env" ]; then
  echo "cluster: one is already up in $CLUSTER_DIR (make cluster-down first)" >&2
  exit 1
fi
mkdir -p "$CLUSTER_DIR"
chmod 755 "$CLUSTER_DIR"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {  # URL, seconds, what
  local deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || { echo "cluster: $3 did not come up ($1); logs in $CLUSTER_DIR" >&2; exit 1; }
    sleep 0.5
  done
}
started() { echo "$1" >> "$CLUSTER_DIR/pids"; }

ETCD_CLIENT=$(free_port); ETCD_PEER=$(free_port)
PG1=$(free_port); PG2=$(free_port); PATRONI1=$(free_port); PATRONI2=$(free_port)
PG_FRONT=$(free_port); PG_REPLICA_FRONT=$(free_port); API_FRONT=$(free_port); HAPROXY_STATS=$(free_port); REDIS=$(free_port)
NODE_PORTS=(); METRICS_PORTS=()
for ((i = 1; i <= NODES; i++)); do NODE_PORTS+=("$(free_port)"); METRICS_PORTS+=("$(free_port)"); done
SUPER_PASSWORD=$(openssl rand -hex 16)
REPL_PASSWORD=$(openssl rand -hex 16)
APP_PASSWORD=$(openssl rand -hex 16)

# --- etcd: one member, v2 API on (Debian's Patroni speaks etcd's v2 API through python3-etcd).
etcd --name etcd1 --data-dir "$CLUSTER_DIR/etcd" --enable-v2=true \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "etcd1=http://127.0.0.1:$ETCD_PEER" > "$CLUSTER_DIR/etcd.log" 2>&1 &
started $!
wait_http "http://127.0.0.1:$ETCD_CLIENT/health" 30 etcd

# --- Patroni: two PostgreSQL nodes. initdb and postgres refuse root: they run as postgres.
patroni_config() {  # NAME PG_PORT REST_PORT
  cat <<EOF
scope: recur
name: $1
restapi:
  listen: 127.0.0.1:$3
  connect_address: 127.0.0.1:$3
etcd:
  host: 127.0.0.1:$ETCD_CLIENT
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged once the synchronous standby has it, and Patroni promotes only
    # that standby: a primary's loss loses no acknowledged write (docs/OPERATIONS.md, "A
    # cluster"). Not strict: with the standby gone the primary goes on alone rather than stop.
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        # Reports and lists read on the replica are not cancelled by the primary's vacuum.
        hot_standby_feedback: "on"
        max_wal_senders: 5
        max_replication_slots: 5
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - data-checksums
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 md5
    - host all all 127.0.0.1/32 md5
postgresql:
  listen: 127.0.0.1:$2
  connect_address: 127.0.0.1:$2
  data_dir: $CLUSTER_DIR/$1/data
  bin_dir: $PG_BIN
  pgpass: $CLUSTER_DIR/$1/pgpass
  authentication:
    superuser:
      username: postgres
      password: $SUPER_PASSWORD
    replication:
      username: replicator
      password: $REPL_PASSWORD
  parameters:
    unix_socket_directories: $CLUSTER_DIR/$1
tags:
  nofailover: false
  noloadbalance: false
EOF
}
for node in "pg1 $PG1 $PATRONI1" "pg2 $PG2 $PATRONI2"; do
  set -- $node
  mkdir -p "$CLUSTER_DIR/$1"
  patroni_config "$1" "$2" "$3" > "$CLUSTER_DIR/$1.yml"
  chown -R postgres:postgres "$CLUSTER_DIR/$1" "$CLUSTER_DIR/$1.yml"
  chmod 700 "$CLUSTER_DIR/$1"
  runuser -u postgres -- patroni "$CLUSTER_DIR/$1.yml" > "$CLUSTER_DIR/$1.log" 2>&1 &
  started $!
  # The first node bootstraps the cluster; the second clones it once a leader exists.
  [ "$1" = pg1 ] && wait_http "http://127.0.0.1:$PATRONI1/primary" 90 "the PostgreSQL primary (Patroni pg1)"
done
wait_http "http://127.0.0.1:$PATRONI2/replica" 120 "the PostgreSQL replica (Patroni pg2)"

# --- Redis: the caches' invalidation bus and the shared rate limits.
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no > "$CLUSTER_DIR/redis.log" 2>&1 &
started $!

# --- HAProxy: PostgreSQL's primary and replica (whichever Patroni says) and the API over the nodes.
postgres_front() {  # NAME PORT PATRONI-CHECK
  cat <<EOF
listen $1
  mode tcp
  bind 127.0.0.1:$2
  option httpchk GET $3
  http-check expect status 200
  default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
  server pg1 127.0.0.1:$PG1 check port $PATRONI1
  server pg2 127.0.0.1:$PG2 check port $PATRONI2
EOF
}
{
  cat <<EOF
global
  maxconn 4096
defaults
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout check 2s
listen stats
  mode http
  bind 127.0.0.1:$HAPROXY_STATS
  stats enable
  stats uri /
EOF
  postgres_front postgres_primary "$PG_FRONT" /primary
  postgres_front postgres_replica "$PG_REPLICA_FRONT" /replica
  cat <<EOF
listen recur_api
  mode http
  bind 127.0.0.1:$API_FRONT
  option httpchk GET /readyz
  http-check expect status 200
  option redispatch
  retries 2
  default-server inter 1s fall 2 rise 2
EOF
  for ((i = 0; i < NODES; i++)); do echo "  server recur$((i + 1)) 127.0.0.1:${NODE_PORTS[$i]} check port ${METRICS_PORTS[$i]}"; done
} > "$CLUSTER_DIR/haproxy.cfg"
haproxy -c -f "$CLUSTER_DIR/haproxy.cfg" > /dev/null
haproxy -f "$CLUSTER_DIR/haproxy.cfg" -db > "$CLUSTER_DIR/haproxy.log" 2>&1 &
started $!

# --- Recur's database and role, made on the primary through HAProxy.
PSQL=("$PG_BIN/psql" "postgresql://postgres:$SUPER_PASSWORD@127.0.0.1:$PG_FRONT/postgres" -v ON_ERROR_STOP=1 -qtA)
# Until HAProxy's primary front reaches the primary: right after the start it may still pass
# connections to the replica, which is read-only.
for ((try = 0; try < 120; try++)); do
  [ "$("${PSQL[@]}" -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ] && break
  sleep 0.5
done
"${PSQL[@]}" -c "CREATE ROLE recur LOGIN PASSWORD '$APP_PASSWORD'" -c "CREATE DATABASE recur OWNER recur" \
  -c "GRANT pg_monitor TO recur"
DB_URL="postgresql://recur:$APP_PASSWORD@127.0.0.1:$PG_FRONT/recur"
# The streaming replica, for the reads that may lag (--db-replica): whichever node Patroni
# calls a replica; none after a failover until the old primary rejoins, and then the nodes
# read everything from the primary.
REPLICA_URL="postgresql://recur:$APP_PASSWORD@127.0.0.1:$PG_REPLICA_FRONT/recur?connect_timeout=2"

# --- The nodes: the first migrates, the others start once it serves.
# The URLs carry a password: through the environment, not the command line (ps shows that).
export RECUR_DB="$DB_URL" RECUR_DB_REPLICA="$REPLICA_URL"
"$RECUR" migrate --master-key-file "$CLUSTER_DIR/master.key" > "$CLUSTER_DIR/migrate.log" 2>&1
for ((i = 0; i < NODES; i++)); do
  # shellcheck disable=SC2086
  "$RECUR" serve --master-key-file "$CLUSTER_DIR/master.key" --listen "127.0.0.1:${NODE_PORTS[$i]}" \
    --metrics-listen "127.0.0.1:${METRICS_PORTS[$i]}" --redis-url "redis://127.0.0.1:$REDIS" --drain-seconds 3 \
    --workers 8 --tick 5 --no-access-log --docs-dir "$ROOT/node_modules/swagger-ui-dist" --spec "$ROOT/api/openapi.yaml" \
    ${RECUR_NODE_FLAGS:-} > "$CLUSTER_DIR/recur$((i + 1)).log" 2>&1 &
  started $!
done
for ((i = 0; i < NODES; i++)); do wait_http "http://127.0.0.1:${METRICS_PORTS[$i]}/readyz" 60 "recur node $((i + 1))"; done
wait_http "http://127.0.0.1:$API_FRONT/readyz" 30 "HAProxy's API front"

cat > "$CLUSTER_DIR/cluster.env" <<EOF
CLUSTER_DIR=$CLUSTER_DIR
API_URL=http://127.0.0.1:$API_FRONT
DB_URL=$DB_URL
PG_FRONT=$PG_FRONT
PG_REPLICA_FRONT=$PG_REPLICA_FRONT
REPLICA_URL=$REPLICA_URL
PG_BIN=$PG_BIN
PATRONI1=$PATRONI1
PATRONI2=$PATRONI2
PG1=$PG1
PG2=$PG2
ETCD_CLIENT=$ETCD_CLIENT
REDIS=$REDIS
HAPROXY_STATS=$HAPROXY_STATS
NODE_PORTS="${NODE_PORTS[*]}"
METRICS_PORTS="${METRICS_PORTS[*]}"
MASTER_KEY_FILE=$CLUSTER_DIR/master.key
RECUR=$RECUR
EOF
echo "cluster: up. API at http://127.0.0.1:$API_FRONT (HAProxy over $NODES nodes), PostgreSQL primary at" \
     "127.0.0.1:$PG_FRONT (Patroni pg1/pg2), HAProxy stats at http://127.0.0.1:$HAPROXY_STATS/;" \
     "everything in $CLUSTER_DIR/cluster.env. Stop with: make cluster-down"
