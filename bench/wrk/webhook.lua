-- wrk script: the ceiling of bench/webhooks.sh. POSTs what recur's deliverer POSTs to the
-- receiver (nginx, `return 200`): a body of the same size ($BENCH_WEBHOOK_BODY, a file) with
-- the same Standard Webhooks headers (a signature of the same length), to /ceiling/.
-- $BENCH_WEBHOOK_CLOSE=1 adds "Connection: close": a new TCP connection per request, as a
-- sender without keep-alive makes.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

local f = assert(io.open(assert(os.getenv("BENCH_WEBHOOK_BODY"), "BENCH_WEBHOOK_BODY is not set"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.path = "/ceiling/"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "*/*"
wrk.headers["webhook-id"] = "evt_ceiling0000000000000000000"
wrk.headers["webhook-timestamp"] = tostring(os.time())
wrk.headers["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
wrk.headers["user-agent"] = "Recur-Webhooks/1"
if os.getenv("BENCH_WEBHOOK_CLOSE") == "1" then wrk.headers["Connection"] = "close" end
