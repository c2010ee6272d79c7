-- wrk script: POST /v1/subscriptions {customer, plan, quantity} for the fixtures that
-- bench/run.sh created through the API ($BENCH_CUSTOMER, $BENCH_PLAN, $BENCH_API_KEY);
-- with $BENCH_BEHAVIOR, a checkout (the customer has a sandbox card).
-- No Idempotency-Key: that path adds its own transactions and is not what is measured here.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/v1/subscriptions"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
-- BENCH_BEHAVIOR (e.g. allow_incomplete): checkout, the first invoice charged in the request.
local behavior = os.getenv("BENCH_BEHAVIOR") or ""
wrk.body = string.format('{"customer":"%s","plan":"%s","quantity":1%s}',
                         assert(os.getenv("BENCH_CUSTOMER"), "BENCH_CUSTOMER is not set"),
                         assert(os.getenv("BENCH_PLAN"), "BENCH_PLAN is not set"),
                         behavior ~= "" and string.format(',"payment_behavior":"%s"', behavior) or "")
