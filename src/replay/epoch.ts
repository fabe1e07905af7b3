import { randomBytes } from "node:crypto";

/**
 * The epoch marker of a Redis replay store: one hash key beside the replay keys, written once and
 * never expiring. While it exists, the store still holds everything it was given since it was
 * written; when it is gone (a restart without persistence, a failover to an empty replica, FLUSHALL,
 * a new Redis behind the same URL), every replay key may be gone too, and every token used before
 * would be accepted again. The marker also carries the lost-store state every bridge instance
 * honours: `until`, the instant (ms) exchanges may resume; 0 = open.
 *
 * Fields: epoch (random id of this store's life), since (ms), until (ms), cause, run_id (the Redis
 * server's run_id last seen), reopened_by / reopened_reason / reopened_at (an operator's audited
 * reopen, scripts/replay-reopen.ts).
 *
 * Replay keys are base64url (replay/store.ts replayKey): "!" keeps the marker out of their space.
 */
export function markerKey(keyPrefix: string): string {
  return `${keyPrefix}!epoch`;
}

export function newEpoch(): string {
  return randomBytes(12).toString("base64url");
}

/** Script replies: the marker is missing (the store forgot), or it says the store is closed. */
export const MARKER_MISSING = -1;
export const STORE_CLOSED = -2;

/**
 * The gate both replay scripts open with: the marker must exist, carry the epoch this instance
 * knows, and not say "closed until" a later instant. KEYS[1] marker; ARGV[1] now, ARGV[2] epoch.
 */
const STORE_GATE = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'until')
if not m[1] then return {-1} end
if ARGV[2] ~= '' and m[1] ~= ARGV[2] then return {-1} end
local closedUntil = tonumber(m[2]) or 0
if closedUntil > tonumber(ARGV[1]) then return {-2, tostring(m[2])} end`;

/**
 * Every mark checks the marker in the same atomic script, so a flush is noticed at the very next
 * mark, with or without a reconnect. KEYS[1] marker, KEYS[2..] replay keys; ARGV[1] now (ms, the
 * bridge's clock), ARGV[2] the epoch this instance knows ('' = none yet), ARGV[3..] TTLs (ms).
 * Replies {1} marked, {0} already used (nothing marked), {-1} marker missing or another epoch (a
 * store this instance has not seen: its data may be gone), {-2, until} closed. Nothing is written
 * unless the store is open and the same one.
 */
export const MARK_SCRIPT = `${STORE_GATE}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {0} end
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[i + 1])
end
return {1}`;

/** The read-only twin (explain's dry run): same KEYS and ARGV[1..2]; {1} any used, {0} none. */
export const ANY_USED_SCRIPT = `${STORE_GATE}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {1} end
end
return {0}`;

/**
 * Declares the store lost: creates the marker closed until ARGV[2], unless one exists already (another
 * instance declared first, or an operator reopened in between): then that one stands. One exception:
 * a marker of another epoch (ARGV[5], the epoch this instance knew) that a freshly started instance
 * merely initialized (cause 'initialized') sits on a store that lost this instance's data, so it is
 * closed like a missing one. ARGV[1] now, ARGV[2] until, ARGV[3] new epoch, ARGV[4] cause.
 * Replies {until, cause, epoch} of the marker now in force.
 */
export const DECLARE_LOST_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'cause')
if not m[1] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'since', ARGV[1], 'until', ARGV[2], 'cause', ARGV[4])
elseif ARGV[5] ~= '' and m[1] ~= ARGV[5] and m[2] == 'initialized' then
  redis.call('HSET', KEYS[1], 'since', ARGV[1], 'until', ARGV[2], 'cause', 'epoch_changed')
end
local r = redis.call('HMGET', KEYS[1], 'until', 'cause', 'epoch')
return {tostring(r[1] or '0'), tostring(r[2] or ''), tostring(r[3] or '')}`;

/**
 * First start of an instance that has never seen this store's marker, with
 * replay.initializeEmptyStore on: creates the marker open (cause 'initialized') unless another
 * instance just did. ARGV[1] now, ARGV[2] new epoch. Replies {epoch, until, cause} now in force, and
 * 1 when this call created it.
 */
export const INITIALIZE_SCRIPT = `
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'since', ARGV[1], 'until', '0', 'cause', 'initialized')
  created = 1
end
local r = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'cause')
return {tostring(r[1] or ''), tostring(r[2] or '0'), tostring(r[3] or ''), created}`;

/**
 * On every (re)connection and /readyz: reads the marker and records the server's run_id. A changed
 * run_id means another Redis process (a restart, a failover): when ARGV[3] > 0 (config
 * replay.quarantineOnServerChange), the store is closed until ARGV[3] as if lost. ARGV[1] now,
 * ARGV[2] run_id, ARGV[4] the epoch this instance knows ('' = none yet). Replies {-1} missing or
 * another epoch, or {1, until, cause, changed (0/1), previous run_id, epoch}.
 */
export const CHECK_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'run_id', 'cause')
if not m[1] then return {-1} end
if ARGV[4] ~= '' and m[1] ~= ARGV[4] then return {-1} end
local closedUntil = tonumber(m[2]) or 0
local cause = m[4] or ''
local previous = m[3] or ''
local changed = 0
if ARGV[2] ~= '' and previous ~= '' and previous ~= ARGV[2] then changed = 1 end
if ARGV[2] ~= '' and previous ~= ARGV[2] then redis.call('HSET', KEYS[1], 'run_id', ARGV[2]) end
if changed == 1 and tonumber(ARGV[3]) > closedUntil then
  closedUntil = tonumber(ARGV[3])
  cause = 'server_changed'
  redis.call('HSET', KEYS[1], 'until', ARGV[3], 'since', ARGV[1], 'cause', cause)
end
return {1, tostring(closedUntil), cause, changed, previous, m[1]}`;

/**
 * The operator's reopen (and the initialisation of a new store): the marker is set open now,
 * keeping its epoch (or starting one), with who and why. KEYS[1] marker; ARGV[1] now, ARGV[2]
 * operator, ARGV[3] reason, ARGV[4] new epoch. Replies {previous until or '', previous cause}.
 */
export const REOPEN_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'cause')
if not m[1] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[4], 'since', ARGV[1])
end
redis.call('HSET', KEYS[1], 'until', '0', 'cause', 'reopened', 'reopened_by', ARGV[2], 'reopened_reason', ARGV[3], 'reopened_at', ARGV[1])
return {tostring(m[2] or ''), tostring(m[3] or '')}`;

/** The slice of a node-redis client these functions use. */
export interface EvalClient {
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Opens the store now: an audited operator action (scripts/replay-reopen.ts), never automatic. Also
 * how a brand-new Redis is initialised: the bridge cannot tell a first start from a lost store.
 */
export async function reopenReplayStore(
  client: EvalClient,
  keyPrefix: string,
  o: { now: number; operator: string; reason: string },
): Promise<{ previousUntil: number | undefined; previousCause: string }> {
  const reply = (await client.eval(REOPEN_SCRIPT, {
    keys: [markerKey(keyPrefix)],
    arguments: [String(o.now), o.operator, o.reason, newEpoch()],
  })) as [string, string];
  return { previousUntil: reply[0] === "" ? undefined : Number(reply[0]), previousCause: reply[1] };
}
