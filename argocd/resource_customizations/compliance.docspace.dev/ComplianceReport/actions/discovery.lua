-- Argo CD resource actions of a ComplianceReport: which ones the UI offers, and which of them
-- are greyed out for this object. A suspended report can only be resumed: the operator does
-- not run suspended reports, so asking for a run then would do nothing. The API server does
-- not enforce "disabled" (only the UI does), so run-now also refuses a suspended report itself.
--
-- Argo CD runs this with `obj` set to the live object (Lua 5.1, gopher-lua); a script from
-- argocd-cm gets only the base, table and a safe os library, so it uses only those.
local suspended = obj.spec ~= nil and obj.spec.suspend == true

local actions = {}
actions["run-now"] = {
  ["disabled"] = suspended,
  ["iconClass"] = "fa fa-fw fa-play",
  ["displayName"] = "Run Now"
}
actions["suspend"] = {
  ["disabled"] = suspended,
  ["iconClass"] = "fa fa-fw fa-pause",
  ["displayName"] = "Suspend"
}
actions["resume"] = {
  ["disabled"] = not suspended,
  ["iconClass"] = "fa fa-fw fa-play-circle",
  ["displayName"] = "Resume"
}
return actions
