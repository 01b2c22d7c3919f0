-- Argo CD health of a ComplianceReport (compliance.docspace.dev/v1alpha1).
--
--   Suspended    spec.suspend is true.
--   Progressing  the operator has not reconciled this generation yet (no status, no Ready
--                condition, or an observedGeneration below metadata.generation); the report
--                waits for its first run (Ready False, reason Scheduled); or a run is in
--                flight (status.activeScheduleTime set) and the last outcome is not a failure.
--   Healthy      Ready is True for the current generation: the last run succeeded.
--   Degraded     Ready is False for any other reason (SecretNotFound, InvalidSpec,
--                Unauthorized, PortalUnreachable, UploadFailed, ...), with its message.
--
-- Argo CD runs this with `obj` set to the live object (Lua 5.1 semantics, gopher-lua). A
-- script from argocd-cm gets only the base, table and a safe os library (no string or math
-- unless resource.customizations.useOpenLibs is set), so it uses only those.
local hs = {}

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Runs are suspended (spec.suspend)"
  return hs
end

local status = obj.status
local ready = nil
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    end
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the report"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
if generation ~= nil then
  local observed = status.observedGeneration
  if ready.observedGeneration ~= nil and (observed == nil or ready.observedGeneration < observed) then
    observed = ready.observedGeneration
  end
  if observed ~= nil and observed < generation then
    hs.status = "Progressing"
    hs.message = "Waiting for the operator to observe generation " .. tostring(generation) ..
      " (observed " .. tostring(observed) .. ")"
    return hs
  end
end

local message = ready.message
if message == nil or message == "" then
  message = ready.reason or ""
end
local waiting = ready.reason == "Scheduled" or ready.reason == "Suspended"
local failed = ready.status == "False" and not waiting

if status.activeScheduleTime ~= nil and not failed then
  hs.status = "Progressing"
  hs.message = "Running the report scheduled at " .. tostring(status.activeScheduleTime)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = message
  return hs
end

if failed then
  hs.status = "Degraded"
  hs.message = message
  return hs
end

-- Ready False with reason Scheduled (before the first run), a stale Suspended, or Unknown.
hs.status = "Progressing"
hs.message = message
return hs
