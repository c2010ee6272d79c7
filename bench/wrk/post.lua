-- wrk script: POST /v1/subscriptions {customer, plan, quantity} for the fixtures that
-- bench/run.sh created through the API ($BENCH_CUSTOMER, $BENCH_PLAN, $BENCH_API_KEY);
-- $BENCH_BEHAVIOR names its payment_behavior: unset, default_incomplete (the create alone: the
-- subscription, its first invoice and box, nothing charged, the SQL the pgbench twin sends);
-- allow_incomplete, a checkout (the customer has a sandbox card).
-- No Idempotency-Key: that path adds its own transactions and is not what is measured here.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

wrk.method = "POST"
wrk.path = "/v1/subscriptions"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
local behavior = os.getenv("BENCH_BEHAVIOR") or ""
if behavior == "" then behavior = "default_incomplete" end
wrk.body = string.format('{"customer":"%s","plan":"%s","quantity":1,"payment_behavior":"%s"}',
                         assert(os.getenv("BENCH_CUSTOMER"), "BENCH_CUSTOMER is not set"),
                         assert(os.getenv("BENCH_PLAN"), "BENCH_PLAN is not set"), behavior)
