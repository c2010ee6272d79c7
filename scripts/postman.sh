#!/usr/bin/env bash
# The Postman collection and environment generated from api/openapi.yaml (scripts/postman.js,
# openapi-to-postmanv2 pinned in package.json).
#   scripts/postman.sh           writes api/recur.postman_collection.json and
#                                api/recur.postman_environment.json (`make postman`)
#   scripts/postman.sh --check   regenerates them into a temporary directory and diffs them
#                                against the committed files: fails when they are out of step
#                                with the spec (ctest postman_collection)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

files=(recur.postman_collection.json recur.postman_environment.json)

case "${1:-}" in
  "")
    exec node scripts/postman.js api
    ;;
  --check)
    tmp=$(mktemp -d /tmp/recur-postman.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    node scripts/postman.js "$tmp" >/dev/null
    stale=0
    for f in "${files[@]}"; do
      if [ ! -f "api/$f" ]; then
        echo "postman: api/$f is missing" >&2
        stale=1
      elif ! cmp -s "api/$f" "$tmp/$f"; then
        echo "postman: api/$f differs from what api/openapi.yaml generates (first lines of the diff):" >&2
        diff -u --label "api/$f (committed)" --label "api/$f (generated)" "api/$f" "$tmp/$f" | head -n 60 >&2 || true
        stale=1
      fi
    done
    if ((stale)); then
      echo "postman: run \`make postman\` and commit the result" >&2
      exit 1
    fi
    echo "postman: api/${files[0]} and api/${files[1]} are in step with api/openapi.yaml"
    ;;
  *)
    echo "usage: scripts/postman.sh [--check]" >&2
    exit 2
    ;;
esac
