-- wrk script of the serving benchmark: POST a rotating set of JSON bodies, then print the
-- results as one parseable line.
--
--   wrk -t 2 -c 16 -d 20s --timeout 2s --latency -s post.lua URL -- BODIES_FILE
--
-- BODIES_FILE holds one JSON body per line. Every wrk thread walks the whole list, each from
-- its own offset. done() prints one line, "SERVING_RESULT " followed by a JSON object:
-- requests, duration_us, bytes, latency percentiles in microseconds and wrk's error counts
-- (errors.status counts the responses with a status of 400 or more; wrk's own summary calls
-- them "Non-2xx or 3xx responses").

local bodies = {}
local counter = 0
local threads = 0
local headers = { ["Content-Type"] = "application/json" }

function setup(thread)
  thread:set("offset", threads * 97)
  threads = threads + 1
end

function init(args)
  local path = args[1]
  if path == nil then
    error("usage: wrk ... -s post.lua URL -- BODIES_FILE")
  end
  for line in io.lines(path) do
    if #line > 0 then
      bodies[#bodies + 1] = line
    end
  end
  if #bodies == 0 then
    error("no request bodies in " .. path)
  end
  counter = (offset or 0) % #bodies
end

function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[counter])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SERVING_RESULT {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, '
      .. '"p50_us": %.0f, "p90_us": %.0f, "p99_us": %.0f, "max_us": %.0f, "mean_us": %.1f, '
      .. '"errors": {"connect": %.0f, "read": %.0f, "write": %.0f, "status": %.0f, '
      .. '"timeout": %.0f}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
