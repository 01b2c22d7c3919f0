-- Restarts scheduled runs: sets spec.suspend to false (no effect on an active report).
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = false
return obj
