-- Asks the operator to run the report now: stamps the annotation
-- compliance.docspace.dev/run-requested-at with the current UTC time (RFC 3339). The operator
-- acts on each new value once (status.lastHandledRunRequest holds the last one it handled).
-- Other annotations are kept. Refuses a suspended report, which the operator would not run.
--
-- Lua 5.1 with only the base, table and safe os libraries (os.date is one of them).
if obj.spec ~= nil and obj.spec.suspend == true then
  error("the report is suspended (spec.suspend); resume it before asking for a run", 0)
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["compliance.docspace.dev/run-requested-at"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
