-- FHIR requests for wrk (bench/fhir_peer.py): each request picked at random, by the scenario's
-- weights, among request lines generated beforehand.
--
--   wrk -t 2 -c 8 -d 15s --latency -s bench/wrk/fhir.lua http://127.0.0.1:PORT -- \
--       REQUESTS_FILE BASE_PATH TOKEN WEIGHTS SNILS_BASE
--
-- REQUESTS_FILE  lines "kind<TAB>method<TAB>path<TAB>body" (kind: read, identifier, family,
--                create; path relative to the FHIR base; body one line of JSON or empty)
-- BASE_PATH      the FHIR base, "/fhir/" (FarCare) or "/fhir/R4/" (the peer)
-- TOKEN          the bearer token, "-" for none
-- WEIGHTS        "read:70,identifier:10,family:10,create:10" (percentages) or one kind
-- SNILS_BASE     the first nine digits of the SNILS this run's creates start from; "@SNILS@"
--                in a create body becomes a fresh, valid SNILS (unique per thread and request:
--                FarCare refuses a second patient with the same SNILS)
--
-- done() prints one line "WRK_JSON {...}": requests, duration and latencies in microseconds,
-- wrk's socket and status errors, and the count of answers outside 2xx by status.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_number", counter)
   table.insert(threads, thread)
end

local lines = { read = {}, identifier = {}, family = {}, create = {} }
local choices = {} -- 100 slots, each a kind: a weighted draw is one random index
local base, headers, post_headers
local snils_next, snils_last
non2xx = 0
statuses = {}

local function split(text, separator)
   local parts, start = {}, 1
   while true do
      local at = string.find(text, separator, start, true)
      if not at then
         table.insert(parts, string.sub(text, start))
         return parts
      end
      table.insert(parts, string.sub(text, start, at - 1))
      start = at + #separator
   end
end

-- The SNILS check number (farcare.patients.identifiers.snils_check_number).
local function snils(first_nine)
   local digits = string.format("%09d", first_nine)
   local total = 0
   for i = 1, 9 do
      total = total + tonumber(string.sub(digits, i, i)) * (10 - i)
   end
   local check
   if total < 100 then
      check = total
   elseif total == 100 or total == 101 then
      check = 0
   else
      check = total % 101
      if check == 100 then check = 0 end
   end
   return digits .. string.format("%02d", check)
end

function init(args)
   local file, base_path, token, weights, snils_base = args[1], args[2], args[3], args[4], args[5]
   base = base_path
   headers = { ["Accept"] = "application/fhir+json" }
   if token ~= "-" then
      headers["Authorization"] = "Bearer " .. token
   end
   post_headers = {}
   for k, v in pairs(headers) do post_headers[k] = v end
   post_headers["Content-Type"] = "application/fhir+json"

   for line in io.lines(file) do
      local fields = split(line, "\t")
      local kind = fields[1]
      if lines[kind] then
         local body = fields[4]
         local entry = { method = fields[2], path = base .. fields[3] }
         if body and body ~= "" then
            local at = string.find(body, "@SNILS@", 1, true)
            if at then
               entry.head, entry.tail = string.sub(body, 1, at - 1), string.sub(body, at + 7)
            else
               entry.body = body
            end
         end
         table.insert(lines[kind], entry)
      end
   end

   for _, part in ipairs(split(weights, ",")) do
      local pair = split(part, ":")
      local kind, weight = pair[1], tonumber(pair[2] or "100")
      if #lines[kind] == 0 then
         error("no request lines of kind " .. kind .. " in " .. file)
      end
      for _ = 1, weight do table.insert(choices, kind) end
   end

   -- A block of a million SNILS per thread, so that threads never make the same one.
   snils_next = tonumber(snils_base) + (thread_number - 1) * 1000000
   snils_last = snils_next + 999999
   math.randomseed(os.time() * 100 + thread_number)
end

function request()
   local kind = choices[math.random(#choices)]
   local pool = lines[kind]
   local entry = pool[math.random(#pool)]
   if entry.head then
      if snils_next > snils_last then
         error("out of SNILS for creates")
      end
      local body = entry.head .. snils(snils_next) .. entry.tail
      snils_next = snils_next + 1
      return wrk.format(entry.method, entry.path, post_headers, body)
   end
   if entry.body then
      return wrk.format(entry.method, entry.path, post_headers, entry.body)
   end
   return wrk.format(entry.method, entry.path, headers)
end

function response(status, _headers, _body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      local key = tostring(status)
      statuses[key] = (statuses[key] or 0) + 1
   end
end

local function json_object(map)
   local parts = {}
   for k, v in pairs(map) do
      table.insert(parts, string.format("%q:%d", k, v))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, _requests)
   local total_non2xx, by_status = 0, {}
   for _, thread in ipairs(threads) do
      total_non2xx = total_non2xx + (thread:get("non2xx") or 0)
      for status, count in pairs(thread:get("statuses") or {}) do
         by_status[status] = (by_status[status] or 0) + count
      end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p95_us":%d,'
         .. '"p99_us":%d,"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
         .. '"status":%d,"timeout":%d},"non2xx":%d,"statuses":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, total_non2xx, json_object(by_status)
   ))
end
