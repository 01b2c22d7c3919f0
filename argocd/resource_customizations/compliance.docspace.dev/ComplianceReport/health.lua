-- Argo CD health of a ComplianceReport (compliance.docspace.dev/v1alpha1).
--
--   Suspended    spec.suspend is true.
--   Progressing  the operator has not caught up with the object: no status or no Ready
--                condition yet, an observedGeneration below metadata.generation, a Ready
--                condition still saying Suspended after spec.suspend was cleared, or Ready is
--                Unknown.
--   Degraded     the report is Stalled (condition Stalled True: nothing happens until a user
--                fixes the spec, a Secret or the allow-list), or the last run failed (Ready
--                False for any reason but Scheduled or Suspended: SecretNotFound, InvalidSpec,
--                Unauthorized, PortalUnreachable, UploadFailed, ...), with its message. A failed
--                report whose run is in flight again stays Degraded until a run succeeds.
--   Healthy      the last run succeeded (Ready True); or the report waits for its first run
--                (Ready False, reason Scheduled); or a run is in flight (status.activeScheduleTime
--                set, or Reconciling True with reason Running) or is due and waits for late
--                audit writes (Reconciling True, reason Settling), and the last outcome is not a
--                failure. Like Argo CD's own CronJob check, waiting for the schedule is healthy,
--                so a sync wave does not wait until a monthly report has run.
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
local ready, stalled, reconciling = nil, nil, nil
if status ~= nil and status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "Ready" then
      ready = condition
    elseif condition.type == "Stalled" and condition.status == "True" then
      stalled = condition
    elseif condition.type == "Reconciling" and condition.status == "True" then
      reconciling = condition
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

-- The message of a condition, or its reason when it has none.
local function describe(condition, fallback)
  if condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  if condition.reason ~= nil and condition.reason ~= "" then
    return condition.reason
  end
  return fallback
end

if stalled ~= nil then
  hs.status = "Degraded"
  hs.message = describe(stalled, describe(ready, "Stalled"))
  return hs
end

if ready.status == "False" and ready.reason ~= "Scheduled" and ready.reason ~= "Suspended" then
  hs.status = "Degraded"
  hs.message = describe(ready, "")
  return hs
end

if ready.status ~= "True" and ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = describe(ready, "")
  return hs
end

if ready.status == "False" and ready.reason == "Suspended" then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to resume runs"
  return hs
end

-- From here on the last outcome is a success (Ready True) or there is none yet (Scheduled).
if status.activeScheduleTime ~= nil then
  hs.status = "Healthy"
  hs.message = "Running the report scheduled at " .. tostring(status.activeScheduleTime)
  return hs
end

if reconciling ~= nil and (reconciling.reason == "Running" or reconciling.reason == "Settling") then
  hs.status = "Healthy"
  hs.message = describe(reconciling, "")
  return hs
end

hs.status = "Healthy"
hs.message = describe(ready, "")
return hs
