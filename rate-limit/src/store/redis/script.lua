-- portcullis-rate-limit: one atomic check (or refund) over every quota key of one
-- identity. The same decision functions as `algorithm::{gcra, sliding_window,
-- fixed_window}` in Rust, step for step, so every store decides alike.
--
-- Lua numbers are doubles, exact only below 2^53, while a time in nanoseconds since
-- the epoch is about 2^60. So an instant is a pair (seconds, nanoseconds), durations
-- and counts stay below 2^52 (the Rust side refuses plans that would not), and
-- products that can exceed 2^53 (count x window) are compared exactly in base-2^24
-- limbs.
--
-- KEYS: one per quota, in plan order.
-- ARGV: mode ('check' | 'refund'), clock ('redis' | 'caller'), seconds, nanoseconds
--       (the caller's time; a refund always uses it: the time of the consumption),
--       cost, then per quota: algorithm ('gcra' | 'sliding' | 'fixed' | 'fixed_utc'),
--       limit, window, interval, tolerance (ns).
-- Check reply: { allowed, then per quota: allowed, remaining, reset, retry_after }.
-- Refund reply: the number of quota states changed.

local E9 = 1000000000
local LIMB = 16777216 -- 2^24
local FAR = 9000000 -- seconds; differences beyond this are clamped (no window is that long)
local HUGE = 9007199254740992 -- 2^53

-- Exact arithmetic on non-negative integers below 2^72, as three base-2^24 limbs.
local function limbs(x)
  local l0 = x % LIMB
  x = (x - l0) / LIMB
  local l1 = x % LIMB
  return { l0, l1, (x - l1) / LIMB }
end

local function normalize(r)
  local carry = 0
  for k = 1, #r do
    local v = r[k] + carry
    local low = v % LIMB
    r[k] = low
    carry = (v - low) / LIMB
  end
  return r
end

local function mul(a, b)
  local x, y = limbs(a), limbs(b)
  local r = { 0, 0, 0, 0, 0, 0 }
  for i = 1, 3 do
    for j = 1, 3 do
      r[i + j - 1] = r[i + j - 1] + x[i] * y[j]
    end
  end
  return normalize(r)
end

local function cmp(r, s)
  for k = 6, 1, -1 do
    local a, b = r[k] or 0, s[k] or 0
    if a ~= b then
      return a < b and -1 or 1
    end
  end
  return 0
end

-- Below 2^50 a product of doubles is exact, and so is a quotient fixed up by one.
local EXACT = 1125899906842624

-- floor(a * b / c), exactly, for a result below 2^53.
local function muldiv(a, b, c)
  local p = a * b
  if p < EXACT then
    local q = math.floor(p / c)
    local r = p - q * c
    if r < 0 then
      q = q - 1
    elseif r >= c then
      q = q + 1
    end
    return q
  end
  -- A floating estimate, corrected with exact products.
  local product = mul(a, b)
  local q = math.floor(a / c * b)
  if q < 0 then
    q = 0
  end
  while q > 0 and cmp(mul(q, c), product) > 0 do
    q = q - 1
  end
  while cmp(mul(q + 1, c), product) <= 0 do
    q = q + 1
  end
  return q
end

local function ceil_muldiv(a, b, c)
  local q = muldiv(a, b, c)
  local p = a * b
  if p < EXACT then
    if q * c == p then
      return q
    end
    return q + 1
  end
  if cmp(mul(q, c), mul(a, b)) == 0 then
    return q
  end
  return q + 1
end

-- a * b <= c * d, exactly.
local function product_le(a, b, c, d)
  local left, right = a * b, c * d
  if left < EXACT and right < EXACT then
    return left <= right
  end
  return cmp(mul(a, b), mul(c, d)) <= 0
end

local function div(a, c)
  return muldiv(a, 1, c)
end

-- Instants as (seconds, nanoseconds).
local function add(s, n, d)
  local total = n + d
  local q = math.floor(total / E9)
  local r = total - q * E9
  if r < 0 then
    q, r = q - 1, r + E9
  elseif r >= E9 then
    q, r = q + 1, r - E9
  end
  return s + q, r
end

-- (s1, n1) - (s0, n0) in nanoseconds, clamped to +-2^53 far beyond any window.
local function diff(s1, n1, s0, n0)
  local ds = s1 - s0
  if ds > FAR then
    return HUGE
  elseif ds < -FAR then
    return -HUGE
  end
  return ds * E9 + (n1 - n0)
end

-- (s, n) modulo a window of w ns (w >= 1 ms, so the quotient stays below 2^53).
local function modulo(s, n, w)
  if w % E9 == 0 then
    local k = w / E9
    local r = s - math.floor(s / k) * k
    if r < 0 then
      r = r + k
    elseif r >= k then
      r = r - k
    end
    return r * E9 + n
  elseif E9 % w == 0 then
    return n % w
  end
  local whole = mul(s, E9)
  local nanos = limbs(n)
  for k = 1, 3 do
    whole[k] = whole[k] + nanos[k]
  end
  normalize(whole)
  local q = math.floor((s * E9 + n) / w)
  if q < 0 then
    q = 0
  end
  while q > 0 and cmp(mul(q, w), whole) > 0 do
    q = q - 1
  end
  while cmp(mul(q + 1, w), whole) <= 0 do
    q = q + 1
  end
  -- whole - q * w < w < 2^52: the low limbs carry it all.
  local taken = mul(q, w)
  local r, borrow = 0, 0
  for k = 1, 3 do
    local v = whole[k] - taken[k] - borrow
    if v < 0 then
      v, borrow = v + LIMB, 1
    else
      borrow = 0
    end
    r = r + v * LIMB ^ (k - 1)
  end
  return r
end

local function parse_time(text)
  local len = #text
  if len <= 9 then
    return 0, tonumber(text)
  end
  return tonumber(string.sub(text, 1, len - 9)), tonumber(string.sub(text, len - 8))
end

local function format_time(s, n)
  if s == 0 then
    return string.format('%d', n)
  end
  return string.format('%d%09d', s, n)
end

-- A stored state: 'time:count:previous', or nil when absent.
local function load(key)
  local value = redis.call('GET', key)
  if not value then
    return nil
  end
  local time, count, previous = string.match(value, '^(%d+):(%d+):(%d+)$')
  if not time or #time > 20 or #count > 15 or #previous > 15 then
    return redis.error_reply('PORTCULLIS_MALFORMED rate-limit state at ' .. key .. ' is not time:count:previous')
  end
  local s, n = parse_time(time)
  return { s = s, n = n, count = tonumber(count), previous = tonumber(previous) }
end

local function encode(s, n, count, previous)
  return format_time(s, n) .. ':' .. string.format('%d', count) .. ':' .. string.format('%d', previous)
end

-- Milliseconds for PEXPIRE: rounded up, at least 1.
local function ttl_ms(ns)
  local ms = div(ns + 999999, 1000000)
  if ms < 1 then
    return 1
  end
  return ms
end

local function gcra(state, s, n, cost, interval, tolerance)
  local increment = tolerance + 1
  if product_le(cost, interval, tolerance, 1) then
    increment = cost * interval
  end
  local behind = 0
  if state then
    behind = diff(state.s, state.n, s, n)
    if behind < 0 then
      behind = 0
    end
  end
  local ahead = behind + increment
  if ahead <= tolerance then
    local ts, tn = add(s, n, ahead)
    local count, previous = 0, 0
    if state then
      count, previous = state.count, state.previous
    end
    return {
      allowed = true, remaining = div(tolerance - ahead, interval), reset = ahead,
      retry = 0, value = encode(ts, tn, count, previous), ttl = ahead,
    }
  end
  local used = math.min(behind, tolerance)
  local retry
  if increment > tolerance then
    retry = math.max(tolerance, 1)
  else
    retry = ahead - tolerance
  end
  return { allowed = false, remaining = div(tolerance - used, interval), reset = retry, retry = retry }
end

local function sliding(state, s, n, cost, limit, window)
  local elapsed = modulo(s, n, window)
  local ss, sn = add(s, n, -elapsed)
  local previous, current = 0, 0
  if state then
    local age = diff(ss, sn, state.s, state.n)
    if age == 0 then
      previous, current = state.previous, state.count
    elseif age == window then
      previous, current = state.count, 0
    end
  end
  local rest = window - elapsed
  if cost <= limit and current + cost <= limit then
    local room = limit - current - cost
    if product_le(previous, rest, room, window) then
      return {
        allowed = true, remaining = room - ceil_muldiv(previous, rest, window), reset = rest,
        retry = 0, value = encode(ss, sn, current + cost, previous), ttl = rest + window,
      }
    end
  end
  local remaining = 0
  if current < limit then
    remaining = math.max(limit - current - ceil_muldiv(previous, rest, window), 0)
  end
  local retry
  if cost > limit then
    retry = window
  elseif current + cost <= limit then
    -- Fits later in this window, once enough of the previous one has slid out.
    local room = limit - current - cost
    local divisor = math.max(previous, 1)
    local covered = window
    if room < divisor then
      covered = muldiv(room, window, divisor)
    end
    retry = math.max(window - covered - elapsed, 1)
  else
    -- Fits in the next window, once enough of this one has slid out.
    local room = limit - cost
    local divisor = math.max(current, 1)
    local covered = window
    if room < divisor then
      covered = muldiv(room, window, divisor)
    end
    retry = math.max(rest + window - covered, 1)
  end
  return { allowed = false, remaining = remaining, reset = retry, retry = retry }
end

local function fixed(state, s, n, cost, limit, window, aligned)
  local ss, sn = s, n
  if aligned then
    ss, sn = add(s, n, -modulo(s, n, window))
  elseif state and state.count > 0 then
    local age = diff(s, n, state.s, state.n)
    if age >= 0 and age < window then
      ss, sn = state.s, state.n
    end
  end
  local count = 0
  if state and state.s == ss and state.n == sn then
    count = state.count
  end
  local reset = window - diff(s, n, ss, sn)
  if count + cost <= limit then
    return {
      allowed = true, remaining = limit - count - cost, reset = reset, retry = 0,
      value = encode(ss, sn, count + cost, 0), ttl = reset,
    }
  end
  local retry = math.max(reset, 1)
  return { allowed = false, remaining = math.max(limit - count, 0), reset = retry, retry = retry }
end

local function refund(state, s, n, cost, algorithm, window, interval)
  if algorithm == 'gcra' then
    local decrement = HUGE
    if product_le(cost, interval, HUGE - 1, 1) then
      decrement = cost * interval
    end
    local ts, tn = add(state.s, state.n, -decrement)
    if ts < 0 then
      ts, tn = 0, 0
    end
    return encode(ts, tn, state.count, state.previous)
  end
  if algorithm == 'sliding' then
    local ss, sn = add(s, n, -modulo(s, n, window))
    local age = diff(ss, sn, state.s, state.n)
    if age == 0 then
      return encode(state.s, state.n, math.max(state.count - cost, 0), state.previous)
    elseif age == -window then
      return encode(state.s, state.n, state.count, math.max(state.previous - cost, 0))
    end
    return nil
  end
  local same
  if algorithm == 'fixed_utc' then
    local ss, sn = add(s, n, -modulo(s, n, window))
    same = state.s == ss and state.n == sn
  else
    local age = diff(s, n, state.s, state.n)
    same = age >= 0 and age < window
  end
  if same then
    return encode(state.s, state.n, math.max(state.count - cost, 0), state.previous)
  end
  return nil
end

-- The request (everything above is pure functions; the tests evaluate them alone).
local mode, clock = ARGV[1], ARGV[2]
local s, n = tonumber(ARGV[3]), tonumber(ARGV[4])
if mode == 'check' and clock == 'redis' then
  local now = redis.call('TIME')
  s, n = tonumber(now[1]), tonumber(now[2]) * 1000
end
local cost = tonumber(ARGV[5])

local states = {}
for i = 1, #KEYS do
  local state = load(KEYS[i])
  if state and state.err then
    return state
  end
  states[i] = state or false
end

if mode == 'refund' then
  local changed = 0
  for i = 1, #KEYS do
    local base = 5 + (i - 1) * 5
    local state = states[i]
    if state then
      local value = refund(state, s, n, cost, ARGV[base + 1], tonumber(ARGV[base + 3]), tonumber(ARGV[base + 4]))
      if value then
        redis.call('SET', KEYS[i], value, 'KEEPTTL')
        changed = changed + 1
      end
    end
  end
  return changed
end

local checks = {}
local allowed = true
for i = 1, #KEYS do
  local base = 5 + (i - 1) * 5
  local algorithm = ARGV[base + 1]
  local limit, window = tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3])
  local state = states[i] or nil
  local check
  if algorithm == 'gcra' then
    check = gcra(state, s, n, cost, tonumber(ARGV[base + 4]), tonumber(ARGV[base + 5]))
  elseif algorithm == 'sliding' then
    check = sliding(state, s, n, cost, limit, window)
  else
    check = fixed(state, s, n, cost, limit, window, algorithm == 'fixed_utc')
  end
  checks[i] = check
  allowed = allowed and check.allowed
end

local reply = { allowed and 1 or 0 }
for i = 1, #KEYS do
  local check = checks[i]
  if allowed then
    redis.call('SET', KEYS[i], check.value, 'PX', ttl_ms(check.ttl))
  end
  reply[#reply + 1] = check.allowed and 1 or 0
  reply[#reply + 1] = check.remaining
  reply[#reply + 1] = check.reset
  reply[#reply + 1] = check.retry
end
return reply
