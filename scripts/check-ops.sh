#!/usr/bin/env bash
# Checks the monitoring files under ops/: the alerting rules (syntax and their promtool unit
# tests), the example Prometheus config, and the Grafana dashboard (valid JSON), and that
# every metric name the rules and the dashboard use is one recur exposes
# (ops/prometheus/metrics.txt). Exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

promtool=${PROMTOOL:-promtool}
if ! command -v "$promtool" >/dev/null 2>&1; then
  echo "check-ops: promtool not found (Debian package prometheus, or set PROMTOOL)" >&2
  exit 2
fi

failed=()
# Runs every check even after a failure, so one run reports everything.
step() {
  local what=$1
  shift
  if ! "$@"; then
    echo "check-ops: FAILED: $what" >&2
    failed+=("$what")
  fi
}

step "promtool check rules ops/prometheus/alerts.yml" "$promtool" check rules ops/prometheus/alerts.yml
step "promtool test rules ops/prometheus/alerts_test.yml" "$promtool" test rules ops/prometheus/alerts_test.yml
step "promtool check config ops/prometheus/prometheus.yml" "$promtool" check config ops/prometheus/prometheus.yml
step "metric names and dashboard (ops/prometheus/metrics.txt)" /usr/bin/python3 - <<'PY'
import json, re, sys

METRICS_FILE = "ops/prometheus/metrics.txt"
RULES_FILE = "ops/prometheus/alerts.yml"
DASHBOARD_FILE = "ops/grafana/recur-dashboard.json"

# Series Prometheus itself attaches to every target or writes for alerts.
BUILTINS = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling", "scrape_series_added",
            "ALERTS", "ALERTS_FOR_STATE"}
SUFFIXES = ("_bucket", "_sum", "_count")  # histogram series of a family
KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
            "group_left", "group_right", "inf", "nan", "start", "end"}

errors = []

known = set()
with open(METRICS_FILE) as f:
    for n, line in enumerate(f, 1):
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
            errors.append(f"{METRICS_FILE}:{n}: not a metric name: {name!r}")
        known.add(name)
if not known:
    errors.append(f"{METRICS_FILE}: no metric names")


def metric_names(expr):
    """Metric names an expression selects: strings, label matchers, ranges, grouping
    label lists, Grafana variables, numbers and durations, function calls and keywords
    are left out."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^{}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\$\{[^}]*\}|\$\w+", " ", s)
    names = []
    for m in re.finditer(r"(?<![\w.:$])[a-zA-Z_:][a-zA-Z0-9_:]*", s):
        word = m.group(0)
        if word.lower() in KEYWORDS:
            continue
        if s[m.end():].lstrip().startswith("("):  # a function call
            continue
        names.append(word)
    return names


def is_known(name):
    if name in known or name in BUILTINS:
        return True
    return any(name.endswith(sfx) and name[: -len(sfx)] in known for sfx in SUFFIXES)


def check_expr(where, expr):
    if not expr.strip():
        errors.append(f"{where}: empty expression")
        return
    names = metric_names(expr)
    if not names:
        errors.append(f"{where}: no metric name found in {expr!r}")
    for name in names:
        if not is_known(name):
            errors.append(f"{where}: unknown metric {name!r} (not in {METRICS_FILE})")


# alerts.yml without a YAML library: each `expr:`, inline or a block scalar.
with open(RULES_FILE) as f:
    lines = f.read().split("\n")
exprs, alerts = [], []
i = 0
while i < len(lines):
    line = lines[i]
    m = re.match(r"^(\s*)(?:-\s+)?(alert|record|expr|runbook_url):\s*(.*?)\s*$", line)
    i += 1
    if not m:
        continue
    indent, key, rest = len(m.group(1)), m.group(2), m.group(3)
    if key in ("alert", "record"):
        alerts.append((rest.strip("'\""), i))
        continue
    if key == "runbook_url":
        if alerts:
            name = alerts[-1][0]
            want = "docs/OPERATIONS.md#" + name.lower()
            if rest.strip("'\"") != want:
                errors.append(f"{RULES_FILE}:{i}: runbook_url of {name} is {rest}, expected {want}")
        continue
    start = i
    if rest[:1] in ("|", ">"):
        block = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        rest = "\n".join(block)
    elif rest[:1] in ("'", '"'):
        rest = rest[1:-1]
    exprs.append((f"{RULES_FILE}:{start}", rest))
if not exprs:
    errors.append(f"{RULES_FILE}: no expr found")
if len(exprs) != len(alerts):
    errors.append(f"{RULES_FILE}: {len(alerts)} rules but {len(exprs)} exprs (parser out of step)")
for where, expr in exprs:
    check_expr(where, expr)

# The dashboard: valid JSON, every query's metric names known.
try:
    with open(DASHBOARD_FILE) as f:
        dash = json.load(f)
except (OSError, ValueError) as e:
    errors.append(f"{DASHBOARD_FILE}: not valid JSON: {e}")
    dash = None

if dash is not None:
    panels = []

    def walk(ps):
        for p in ps:
            panels.append(p)
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    ids = [p.get("id") for p in panels]
    dup = sorted({x for x in ids if ids.count(x) > 1}, key=str)
    if dup:
        errors.append(f"{DASHBOARD_FILE}: duplicate panel ids {dup}")
    n_exprs = 0
    for p in panels:
        if p.get("type") == "row":
            continue
        where = f"{DASHBOARD_FILE}: panel {p.get('title')!r}"
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{where}: no targets")
        for t in targets:
            if "expr" not in t:
                errors.append(f"{where}: target {t.get('refId')} without expr")
                continue
            n_exprs += 1
            check_expr(f"{where} {t.get('refId')}", t["expr"])
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        if isinstance(q, dict):
            q = q.get("query")
        if v.get("type") != "query" or not q:
            continue
        where = f"{DASHBOARD_FILE}: variable {v.get('name')!r}"
        m = re.fullmatch(r"\s*(label_values|query_result)\((.*)\)\s*", q, re.S)
        if not m:
            errors.append(f"{where}: query {q!r} not understood")
            continue
        arg = m.group(2)
        if m.group(1) == "label_values":
            if "," not in arg:
                continue  # label_values(label): no metric
            arg = arg.rsplit(",", 1)[0]
        check_expr(where, arg)
    if n_exprs == 0:
        errors.append(f"{DASHBOARD_FILE}: no panel expressions")

for e in errors:
    print("check-ops: " + e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"check-ops: {len(exprs)} rule expressions and the dashboard's queries use only known metrics")
PY

if ((${#failed[@]})); then
  echo "check-ops: ${#failed[@]} check(s) failed:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "check-ops: OK"
