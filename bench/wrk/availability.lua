-- wrk script: GET /v1/products/{id}/availability?quantity=N with the API key from
-- $BENCH_API_KEY. The product ids come from the file named by $BENCH_PRODUCTS (one a line);
-- wrk thread i asks about product i (mod the count), always the same URL, so wrk sends a
-- request it built once (no request() function: the cheapest client wrk has). The nginx
-- baseline runs this same script (nginx maps every such path to one static file), so both
-- sides pay the same client-side cost.
dofile((os.getenv("BENCH_LUA_DIR") or "bench/wrk") .. "/report.lua")

local products = {}
local f = assert(io.open(assert(os.getenv("BENCH_PRODUCTS"), "BENCH_PRODUCTS is not set"), "r"))
for line in f:lines() do
  if #line > 0 then products[#products + 1] = line end
end
f:close()
assert(#products > 0, "no product ids in " .. os.getenv("BENCH_PRODUCTS"))

local next_thread = 0
function setup(thread)  -- runs in the main Lua state, once per thread, before init()
  thread:set("product", products[next_thread % #products + 1])
  next_thread = next_thread + 1
end

function init(args)
  wrk.method = "GET"
  wrk.path = "/v1/products/" .. product .. "/availability?quantity=" .. (os.getenv("BENCH_QUANTITY") or "2")
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or "")
  wrk.headers["Accept"] = "application/json"
end
