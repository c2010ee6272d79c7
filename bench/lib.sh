# What the benchmarks share (sourced by bench/run.sh, bench/availability.sh, bench/webhooks.sh):
# stopping processes, free ports, waiting for a server, and CPU accounting from /proc (clock
# ticks of a process, of a process and its live children, and of the whole machine).

stop_pid() {  # stop_pid PID [GRACE_S]: SIGTERM, wait up to GRACE_S (15) s, then SIGKILL
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq $(( ${2:-15} * 10 ))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_http() {  # wait_http URL: until it answers (any status), 30 s at most
  local i
  for i in $(seq 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $1 did not come up" >&2; return 1
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

proc_ticks() {  # proc_ticks PID -> $ticks: utime+stime+cutime+cstime (all threads, reaped children)
  local stat f
  ticks=0
  { [ "${1:-0}" -gt 0 ] && read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) }  # the fields after the command name: field 14 (utime) is the 12th here
  read -r -a f <<<"$stat"
  ticks=$(( f[11] + f[12] + f[13] + f[14] ))
}

tree_ticks() {  # tree_ticks PID -> $tree: the process and its live children (nginx's workers, backends)
  local total kids k file
  proc_ticks "${1:-0}"; total=$ticks
  for file in /proc/"${1:-0}"/task/*/children; do
    [ -r "$file" ] || continue
    read -r -a kids <"$file" || true
    for k in "${kids[@]}"; do proc_ticks "$k"; total=$(( total + ticks )); done
  done
  tree=$total
}

machine_ticks() {  # -> $m_total $m_idle (all CPUs)
  local f
  read -r -a f </proc/stat
  m_total=$(( f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7] + f[8] ))
  m_idle=$(( f[4] + f[5] ))
}

# static_json_nginx DIR BODY PREFIX: nginx's configuration in DIR/nginx.conf serving BODY (a
# static JSON file) for every path under PREFIX, on a free port: sets nginx_port. The
# baseline of the benchmarks that GET one JSON answer (run.sh, availability.sh, sqlite.sh);
# start it with `nginx -p DIR -c DIR/nginx.conf -e DIR/error.log`.
static_json_nginx() {
  local dir=$1 body=$2 prefix=$3
  mkdir -p "$dir/www"
  printf '%s' "$body" >"$dir/www/answer.json"
  chmod -R a+rX "$dir"
  nginx_port=$(free_port)
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:$nginx_port;
    root $dir/www;
    location $prefix { try_files /answer.json =404; }
  }
}
CONF
}
