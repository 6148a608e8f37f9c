-- wrk script: POST /api/trpc/auth.login (superjson envelope) with the right password,
-- cycling through the bench users listed in LOGIN_EMAILS (space separated), all with
-- LOGIN_PASSWORD. Every login is a full bcrypt verify on the server.
local emails = {}
for e in string.gmatch(os.getenv("LOGIN_EMAILS") or "", "%S+") do
  emails[#emails + 1] = e
end
assert(#emails > 0, "LOGIN_EMAILS is empty")
local password = os.getenv("LOGIN_PASSWORD")
local bodies = {}
for i, e in ipairs(emails) do
  bodies[i] = string.format('{"json":{"email":"%s","password":"%s"}}', e, password)
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
