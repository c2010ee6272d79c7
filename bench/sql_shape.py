#!/usr/bin/env python3
"""The SQL one request sends, for comparing what the server sends (from PostgreSQL's log with
log_statement=all) with a pgbench twin, and for giving the twin the server's parameter values.

  sql_shape.py pgbench FILE...           "VERB table" of each statement of the scripts (in order)
  sql_shape.py log FILE START END        "VERB table" of each statement the server sent for the
                                         request logged between two marker queries (SELECT
                                         'START' ... SELECT 'END')
  sql_shape.py twin FILE START END SCRIPT...
                                         aligns that request's statements with the scripts'
                                         (concatenated) and checks that each twin statement is
                                         the server's text with every $n replaced by a pgbench
                                         expression; prints, NUL-separated, "name=value" for
                                         every :name that stands alone for a $n (the value the
                                         server sent there), for pgbench -D; every difference
                                         on stderr, one per line, and exits 1 if there was one

What is left out of the server's side: connection set-up (SET ...), API-key lookups, and the
transactions of the server's background loops that may fall between the markers on any
pooled connection (the outbox relay, the audit chainer, the notification and billing
dispatchers: they lock with SKIP LOCKED; the webhook fan-out reads webhook_endpoints).
Statements are grouped into transactions per backend (the [pid] of the default
log_line_prefix), so a background transaction on another connection cannot split them.

In a twin: 'NULL', '' and numbers written as literals must equal what the server sent; an
expression built on a variable the scripts compute (\\set, or \\gset's AS name) stands for an
id and must have the server's value's length (those variables are taken to be 19 digits
long, as bench/run.sh makes them); a twin line ending in \\gset is compared without its
RETURNING clause (the twin names the value it keeps). A twin statement after a comment line
"-- optional: ..." is one the server sends only in some states: it is skipped when the server
did not send it.
"""
import re
import sys

# The audit chainer's UPDATEs too: its transaction may have begun (and locked) before the
# start marker, so only its writes fall between the markers (its rows' seq, or only the
# chain's head and COMMIT).
BACKGROUND = ("SKIP LOCKED", "stream_outbox", "webhook_endpoints", "webhook_deliveries", "UPDATE audit_log SET seq",
              "UPDATE audit_chain SET")


def shape(sql):
    words = re.findall(r"[A-Za-z_]+", sql)
    if not words:
        return None
    verb = words[0].upper()
    upper = [w.upper() for w in words]
    for keyword in ("FROM", "INTO", "UPDATE"):
        if keyword in upper[:-1]:
            return f"{verb} {words[upper.index(keyword) + 1]}"
    return verb


def script_lines(paths):
    """The SQL lines of pgbench scripts, whether each is optional (a "-- optional:" comment
    line before it: the server sends it only in some states), and the variables they compute."""
    out, computed, optional = [], {}, False  # computed: name -> length (None: unknown)
    for path in paths:
        for line in open(path):
            line = line.strip()
            if line.startswith("-- optional:"):
                optional = True
            if not line or line.startswith("--"):
                continue
            if line.startswith("\\"):
                m = re.match(r"\\set\s+(\w+)", line)
                if m:
                    computed[m.group(1)] = 19
                continue
            if line.endswith("\\gset"):
                computed.update((name, None) for name in re.findall(r"\bAS\s+(\w+)", line))
            out.append((line, optional))
            optional = False
    return out, computed


def from_pgbench(paths):
    return [shape(line) for line, _ in script_lines(paths)[0]]


def parse_params(text):
    return {int(n): (None if v == "NULL" else v[1:-1].replace("''", "'"))
            for n, v in re.findall(r"\$(\d+) = (NULL|'(?:[^']|'')*')", text)}


def logged(path, start, end):
    """[(sql, {n: value})] the server sent between the markers, background left out."""
    records, inside = [], False
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r".*?\[(\d+)\] (LOG|DETAIL|ERROR):  (.*)", line)
        if not m:
            if records and line.startswith("\t"):  # a continuation line (a multi-line value)
                records[-1][-1] += "\n" + line[1:]
            continue
        pid, kind, text = m.groups()
        if kind == "LOG":
            s = re.match(r"(?:statement|execute [^:]+): (.*)", text)
            if not s:
                continue
            if f"'{start}'" in s.group(1):
                inside = True
                continue
            if f"'{end}'" in s.group(1):
                break
            if inside:
                records.append([pid, s.group(1), ""])
        elif inside and kind == "DETAIL" and text.startswith("parameters: ") and records:
            for r in reversed(records):  # the last statement of that backend
                if r[0] == pid:
                    r[2] = text
                    break
        elif inside and kind == "ERROR":
            records.append([pid, "ERROR: " + text, ""])
    # Transactions per backend, in the order they began.
    open_tx, done = {}, []
    for i, (pid, sql, params) in enumerate(records):
        if sql.startswith("SET ") or "api_keys" in sql:
            continue
        stmt = (sql, parse_params(params))
        if pid in open_tx:
            open_tx[pid][1].append(stmt)
            if re.match(r"(COMMIT|ROLLBACK|END)\b", sql, re.I):
                done.append(open_tx.pop(pid))
        elif re.match(r"(BEGIN|START TRANSACTION)\b", sql, re.I):
            open_tx[pid] = (i, [stmt])
        else:
            done.append((i, [stmt]))
    done += open_tx.values()
    out = []
    for _, tx in sorted(done, key=lambda t: t[0]):
        if not any(b in sql for sql, _ in tx for b in BACKGROUND):
            out += tx
    return out


def from_log(path, start, end):
    return [shape(sql) for sql, _ in logged(path, start, end)]


def match(sql, line):
    """The twin's line as the server's statement, each $n a group: the twin's expression."""
    tw = re.sub(r"\s*(;|\\gset)$", "", line)
    if line.endswith("\\gset"):
        tw = re.sub(r"\s+RETURNING\s.*$", "", tw)
        sql = re.sub(r"\s+RETURNING\s.*$", "", sql)
    pattern, seen = "", set()
    for i, part in enumerate(re.split(r"(\$\d+)", sql)):
        if i % 2 == 0:
            pattern += re.escape(part)
        elif part in seen:
            pattern += f"(?P=p{part[1:]})"
        else:
            seen.add(part)
            pattern += f"(?P<p{part[1:]}>.+?)"
    return re.fullmatch(pattern, tw)


def twin(path, start, end, scripts):
    server = logged(path, start, end)
    lines, computed = script_lines(scripts)
    values, problems = {}, []
    k, t = 0, 0  # the next server statement, the next twin line
    while k < len(server) or t < len(lines):
        if t == len(lines):
            problems.append(f"the server sent {len(server) - k} more statements than the twin has: {shape(server[k][0])}...")
            break
        line, optional = lines[t]
        if k == len(server):
            if not optional:
                problems.append(f"the twin has statements the server did not send, from: {line[:200]}")
                break
            t += 1
            continue
        sql, params = server[k]
        m = match(sql, line)
        if not m and optional:
            t += 1  # the server did not send it this time
            continue
        k, t = k + 1, t + 1
        if not m:
            problems.append(f"statement {k} differs: the server sent: {sql[:200]} -- the twin sends: {line[:200]}")
            continue
        for name, expr in m.groupdict().items():
            n, expr = int(name[1:]), expr.strip()
            sent = params.get(n)
            where = f"statement {k} ({shape(sql)}) ${n}"
            var = re.fullmatch(r":(\w+)", expr)
            if var and var.group(1) in computed:
                continue  # a value the twin computes (\gset): nothing to compare
            if var:
                name = var.group(1)
                if sent is None or sent == "":
                    problems.append(f"{where}: the server sent {'NULL' if sent is None else 'an empty string'}, "
                                    f"which a pgbench variable cannot hold (write it as a literal)")
                elif name in values and values[name] != sent:
                    problems.append(f"{where}: :{name} is {values[name][:40]!r} elsewhere, the server sent {sent[:40]!r} here")
                else:
                    values.setdefault(name, sent)
            elif expr.upper() == "NULL" or sent is None:
                if not (expr.upper() == "NULL" and sent is None):
                    problems.append(f"{where}: the server sent {'NULL' if sent is None else repr(sent[:40])}, the twin {expr[:40]}")
            elif re.fullmatch(r"'(?:[^']|'')*'|-?\d+", expr):
                lit = expr[1:-1].replace("''", "'") if expr.startswith("'") else expr
                if lit != sent:
                    problems.append(f"{where}: the server sent {sent[:40]!r}, the twin the literal {expr[:40]}")
            else:  # an id built from computed variables: compare lengths
                length = 0
                for term in re.split(r"\s*\|\|\s*", expr):
                    if re.fullmatch(r"'(?:[^']|'')*'", term):
                        length += len(term[1:-1].replace("''", "'"))
                    elif re.fullmatch(r"E'(?:[^'\\]|\\x[0-9a-fA-F]{2})*'", term):
                        length += len(re.sub(r"\\x[0-9a-fA-F]{2}", "x", term[2:-1]))
                    elif re.fullmatch(r":\w+", term) and computed.get(term[1:]):
                        length += computed[term[1:]]
                    else:
                        length = None
                        break
                if length is None:
                    problems.append(f"{where}: cannot check the twin's expression {expr[:60]}")
                elif length != len(sent):
                    problems.append(f"{where}: the twin's {expr[:60]} has {length} characters, the server's {sent!r} {len(sent)}")
    for name, value in values.items():
        sys.stdout.write(f"{name}={value}\0")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == "pgbench":
        print("; ".join(from_pgbench(sys.argv[2:])))
    elif sys.argv[1] == "log":
        print("; ".join(from_log(sys.argv[2], sys.argv[3], sys.argv[4])))
    elif sys.argv[1] == "twin":
        sys.exit(twin(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
    else:
        sys.exit(__doc__)
