-- wrk script: the request wrk was given (auth.get), each time with the next API token of
-- TOKENS_FILE (one per line) as `Authorization: Bearer`. A token comes back only after all
-- the others, so with more tokens than the server's caches hold, every request misses them
-- and reads the store: the cold path.
local tokens = {}
local file = os.getenv("TOKENS_FILE")
assert(file, "TOKENS_FILE is not set")
for line in io.lines(file) do
  tokens[#tokens + 1] = "Bearer " .. line
end
assert(#tokens > 0, "TOKENS_FILE is empty")

local n = 0
function request()
  n = n % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = tokens[n] })
end
