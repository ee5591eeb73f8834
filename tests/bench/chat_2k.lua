-- wrk script: a ~2 KB chat request with several personal-data values, the
-- request the proxy benchmark sends (tests/bench/bench_proxy.sh).
local filler = "The customer writes about an invoice that was charged twice last month and asks for help. "
local content = "Hello, I am writing on behalf of our finance team. Please reach me at "
  .. "jane.doe@example.com or call +1 415-555-0132. The card on file is 4111 1111 1111 1111 "
  .. "and the account holder SSN is 123-45-6789; the login came from 203.0.113.77. "
for i = 1, 17 do content = content .. filler end
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"local-llama","temperature":0.7,"max_tokens":256,"messages":['
  .. '{"role":"system","content":"You are a helpful billing assistant."},'
  .. '{"role":"user","content":"' .. content .. '"}]}'
