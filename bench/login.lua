-- wrk script: POST /api/trpc/auth.login (superjson envelope) with the right password,
-- cycling through the bench users listed in LOGIN_EMAILS (space separated), all with
-- LOGIN_PASSWORD. Every login is a full bcrypt verify on the server. With LOGIN_ADDRESSES=N,
-- requests carry `X-Forwarded-For: 10.0.0.<k>` for N addresses in turn (the gateway runs
-- with --client-ip-header x-forwarded-for): logins from N clients instead of one.
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

local addresses = tonumber(os.getenv("LOGIN_ADDRESSES") or "0")

local n = 0
function request()
  n = n + 1
  local headers = nil
  if addresses > 0 then
    -- (A headers table replaces wrk.headers: the content type goes in it too.)
    headers = { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10.0.0." .. (n % addresses) }
  end
  return wrk.format(nil, nil, headers, bodies[(n % #bodies) + 1])
end
