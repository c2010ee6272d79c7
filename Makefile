# Recur: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DB ?= sqlite:var/recur.db
export REDOCLY_TELEMETRY := off

.PHONY: deps build run test test-unit test-sanitize test-tsan fuzz lint-api postman bench clean cluster cluster-down test-failover \
  load soak

deps: .deps.stamp
.deps.stamp: scripts/install-deps.sh package.json
	bash scripts/install-deps.sh
	touch $@

RECUR_WERROR ?= OFF
# Unity build (CMakeLists.txt, RECUR_UNITY): a fresh build in about half the time. A developer
# who rebuilds one file at a time with ccache may prefer `make build RECUR_UNITY=OFF BUILD=...`
# in a build folder of its own (the setting is read when the folder is first configured).
RECUR_UNITY ?= ON

$(BUILD)/build.ninja: CMakeLists.txt | .deps.stamp
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRECUR_WERROR=$(RECUR_WERROR) \
	  -DRECUR_UNITY=$(RECUR_UNITY)

build: .deps.stamp $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	bash scripts/run.sh "$(DB)" "$(LISTEN)"

# Recur on HAProxy, Patroni + etcd (PostgreSQL primary and replica) and Redis, every port on
# 127.0.0.1 (docs/OPERATIONS.md, "A cluster"); its addresses end up in $(CLUSTER_DIR)/cluster.env.
CLUSTER_DIR ?= /tmp/recur-cluster
cluster: build
	CLUSTER_DIR=$(CLUSTER_DIR) bash ops/cluster/up.sh $(BUILD)/recur
cluster-down:
	CLUSTER_DIR=$(CLUSTER_DIR) bash ops/cluster/down.sh

# That cluster (its own, in /tmp/recur-failover) under a steady load of creates while trials end
# and are billed: SIGKILL of the PostgreSQL primary, then of one recur node; prints the seconds
# without writes and the requests failed, then checks nothing acknowledged was lost and nothing
# was charged twice (tests/cluster/failover.py; also a ctest entry of `make test`).
test-failover: build
	/usr/bin/python3 tests/cluster/failover.py $(BUILD)/recur

# Locust (load/locustfile.py) against a cluster of its own in /tmp/recur-load: the saturation
# point for 1 and 3 nodes from stepped loads, as a Markdown table (also in OUT, default
# /tmp/recur-load-results.md); about 6 minutes. Knobs (docs/OPERATIONS.md, "Load tests"):
# make load LOAD_NODE_COUNTS=1 LOAD_STEPS="4 8" LOAD_STEP_SECONDS=10
load: build
	bash load/run.sh $(BUILD)/recur

# One node under a moderate load for SOAK_SECONDS (default 1800): RSS, open fds and PostgreSQL
# connections sampled every 30 s, compared with the warm-up's; fails on growth.
soak: build
	bash load/soak.sh $(BUILD)/recur

# The normal suites, then the unit and SQLite db suites under ASan+UBSan (docs/ARCHITECTURE.md,
# "Sanitizers": about 20 more minutes on a fresh clone on 2 cores), then each fuzzer for 15 s.
# TEST_JOBS ctest entries at once: every suite takes free ports, its own PostgreSQL schema or
# database and temporary folders, so two run side by side (the e2e suites wait on HTTP much of
# the time); measured on 2 cores: 392 s for all 1180 entries against 648 s one at a time.
TEST_JOBS ?= 2
test: build
	cd $(BUILD) && ../scripts/with-postgres.sh ctest --output-on-failure --timeout 1200 -j$(TEST_JOBS)
	$(MAKE) test-sanitize
	$(MAKE) fuzz FUZZ_SECONDS=15

# The libFuzzer harnesses (fuzz/, clang, -fsanitize=fuzzer,address,undefined) built in
# $(FUZZ_BUILD) and run one after the other for FUZZ_SECONDS each; a crash fails and leaves
# its input in $(FUZZ_BUILD)/crashes/ (docs/SECURITY.md, "Fuzzing").
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: .deps.stamp
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh

test-unit: build
	$(BUILD)/recur_unit_tests

# Sanitizer builds live beside the normal one; only the test binaries they run are built,
# at -Og with line tables only (-g1): g++ compiles sanitized code at -Og in 0.6x the time of
# -O1 and the suites run as fast (docs/ARCHITECTURE.md, "Sanitizers").
# Warnings are not errors there: g++ 12 with optimisation warns mismatched-new-delete inside Asio's
# coroutine frames (a false positive); the normal build is the one CI holds to -Werror.
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
TSAN_FILTER ?= *Worker*:*Concurrent*:*Dispatcher*
SANITIZE_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

$(ASAN_BUILD)/build.ninja: CMakeLists.txt | .deps.stamp
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-Og -g1" \
	  -DRECUR_SANITIZE=address,undefined -DRECUR_UNITY=$(RECUR_UNITY)

$(TSAN_BUILD)/build.ninja: CMakeLists.txt | .deps.stamp
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECUR_SANITIZE=thread \
	  -DRECUR_UNITY=$(RECUR_UNITY)

test-sanitize: .deps.stamp $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) --target recur_unit_tests recur_db_tests
	$(SANITIZE_ENV) $(ASAN_BUILD)/recur_unit_tests
	$(SANITIZE_ENV) RECUR_TEST_ENGINE=sqlite $(ASAN_BUILD)/recur_db_tests

# Multi-worker billing runs only on PostgreSQL (SQLite runs one worker), hence both engines.
test-tsan: .deps.stamp $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) --target recur_db_tests
	$(TSAN_ENV) RECUR_TEST_ENGINE=sqlite $(TSAN_BUILD)/recur_db_tests --gtest_filter='$(TSAN_FILTER)'
	cd $(TSAN_BUILD) && $(TSAN_ENV) ../scripts/with-postgres.sh env RECUR_TEST_ENGINE=postgres \
	  ./recur_db_tests --gtest_filter='$(TSAN_FILTER)'

# The spec's lint, and the Postman collection checked against what the spec generates.
lint-api: .deps.stamp
	bash scripts/lint-api.sh
	bash scripts/postman.sh --check

# api/recur.postman_collection.json and api/recur.postman_environment.json from api/openapi.yaml
# (openapi-to-postmanv2, scripts/postman.js); commit them with the spec change.
postman: .deps.stamp
	bash scripts/postman.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) .deps.stamp
