-- wrk script: GET /v1/subscriptions/{id}, a random id per request from the file named by
-- $BENCH_IDS (one id a line), with the API key from $BENCH_API_KEY.
-- The nginx baseline runs this same script (nginx maps every such path to one static file),
-- so both sides pay the same client-side cost.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
wrk.headers["Accept"] = "application/json"

local ids = {}
local f = assert(io.open(assert(os.getenv("BENCH_IDS"), "BENCH_IDS is not set"), "r"))
for line in f:lines() do
  if #line > 0 then ids[#ids + 1] = line end
end
f:close()
assert(#ids > 0, "no ids in " .. os.getenv("BENCH_IDS"))

-- Each wrk thread has its own Lua state: seed each one differently.
math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)

function request()
  return wrk.format(nil, "/v1/subscriptions/" .. ids[math.random(#ids)])
end
