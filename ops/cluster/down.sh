#!/usr/bin/env bash
# `make cluster-down`: stops what ops/cluster/up.sh started (newest first: the nodes before the
# database they use) and removes its folder.
set -uo pipefail
CLUSTER_DIR=${CLUSTER_DIR:-/tmp/recur-cluster}
[ -d "$CLUSTER_DIR" ] || { echo "cluster: nothing in $CLUSTER_DIR"; exit 0; }
if [ -f "$CLUSTER_DIR/pids" ]; then
  for pid in $(tac "$CLUSTER_DIR/pids"); do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 40; i++)); do
    alive=0
    for pid in $(cat "$CLUSTER_DIR/pids"); do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in $(cat "$CLUSTER_DIR/pids"); do kill -KILL "$pid" 2>/dev/null; done
fi
# Patroni runs under runuser, and PostgreSQL under Patroni: whatever still holds the folder.
pkill -KILL -f "patroni $CLUSTER_DIR/" 2>/dev/null
for data in "$CLUSTER_DIR"/pg*/data; do
  [ -f "$data/postmaster.pid" ] && kill -KILL "$(head -1 "$data/postmaster.pid")" 2>/dev/null
done
sleep 0.5
rm -rf "$CLUSTER_DIR"
echo "cluster: down"
