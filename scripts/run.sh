#!/usr/bin/env bash
# `make run`: migrate the embedded database, load the demo catalogue, create an admin key
# on first start, and serve. Usage: scripts/run.sh DB_URL HOST:PORT
set -euo pipefail
cd "$(dirname "$0")/.."
db=${1:-sqlite:var/recur.db}
listen=${2:-127.0.0.1:8080}
mkdir -p var
recur=build/recur

"$recur" migrate --db "$db" >/dev/null
"$recur" demo --db "$db"
keyfile=var/admin-key.txt
if [ ! -s "$keyfile" ]; then
  (umask 077; "$recur" keys create --role admin --name "make run" --db "$db" 2>/dev/null | tail -n 1 > "$keyfile")
  fresh="created on this first start"
else
  fresh="created on first start, kept in $keyfile"
fi
key=$(cat "$keyfile")
cat <<MSG

  Recur is starting on http://$listen  (database: $db)
  Plain HTTP, no TLS: for this machine only (others: serve --tls-cert/--tls-key).
  Admin API key ($fresh):
      $key
  Try it:
      curl -H "Authorization: Bearer $key" http://$listen/v1/subscriptions
  API docs: http://$listen/docs     Analytics dashboard: http://$listen/dashboard     Stop: Ctrl-C

MSG
# Payment links in e-mails go to Recur's own hosted invoice page (decision 0023).
exec "$recur" serve --db "$db" --listen "$listen" --payment-update-url "${RECUR_UPDATE_PAYMENT_URL:-http://$listen/i#}"
