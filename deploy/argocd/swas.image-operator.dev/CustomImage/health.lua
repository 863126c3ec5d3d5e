-- Argo CD health check for swas.image-operator.dev/CustomImage: maps the operator's kstatus
-- conditions (Ready, Reconciling, Stalled) and the paused annotation to an Argo CD health
-- status, agreeing with what Flux's kstatus says about the same object.
--
-- Argo CD runs scripts from argocd-cm without the string and math libraries (unless
-- useOpenLibs is set), so this script uses only base Lua 5.1 and neither of those libraries.
-- Tested by tests/argocd_health.rs against health_test.yaml, with and without those libraries.

local PAUSED_ANNOTATION = "swas.image-operator.dev/paused"
local PAUSED_MESSAGE = "Paused by the swas.image-operator.dev/paused annotation: no changes "
  .. "are made in the cloud and deletion waits"

local metadata = obj.metadata or {}
local annotations = metadata.annotations or {}
local status = obj.status

-- The condition of this type, or nil.
local function condition(kind)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- The condition of this type if its status is "True", or nil.
local function isTrue(kind)
  local c = condition(kind)
  if c ~= nil and c.status == "True" then
    return c
  end
  return nil
end

-- What a condition says, for people: its message, else its reason, else the fallback.
local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local function health(state, message)
  return { status = state, message = message }
end

local ready = condition("Ready")
local stalled = isTrue("Stalled")
local reconciling = isTrue("Reconciling")

-- Being deleted: the finalizer holds the object while the image is unshared and deleted.
if metadata.deletionTimestamp ~= nil then
  local why = stalled or reconciling or ready
  local message = "The CustomImage is being deleted"
  if why ~= nil then
    message = message .. ": " .. describe(why, "")
  end
  return health("Progressing", message)
end

-- Paused: nothing is changed in the cloud until the annotation goes.
local pausedByStatus = ready ~= nil and ready.status == "False" and ready.reason == "Paused"
if annotations[PAUSED_ANNOTATION] == "true" or pausedByStatus then
  if pausedByStatus then
    return health("Suspended", describe(ready, PAUSED_MESSAGE))
  end
  return health("Suspended", PAUSED_MESSAGE)
end

-- Nothing reported yet, or the status describes an older spec.
if status == nil then
  return health("Progressing", "Waiting for the operator to report status")
end
local generation = tonumber(metadata.generation)
local observed = tonumber(status.observedGeneration)
if generation ~= nil and (observed == nil or observed < generation) then
  if observed == nil then
    return health("Progressing", "Waiting for the operator to observe generation "
      .. generation)
  end
  return health("Progressing", "Waiting for the operator to observe generation "
    .. generation .. " (status is for generation " .. observed .. ")")
end

if stalled ~= nil then
  return health("Degraded", describe(stalled, "Stalled"))
end
if reconciling ~= nil then
  return health("Progressing", describe(reconciling, "Reconciling"))
end
if ready ~= nil and ready.status == "True" then
  return health("Healthy", describe(ready, "Ready"))
end
if ready ~= nil then
  return health("Progressing", describe(ready, "Not ready yet"))
end
return health("Progressing", "Waiting for the operator to report the Ready condition")
