-- Stops scheduled runs: sets spec.suspend to true (no effect on a suspended report).
if obj.spec == nil then
  obj.spec = {}
end
obj.spec.suspend = true
return obj
