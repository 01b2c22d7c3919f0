-- Runs Argo CD resource health checks the way Argo CD's own tests do, on Lua 5.1.
--
--   lua5.1 scripts/argocd-health-test.lua DIR...
--       DIR is a resource customization directory (resource_customizations/<group>/<Kind>)
--       holding health.lua and health_test.yaml. Each test loads its inputPath object, runs
--       health.lua with the global `obj` set to it, and compares the returned status and
--       message with healthStatus. Prints one line per test and "N passed, N failed".
--   lua5.1 scripts/argocd-health-test.lua --eval HEALTH_LUA OBJECT_FILE
--       Prints the status and the message for one object (YAML or JSON), one per line.
--
-- Like Argo CD for a script from argocd-cm, health.lua runs with only the base and table
-- libraries and a safe os (time, date, clock): no string, math, io or debug library, and no
-- string methods. Argo CD converts the object from JSON, so YAML nulls become absent keys.
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

local function sandbox(obj)
  return {
    obj = obj,
    assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, select = select, tonumber = tonumber, tostring = tostring, type = type,
    unpack = unpack, xpcall = xpcall, rawequal = rawequal, rawget = rawget, rawset = rawset,
    getmetatable = getmetatable, setmetatable = setmetatable, _VERSION = _VERSION,
    table = { concat = table.concat, insert = table.insert, remove = table.remove,
      sort = table.sort, maxn = table.maxn, getn = table.getn },
    os = { time = os.time, date = os.date, clock = os.clock },
  }
end

-- Runs the health script on obj; returns status, message or nil, error.
local function evaluate(script, script_name, obj)
  local chunk, err = loadstring(script, "=" .. script_name)
  if not chunk then
    return nil, "does not compile: " .. err
  end
  setfenv(chunk, sandbox(obj))
  -- No string methods either: hide the string metatable's __index while the script runs.
  local string_meta = getmetatable("")
  local saved_index = string_meta.__index
  string_meta.__index = nil
  local ran, result = pcall(chunk)
  string_meta.__index = saved_index
  if not ran then
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

local function run_dir(dir)
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
