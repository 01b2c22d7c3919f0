-- Runs Argo CD resource health checks and resource actions the way Argo CD's own tests do, on
-- Lua 5.1.
--
--   lua5.1 scripts/argocd-health-test.lua DIR...
--       A DIR holding health.lua and health_test.yaml (resource_customizations/<group>/<Kind>)
--       gets its health tests: each loads its inputPath object, runs health.lua with the
--       global `obj` set to it, and compares the returned status and message with
--       healthStatus.
--       A DIR holding action_test.yaml (resource_customizations/<group>/<Kind>/actions, next to
--       discovery.lua and <action>/action.lua) gets its action tests:
--         discoveryTests  run discovery.lua on inputPath; the actions it returns must be exactly
--                         those listed in result, each with the same disabled (absent means
--                         false), iconClass and displayName. This is stricter than Argo CD's
--                         own test, which only checks that every returned action is listed;
--                         a key other than disabled, iconClass, displayName or params in an
--                         action is reported too (Argo CD would silently ignore a misspelling).
--         actionTests     run <action>/action.lua on inputPath (with `actionParams` from
--                         parameters) and compare the returned object with expectedOutputPath
--                         (deep equality; the first difference is printed), or the error it
--                         raises with expectedErrorMessage (exact text, so raise it with
--                         error(message, 0) to get the same text under gopher-lua). An object
--                         returned for a patch must keep apiVersion, kind, name and namespace.
--                         `now: <RFC 3339 UTC instant>` is this runner's own field: during that
--                         test os.date and os.time without a time argument read that instant
--                         instead of the clock (os.date still formats it itself), so an action
--                         that stamps the current time has a fixed expected output. Without
--                         `now` the real clock is used. Argo CD's loader ignores the field.
--       A DIR with both kinds of tests runs both. Prints one line per test and
--       "N passed, N failed"; exits 1 if any test failed.
--   lua5.1 scripts/argocd-health-test.lua --eval HEALTH_LUA OBJECT_FILE
--       Prints the status and the message for one object (YAML or JSON), one per line.
--
-- Like Argo CD for a script from argocd-cm, every script runs with only the base and table
-- libraries and a safe os (time and date, the only two Argo CD's safe os has): no string,
-- math, io or debug library, and no string methods. `actionParams` is a table, as in Argo CD.
-- Argo CD converts the object from JSON, so YAML nulls become absent keys.
-- Needs lua5.1 and lyaml (Debian: apt-get install lua5.1 lua-yaml).

local ok, lyaml = pcall(require, "lyaml")
if not ok then
  io.stderr:write("argocd-health-test: the lyaml module is missing (apt-get install lua-yaml)\n")
  os.exit(2)
end

local VALID = { Healthy = true, Progressing = true, Degraded = true, Suspended = true,
  Missing = true, Unknown = true }

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then
    error("cannot read " .. path .. ": " .. tostring(err), 0)
  end
  local text = f:read("*a")
  f:close()
  return text
end

-- Drops lyaml's null sentinel, as Argo CD's JSON conversion yields nil for null.
local function strip_nulls(value)
  if value == lyaml.null then
    return nil
  end
  if type(value) == "table" then
    local out = {}
    for k, v in pairs(value) do
      out[k] = strip_nulls(v)
    end
    return out
  end
  return value
end

local function load_yaml(path)
  local docs = lyaml.load(read_file(path), { all = true })
  if type(docs) ~= "table" or docs[1] == nil then
    error(path .. ": no YAML document", 0)
  end
  return strip_nulls(docs[1])
end

-- The Unix time of an RFC 3339 UTC instant (YYYY-MM-DDTHH:MM:SSZ), computed without the
-- local time zone.
local function utc_seconds(instant)
  local y, m, d, hh, mm, ss = tostring(instant):match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)Z$")
  if not y then
    error("now: " .. tostring(instant) .. " is not an RFC 3339 UTC instant (YYYY-MM-DDTHH:MM:SSZ)", 0)
  end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  -- Days since 1970-01-01 in the proleptic Gregorian calendar, years starting in March.
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  local seconds = days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
  if os.date("!%Y-%m-%dT%H:%M:%SZ", seconds) ~= instant then
    error("now: " .. instant .. " is not a valid instant", 0)
  end
  return seconds
end

-- Argo CD's safe os library; with `now` (Unix seconds) the clock is pinned to that instant.
local function safe_os(now)
  if now == nil then
    return { time = os.time, date = os.date }
  end
  return {
    time = function(fields)
      if fields == nil then
        return now
      end
      return os.time(fields)
    end,
    date = function(format, at)
      if at == nil then
        at = now
      end
      return os.date(format, at)
    end,
  }
end

-- The globals of a script: obj, actionParams and the libraries Argo CD gives it. options may
-- hold now (Unix seconds, pins the clock) and params (the actionParams table).
local function sandbox(obj, options)
  options = options or {}
  return {
    obj = obj,
    actionParams = options.params or {},
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
    unpack = unpack, xpcall = xpcall, rawequal = rawequal, rawget = rawget, rawset = rawset,
    getmetatable = getmetatable, setmetatable = setmetatable, _VERSION = _VERSION,
    table = { concat = table.concat, insert = table.insert, remove = table.remove,
      sort = table.sort, maxn = table.maxn, getn = table.getn },
    os = safe_os(options.now),
  }
end

-- Runs a script in the sandbox; returns true, its result or false, the raised error as it is
-- or false, "does not compile: ...", true.
local function run_script(script, script_name, obj, options)
  local chunk, err = loadstring(script, "=" .. script_name)
  if not chunk then
    return false, "does not compile: " .. err, true
  end
  setfenv(chunk, sandbox(obj, options))
  -- No string methods either: hide the string metatable's __index while the script runs.
  local string_meta = getmetatable("")
  local saved_index = string_meta.__index
  string_meta.__index = nil
  local ran, result = pcall(chunk)
  string_meta.__index = saved_index
  return ran, result
end

-- Runs the health script on obj; returns status, message or nil, error.
local function evaluate(script, script_name, obj)
  local ran, result, compile_error = run_script(script, script_name, obj)
  if not ran then
    if compile_error then
      return nil, result
    end
    return nil, "failed: " .. tostring(result)
  end
  if type(result) ~= "table" then
    return nil, "returned " .. type(result) .. ", not a table"
  end
  if not VALID[result.status] then
    return nil, "returned the invalid health status " .. tostring(result.status)
  end
  local message = result.message
  if message == nil then
    message = ""
  end
  return result.status, tostring(message)
end

local function dirname_join(dir, rel)
  if rel:sub(1, 1) == "/" then
    return rel
  end
  return dir .. "/" .. rel
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
  end
  return f ~= nil
end

-- A value as failure messages show it.
local function show(value)
  if value == nil then
    return "(absent)"
  end
  if type(value) == "string" then
    return string.format("%q", value)
  end
  if type(value) == "table" then
    return "a table"
  end
  return tostring(value)
end

local function path_join(path, key)
  if type(key) == "number" then
    return path .. "[" .. key .. "]"
  end
  if path == "" then
    return tostring(key)
  end
  return path .. "." .. tostring(key)
end

-- The first place (in key order) where got and want differ: its path, got's value there and
-- want's; nothing if they are equal.
local function first_difference(got, want, path)
  if type(got) ~= "table" or type(want) ~= "table" then
    if got ~= want then
      return path, got, want
    end
    return nil
  end
  local keys = {}
  for k in pairs(want) do
    keys[#keys + 1] = k
  end
  for k in pairs(got) do
    if want[k] == nil then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, function(a, b)
    return tostring(a) < tostring(b)
  end)
  for _, k in ipairs(keys) do
    local at, g, w = first_difference(got[k], want[k], path_join(path, k))
    if at then
      return at, g, w
    end
  end
  return nil
end

local function run_health_tests(dir)
  local passed, failed = 0, 0
  local script = read_file(dir .. "/health.lua")
  local spec = load_yaml(dir .. "/health_test.yaml")
  if type(spec.tests) ~= "table" or spec.tests[1] == nil then
    error(dir .. "/health_test.yaml: no tests", 0)
  end
  for _, test in ipairs(spec.tests) do
    local input = test.inputPath
    local want = test.healthStatus or {}
    local okload, obj = pcall(load_yaml, dirname_join(dir, input))
    local status, message
    if okload then
      status, message = evaluate(script, dir .. "/health.lua", obj)
    else
      status, message = nil, obj
    end
    local want_message = want.message or ""
    if status ~= nil and status == want.status and message == want_message then
      passed = passed + 1
      print("ok    " .. input .. ": " .. status)
    else
      failed = failed + 1
      if status == nil then
        print("FAIL  " .. input .. ": health.lua " .. tostring(message))
      else
        print("FAIL  " .. input .. ":\n        got      " .. status .. " \"" .. message ..
          "\"\n        expected " .. tostring(want.status) .. " \"" .. want_message .. "\"")
      end
    end
  end
  return passed, failed
end

-- The fields of an action that discovery.lua returns, with their Lua types.
local ACTION_FIELDS = { disabled = "boolean", iconClass = "string", displayName = "string",
  params = "table" }

-- Compares what discovery.lua returned with a test's result list; returns a list of problems.
local function discovery_problems(returned, expected)
  if type(returned) ~= "table" then
    return { "discovery.lua returned " .. type(returned) .. ", not a table" }
  end
  local problems = {}
  local want = {}
  for i, entry in ipairs(expected or {}) do
    if type(entry) ~= "table" or type(entry.name) ~= "string" then
      problems[#problems + 1] = "result entry " .. i .. " has no name"
    else
      want[entry.name] = entry
    end
  end
  for name, action in pairs(returned) do
    if type(name) ~= "string" then
      problems[#problems + 1] = "discovery.lua returned the key " .. show(name) .. ", not an action name"
    elseif type(action) ~= "table" then
      problems[#problems + 1] = name .. ": is " .. type(action) .. ", not a table"
    else
      for key, value in pairs(action) do
        local wanted_type = ACTION_FIELDS[key]
        if wanted_type == nil then
          problems[#problems + 1] = name .. ": unknown field " .. show(key) .. " (Argo CD ignores it)"
        elseif type(value) ~= wanted_type then
          problems[#problems + 1] = name .. "." .. key .. " is " .. type(value) .. ", not " .. wanted_type
        end
      end
      local w = want[name]
      if w == nil then
        problems[#problems + 1] = name .. ": returned but not in result"
      else
        local got_fields = { disabled = action.disabled == true, iconClass = action.iconClass or "",
          displayName = action.displayName or "", params = action.params }
        local want_fields = { disabled = w.disabled == true, iconClass = w.iconClass or "",
          displayName = w.displayName or "", params = w.params }
        local at, g, e = first_difference(got_fields, want_fields, name)
        if at then
          problems[#problems + 1] = at .. ": got " .. show(g) .. ", expected " .. show(e)
        end
      end
    end
  end
  for name in pairs(want) do
    if returned[name] == nil then
      problems[#problems + 1] = name .. ": in result but not returned"
    end
  end
  table.sort(problems)
  return problems
end

-- Runs one entry of actionTests; returns nothing if it passes, else what went wrong.
local function action_test_problem(dir, test)
  if type(test.action) ~= "string" or type(test.inputPath) ~= "string" then
    return "the test needs action and inputPath"
  end
  local script_path = dir .. "/" .. test.action .. "/action.lua"
  local script = read_file(script_path)
  local obj = load_yaml(dirname_join(dir, test.inputPath))
  local source = load_yaml(dirname_join(dir, test.inputPath))
  local options = { params = {} }
  if test.now ~= nil then
    options.now = utc_seconds(test.now)
  end
  for name, value in pairs(test.parameters or {}) do
    options.params[name] = value
  end
  local ran, result, compile_error = run_script(script, script_path, obj, options)
  if compile_error then
    return result
  end
  if test.expectedErrorMessage ~= nil then
    if ran then
      return "expected the error " .. show(test.expectedErrorMessage) .. ", but the action returned " ..
        type(result)
    end
    if result ~= test.expectedErrorMessage then
      return "raised " .. show(result) .. ", expected " .. show(test.expectedErrorMessage)
    end
    return nil
  end
  if not ran then
    return "action.lua failed: " .. tostring(result)
  end
  if type(result) ~= "table" then
    return "action.lua returned " .. type(result) .. ", not a table"
  end
  if test.expectedOutputPath == nil then
    return "the test has neither expectedOutputPath nor expectedErrorMessage"
  end
  if result[1] == nil then
    -- One object: Argo CD patches the source with it, so it must name the same resource.
    local got_meta, source_meta = result.metadata or {}, source.metadata or {}
    local identity = {
      { "apiVersion", result.apiVersion, source.apiVersion },
      { "kind", result.kind, source.kind },
      { "metadata.name", got_meta.name, source_meta.name },
      { "metadata.namespace", got_meta.namespace, source_meta.namespace },
    }
    for _, field in ipairs(identity) do
      if field[2] ~= field[3] then
        return "the returned object changes " .. field[1] .. " from " .. show(field[3]) .. " to " ..
          show(field[2]) .. "; a patch must keep the resource"
      end
    end
  end
  local want = load_yaml(dirname_join(dir, test.expectedOutputPath))
  local at, got, wanted = first_difference(result, want, "")
  if at then
    if at == "" then
      at = "the top level"
    end
    return "the output differs from " .. test.expectedOutputPath .. " at " .. at ..
      ":\n        got      " .. show(got) .. "\n        expected " .. show(wanted)
  end
  return nil
end

local function run_action_tests(dir)
  local passed, failed = 0, 0
  local spec = load_yaml(dir .. "/action_test.yaml")
  local discovery_tests = spec.discoveryTests or {}
  local action_tests = spec.actionTests or {}
  if discovery_tests[1] == nil and action_tests[1] == nil then
    error(dir .. "/action_test.yaml: no tests", 0)
  end
  local discovery = nil
  if discovery_tests[1] ~= nil then
    discovery = read_file(dir .. "/discovery.lua")
  end
  for _, test in ipairs(discovery_tests) do
    local label = "discovery " .. tostring(test.inputPath)
    local okload, obj = pcall(load_yaml, dirname_join(dir, tostring(test.inputPath)))
    local problems
    if not okload then
      problems = { tostring(obj) }
    else
      local ran, result = run_script(discovery, dir .. "/discovery.lua", obj)
      if ran then
        problems = discovery_problems(result, test.result)
      else
        problems = { "discovery.lua " .. tostring(result) }
      end
    end
    if problems[1] == nil then
      passed = passed + 1
      print("ok    " .. label)
    else
      failed = failed + 1
      print("FAIL  " .. label .. ":\n        " .. table.concat(problems, "\n        "))
    end
  end
  for _, test in ipairs(action_tests) do
    local label = "action " .. tostring(test.action) .. " " .. tostring(test.inputPath)
    local okrun, problem = pcall(action_test_problem, dir, test)
    if okrun and problem == nil then
      passed = passed + 1
      print("ok    " .. label)
    else
      failed = failed + 1
      print("FAIL  " .. label .. ": " .. tostring(problem))
    end
  end
  return passed, failed
end

-- The tests a DIR holds: health tests, action tests or both.
local function run_dir(dir)
  local has_health = file_exists(dir .. "/health_test.yaml")
  local has_actions = file_exists(dir .. "/action_test.yaml")
  if not has_health and not has_actions then
    error(dir .. ": neither health_test.yaml nor action_test.yaml", 0)
  end
  local passed, failed = 0, 0
  if has_health then
    local p, f = run_health_tests(dir)
    passed, failed = passed + p, failed + f
  end
  if has_actions then
    local p, f = run_action_tests(dir)
    passed, failed = passed + p, failed + f
  end
  return passed, failed
end

if arg[1] == "--eval" then
  if not arg[2] or not arg[3] then
    io.stderr:write("usage: argocd-health-test.lua --eval HEALTH_LUA OBJECT_FILE\n")
    os.exit(2)
  end
  local status, message = evaluate(read_file(arg[2]), arg[2], load_yaml(arg[3]))
  if status == nil then
    io.stderr:write(arg[2] .. " " .. message .. "\n")
    os.exit(1)
  end
  print(status)
  print(message)
  os.exit(0)
end

if #arg == 0 then
  io.stderr:write("usage: argocd-health-test.lua DIR... | --eval HEALTH_LUA OBJECT_FILE\n")
  os.exit(2)
end
local total_passed, total_failed = 0, 0
for _, dir in ipairs(arg) do
  local okrun, p, f = pcall(run_dir, dir)
  if not okrun then
    print("FAIL  " .. dir .. ": " .. tostring(p))
    total_failed = total_failed + 1
  else
    total_passed = total_passed + p
    total_failed = total_failed + f
  end
end
print(total_passed .. " passed, " .. total_failed .. " failed")
os.exit(total_failed == 0 and 0 or 1)
