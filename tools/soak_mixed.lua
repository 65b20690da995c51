-- soak_mixed.lua - wrk script of tools/soak.sh (`make soak`): mixed predicts
-- against genoriskd, and a check of every response wrk receives.
--
--   wrk -t2 -c80 -d300s --timeout 10s -s tools/soak_mixed.lua URL -- BODIES_DIR OUT_JSON
--
-- BODIES_DIR/requests.tsv (written by `tools/soak_clients.py bodies`) lists
-- the requests: name, weight, path, Content-Type, body file, model, samples.
-- Each thread sends them round-robin (weights interleaved, threads offset).
--
-- response() sees every complete response (wrk calls it for each one once its
-- body has been read in full) and checks:
--   200: Content-Type application/json, and the body is one valid JSON value
--        (a full RFC 8259 grammar check below, not a pattern match) which is
--        an object starting with {"model":{"name":" and holding "results":[{
--   503: application/problem+json, Retry-After: 1, valid JSON holding
--        "status":503 (backpressure: overloaded; or not-ready while draining)
--   anything else is counted by status and fails the soak.
-- A response cut short never reaches response(): wrk counts it as a read
-- error, which fails the soak too (tools/soak_clients.py drain tells the
-- two apart at SIGTERM, where wrk cannot).
-- done() merges the threads' counts and writes one JSON object to OUT_JSON:
-- requests, duration_s, status counts, json_ok/json_bad (+ the first bad
-- body), problem_ok/problem_bad, socket errors, latency p50/p90/p99/max (us).

local find, byte, sub, char = string.find, string.byte, string.sub, string.char

-- ---------------------------------------------------------------- JSON
-- valid(s): true when s is exactly one JSON value with optional white space
-- around it. Each function takes the position of the first byte of its value
-- and returns the position after it, or nil.

local value

local function ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

local escapes = { [34] = true, [92] = true, [47] = true, [98] = true, [102] = true,
                  [110] = true, [114] = true, [116] = true }

local function str(s, i) -- s[i] is '"'
  i = i + 1
  while true do
    local _, e = find(s, '^[^"\\%z\1-\31]*', i)
    i = e + 1
    local c = byte(s, i)
    if c == 34 then
      return i + 1
    elseif c == 92 then
      local x = byte(s, i + 1)
      if x == 117 then
        if not find(s, "^%x%x%x%x", i + 2) then return nil end
        i = i + 6
      elseif x and escapes[x] then
        i = i + 2
      else
        return nil
      end
    else
      return nil -- a control character, or the end
    end
  end
end

local function num(s, i)
  if byte(s, i) == 45 then i = i + 1 end -- -
  local c = byte(s, i)
  if c == 48 then
    i = i + 1
  elseif c and c >= 49 and c <= 57 then
    local _, e = find(s, "^%d*", i + 1)
    i = e + 1
  else
    return nil
  end
  if byte(s, i) == 46 then -- .
    local _, e = find(s, "^%d+", i + 1)
    if not e then return nil end
    i = e + 1
  end
  c = byte(s, i)
  if c == 101 or c == 69 then -- e E
    local _, e = find(s, "^[+-]?%d+", i + 1)
    if not e then return nil end
    i = e + 1
  end
  return i
end

local function arr(s, i, depth) -- s[i] is '['
  i = ws(s, i + 1)
  if byte(s, i) == 93 then return i + 1 end
  while true do
    i = value(s, i, depth)
    if not i then return nil end
    i = ws(s, i)
    local c = byte(s, i)
    if c == 93 then return i + 1 end
    if c ~= 44 then return nil end
    i = ws(s, i + 1)
  end
end

local function obj(s, i, depth) -- s[i] is '{'
  i = ws(s, i + 1)
  if byte(s, i) == 125 then return i + 1 end
  while true do
    if byte(s, i) ~= 34 then return nil end
    i = str(s, i)
    if not i then return nil end
    i = ws(s, i)
    if byte(s, i) ~= 58 then return nil end
    i = value(s, ws(s, i + 1), depth)
    if not i then return nil end
    i = ws(s, i)
    local c = byte(s, i)
    if c == 125 then return i + 1 end
    if c ~= 44 then return nil end
    i = ws(s, i + 1)
  end
end

value = function(s, i, depth)
  if depth > 64 then return nil end
  local c = byte(s, i)
  if c == 123 then return obj(s, i, depth + 1)
  elseif c == 91 then return arr(s, i, depth + 1)
  elseif c == 34 then return str(s, i)
  elseif c == 116 then return sub(s, i, i + 3) == "true" and i + 4 or nil
  elseif c == 102 then return sub(s, i, i + 4) == "false" and i + 5 or nil
  elseif c == 110 then return sub(s, i, i + 3) == "null" and i + 4 or nil
  else return num(s, i)
  end
end

local function valid(s)
  if not s or #s == 0 then return false end
  local i = value(s, ws(s, 1), 0)
  return i ~= nil and ws(s, i) == #s + 1
end

local function jstr(s) -- s as a JSON string literal
  s = tostring(s or "")
  s = s:gsub('[%z\1-\31"\\\127-\255]', function(c)
    return string.format("\\u%04x", byte(c))
  end)
  return '"' .. s .. '"'
end

-- self-test of the validator, so a broken one cannot pass everything
do
  local good = { '{}', '[]', '0', '-0.5e+3', '"a\\u00e9\\n"', ' {"a":[1,2,{"b":null}],"c":true} ',
                 '{"model":{"name":"x"},"results":[{"score":-1.5E-7}]}' }
  local bad = { '', '{', '{"a":1', '{"a":1,}', '[1,]', '01', '1.', '.5', '"\1"', '{"a" 1}',
                'tru', '{"a":1}x', '"\\x"', '[1 2]', '{"a":1}{"b":2}', '-', '1e' }
  for _, g in ipairs(good) do assert(valid(g), "soak_mixed.lua: validator rejects " .. g) end
  for _, b in ipairs(bad) do assert(not valid(b), "soak_mixed.lua: validator accepts " .. b) end
end

-- ---------------------------------------------------------------- requests

local requests = {}
local n = 0
counts = {}          -- status -> responses (globals: done() reads them per thread)
json_ok, json_bad, json_bad_first = 0, 0, ""
problem_ok, problem_bad, problem_bad_first = 0, 0, ""
out_path = nil

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local dir = assert(args[1], "soak_mixed.lua: usage: -- BODIES_DIR OUT_JSON")
  out_path = args[2]
  local rows, maxw = {}, 0
  for line in io.lines(dir .. "/requests.tsv") do
    local name, weight, path, ctype, file =
      line:match("^([^\t]+)\t(%d+)\t([^\t]+)\t([^\t]+)\t([^\t]+)")
    if name then
      local f = assert(io.open(dir .. "/" .. file, "rb"))
      local body = f:read("*a")
      f:close()
      local req = wrk.format("POST", path, { ["Content-Type"] = ctype }, body)
      table.insert(rows, { w = tonumber(weight), req = req })
      if tonumber(weight) > maxw then maxw = tonumber(weight) end
    end
  end
  assert(#rows > 0, "soak_mixed.lua: no requests in " .. dir)
  for round = 1, maxw do -- weights interleaved: a, b, c, a, c, a, ...
    for _, r in ipairs(rows) do
      if r.w >= round then table.insert(requests, r.req) end
    end
  end
  n = (thread_id or 0) * 5
end

function request()
  n = n + 1
  return requests[n % #requests + 1]
end

local function header(headers, name)
  local v = headers[name]
  if v then return v end
  local lname = name:lower()
  for k, x in pairs(headers) do
    if k:lower() == lname then return x end
  end
  return nil
end

-- A connection answered 503 waits the Retry-After second before its next
-- request, as a well-behaved client does (wrk calls delay() for a
-- connection right after response() for it, so one flag is enough); the
-- others go on at once, keeping the queue full.
local backoff = false

function delay()
  if backoff then
    backoff = false
    return 1000
  end
  return 0
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  backoff = status == 503
  if status == 200 then
    local ct = header(headers, "Content-Type") or ""
    if valid(body) and find(ct, "^application/json") and
       find(body, '^{"model":{"name":"') and find(body, '"results":[{', 1, true) then
      json_ok = json_ok + 1
    else
      json_bad = json_bad + 1
      if json_bad == 1 then
        json_bad_first = "Content-Type " .. ct .. ", " .. #(body or "") .. " bytes: " ..
                         sub(body or "", 1, 300)
      end
    end
  elseif status == 503 then
    local ct = header(headers, "Content-Type") or ""
    if valid(body) and header(headers, "Retry-After") == "1" and
       find(ct, "^application/problem%+json") and find(body, '"status":503', 1, true) then
      problem_ok = problem_ok + 1
    else
      problem_bad = problem_bad + 1
      if problem_bad == 1 then problem_bad_first = sub(body or "", 1, 300) end
    end
  end
end

function done(summary, latency, requests_)
  local total, ok, bad, pok, pbad = {}, 0, 0, 0, 0
  local bad_first, pbad_first = "", ""
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts") or {}) do total[k] = (total[k] or 0) + v end
    ok = ok + (t:get("json_ok") or 0)
    bad = bad + (t:get("json_bad") or 0)
    pok = pok + (t:get("problem_ok") or 0)
    pbad = pbad + (t:get("problem_bad") or 0)
    if bad_first == "" then bad_first = t:get("json_bad_first") or "" end
    if pbad_first == "" then pbad_first = t:get("problem_bad_first") or "" end
  end
  local st = {}
  for k, v in pairs(total) do table.insert(st, jstr(k) .. ":" .. v) end
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_s":%.3f,"bytes":%d,"status":{%s},"json_ok":%d,"json_bad":%d,' ..
    '"json_bad_first":%s,"problem_ok":%d,"problem_bad":%d,"problem_bad_first":%s,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}',
    summary.requests, summary.duration / 1e6, summary.bytes, table.concat(st, ","), ok, bad,
    jstr(bad_first), pok, pbad, jstr(pbad_first), e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean)
  local path = threads[1] and threads[1]:get("out_path")
  if path then
    local f = assert(io.open(path, "w"))
    f:write(out, "\n")
    f:close()
  else
    print(out)
  end
end
