# Recur: `make run` to try it, `make test` to check it. See README.md.
SHELL := /bin/bash
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
LISTEN ?= 127.0.0.1:8080
DB ?= sqlite:var/recur.db
export REDOCLY_TELEMETRY := off

.PHONY: deps build run test test-unit lint-api bench clean

deps: .deps.stamp
.deps.stamp: scripts/install-deps.sh package.json
	bash scripts/install-deps.sh
	touch $@

RECUR_WERROR ?= OFF

$(BUILD)/build.ninja: CMakeLists.txt | .deps.stamp
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRECUR_WERROR=$(RECUR_WERROR)

build: .deps.stamp $(BUILD)/build.ninja
	cmake --build $(BUILD)

run: build
	bash scripts/run.sh "$(DB)" "$(LISTEN)"

test: build
	cd $(BUILD) && ../scripts/with-postgres.sh ctest --output-on-failure --timeout 1200

test-unit: build
	$(BUILD)/recur_unit_tests

lint-api: .deps.stamp
	bash scripts/lint-api.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD) .deps.stamp
