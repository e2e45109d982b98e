-- wrk script: POSTs the JSON request in the file named after "--" (wrk ... URL -- FILE) to URL.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function init(args)
  local file = assert(io.open(args[1], "rb"), "usage: wrk -s post.lua URL -- REQUEST.json")
  wrk.body = file:read("*a")
  file:close()
end
