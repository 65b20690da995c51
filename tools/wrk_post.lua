-- wrk_post.lua - POST one fixed JSON body on every request (tools/bench_http.sh).
-- The body is read once from the file named by the WRK_BODY environment
-- variable, or by the first script argument: wrk ... -s tools/wrk_post.lua URL -- FILE
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local function load(path)
  local f = assert(io.open(path, "rb"), "wrk_post.lua: cannot open " .. tostring(path))
  local body = f:read("*a")
  f:close()
  return body
end

local env_path = os.getenv("WRK_BODY")
if env_path and env_path ~= "" then
  wrk.body = load(env_path)
end

function init(args)
  if args[1] then
    wrk.body = load(args[1])
  end
  assert(wrk.body and #wrk.body > 0, "wrk_post.lua: no body (set WRK_BODY or pass -- FILE)")
end
