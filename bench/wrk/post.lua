-- wrk script: POST /v1/subscriptions {customer, plan, quantity} for the fixtures that
-- bench/run.sh created through the API ($BENCH_CUSTOMER, $BENCH_PLAN, $BENCH_API_KEY).
-- No Idempotency-Key: that path adds its own transactions and is not what is measured here.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/v1/subscriptions"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = string.format('{"customer":"%s","plan":"%s","quantity":1}',
                         assert(os.getenv("BENCH_CUSTOMER"), "BENCH_CUSTOMER is not set"),
                         assert(os.getenv("BENCH_PLAN"), "BENCH_PLAN is not set"))
