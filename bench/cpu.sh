# CPU accounting from /proc shared by the benchmarks (sourced by bench/run.sh,
# bench/availability.sh, bench/webhooks.sh): clock ticks of a process, of a process and its
# live children, and of the whole machine.

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
