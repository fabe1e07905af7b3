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
 * server's run_id last seen), seq (the number of marks made in this epoch), reopened_by /
 * reopened_reason / reopened_at (an operator's audited reopen, scripts/replay-reopen.ts).
 *
 * `seq` catches what the marker alone cannot: a failover to a replica that has the marker (it was
 * replicated long ago) but not the last marks (asynchronous replication; or, with Sentinel, marks
 * written to the old master after the replica was promoted, which WAIT on the old master's other
 * replicas acknowledged too). Every mark increments seq; each instance remembers the highest seq
 * it saw; a store whose seq went back below it has lost marks and is closed like a lost one.
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

/** The mark or read met another Redis server than the one this instance checked (a failover, a restart). */
export const SERVER_CHANGED = -3;
/** The marker's seq is below the highest this instance saw: marks made since are gone. */
export const MARKS_MISSING = -4;

/** Lua: the run_id of the server running the script (INFO is allowed in scripts). */
const SERVER_RUN_ID = `(string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or '')`;

/**
 * Lua: refuse to answer from a replica. A demoted master keeps its address and its data, so after a
 * Sentinel failover a client that reconnected to the old address would read the old marker there,
 * carrying the old server's run_id: the check would find "the same server" and report the store up
 * while the new master, which no check has seen, takes the marks. A READONLY error is what a write
 * meets on a replica, and what makes node-redis' Sentinel client ask the sentinels again and retry
 * on the master (its `execute` rediscovers on READONLY); on one server (a URL that names a replica)
 * the check fails and the store counts as down (503), as every mark there would.
 */
const ON_MASTER_ONLY = `
if string.find(redis.call('INFO', 'replication'), 'role:slave', 1, true) then
  return redis.error_reply('READONLY fedbridge replay store: this server is a replica')
end`;

/**
 * The gate both replay scripts open with: the marker must exist, carry the epoch this instance
 * knows, hold at least the seq it saw, and not say "closed until" a later instant. KEYS[1] marker;
 * ARGV[1] now, ARGV[2] epoch, ARGV[3] the run_id of the server this instance last checked, or ''
 * to skip that check, ARGV[4] the highest seq this instance saw in this epoch. With
 * replay.quarantineOnServerChange on, the server is compared inside the script, atomically with
 * the mark: a client library that retries a command on a new master after a failover (node-redis
 * Sentinel does) cannot slip a mark past the quarantine before the bridge notices the change.
 */
const STORE_GATE = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'seq')
if not m[1] then return {-1} end
if ARGV[2] ~= '' and m[1] ~= ARGV[2] then return {-1} end
if ARGV[3] ~= '' and ${SERVER_RUN_ID} ~= ARGV[3] then return {-3} end
local seq = tonumber(m[3]) or 0
if seq < (tonumber(ARGV[4]) or 0) then return {-4} end
local closedUntil = tonumber(m[2]) or 0
if closedUntil > tonumber(ARGV[1]) then return {-2, tostring(m[2])} end`;

/**
 * Every mark checks the marker in the same atomic script, so a flush is noticed at the very next
 * mark, with or without a reconnect. KEYS[1] marker, KEYS[2..] replay keys; ARGV[1] now (ms, the
 * bridge's clock), ARGV[2] the epoch this instance knows ('' = none yet), ARGV[3] the server's
 * run_id or '' and ARGV[4] the seq seen (STORE_GATE), ARGV[5..] TTLs (ms). Replies {1, seq}
 * marked, {0, seq} already used (nothing marked), {-1} marker missing or another epoch (a store
 * this instance has not seen: its data may be gone), {-2, until} closed, {-3} another server,
 * {-4} marks missing. Nothing is written unless the store is open and the same one. On a cluster every key shares the prefix's hash tag (redis/hash-tag.ts).
 */
export const MARK_SCRIPT = `${STORE_GATE}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {0, seq} end
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[i + 3])
end
return {1, redis.call('HINCRBY', KEYS[1], 'seq', 1)}`;

/**
 * The read-only twin (explain's dry run): same KEYS and ARGV[1..4]; {1, seq} any used, {0, seq} none.
 * It writes nothing, so on a replica it would read that replica's possibly late copy: refused there.
 */
export const ANY_USED_SCRIPT = `${ON_MASTER_ONLY}${STORE_GATE}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {1, seq} end
end
return {0, seq}`;

/**
 * Declares the store lost: creates the marker closed until ARGV[2], unless one exists already (another
 * instance declared first, or an operator reopened in between): then that one stands. One exception:
 * a marker of another epoch (ARGV[5], the epoch this instance knew) that a freshly started instance
 * merely initialized (cause 'initialized') sits on a store that lost this instance's data, so it is
 * closed like a missing one. Another: the marker of this epoch with a seq below ARGV[6], the highest
 * this instance saw (marks missing): closed until ARGV[2] at least, and its seq raised to ARGV[6]
 * (the loss is declared once). ARGV[1] now, ARGV[2] until, ARGV[3] new epoch, ARGV[4] cause.
 * Replies {until, cause, epoch} of the marker now in force.
 */
export const DECLARE_LOST_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'cause', 'seq', 'until')
if not m[1] then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[3], 'since', ARGV[1], 'until', ARGV[2], 'cause', ARGV[4], 'run_id', ${SERVER_RUN_ID})
elseif ARGV[5] ~= '' and m[1] ~= ARGV[5] and m[2] == 'initialized' then
  redis.call('HSET', KEYS[1], 'since', ARGV[1], 'until', ARGV[2], 'cause', 'epoch_changed')
elseif m[1] == ARGV[5] and (tonumber(m[3]) or 0) < (tonumber(ARGV[6]) or 0) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[6], 'cause', 'marks_missing', 'since', ARGV[1])
  if (tonumber(m[4]) or 0) < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'until', ARGV[2]) end
end
local r = redis.call('HMGET', KEYS[1], 'until', 'cause', 'epoch')
return {tostring(r[1] or '0'), tostring(r[2] or ''), tostring(r[3] or '')}`;

/**
 * First start of an instance that has never seen this store's marker, with
 * replay.initializeEmptyStore on: creates the marker open (cause 'initialized') unless another
 * instance just did, with this server's run_id (a marker without one would let a failover before
 * the next check pass unnoticed by replay.quarantineOnServerChange). ARGV[1] now, ARGV[2] new epoch.
 * Replies {epoch, until, cause} now in force, and 1 when this call created it.
 */
export const INITIALIZE_SCRIPT = `
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'since', ARGV[1], 'until', '0', 'cause', 'initialized', 'run_id', ${SERVER_RUN_ID})
  created = 1
end
local r = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'cause')
return {tostring(r[1] or ''), tostring(r[2] or '0'), tostring(r[3] or ''), created}`;

/**
 * On every (re)connection and /readyz, on a master only (ON_MASTER_ONLY): reads the marker and records the server's run_id, read by
 * the script itself so that it is the run_id of the very server holding the marker (on a cluster,
 * the master of the marker's slot). A changed run_id means another Redis process (a restart, a
 * failover: the marker a promoted replica holds was replicated with the old master's run_id): when
 * ARGV[2] > 0 (config replay.quarantineOnServerChange), the store is closed until ARGV[2] as if
 * lost. ARGV[1] now, ARGV[3] the epoch this instance knows ('' = none yet), ARGV[4] the highest
 * seq it saw. Replies {-1, run_id, policy} missing or another epoch, {-4, run_id, policy} marks
 * missing (seq went back), or {1, until, cause, changed (0/1), previous run_id, epoch, run_id,
 * policy, seq}; policy is the server's maxmemory-policy.
 */
export const CHECK_SCRIPT = `${ON_MASTER_ONLY}
local runId = ${SERVER_RUN_ID}
local policy = string.match(redis.call('INFO', 'memory'), 'maxmemory_policy:([%w-]+)') or ''
local m = redis.call('HMGET', KEYS[1], 'epoch', 'until', 'run_id', 'cause', 'seq')
if not m[1] then return {-1, runId, policy} end
if ARGV[3] ~= '' and m[1] ~= ARGV[3] then return {-1, runId, policy} end
if (tonumber(m[5]) or 0) < (tonumber(ARGV[4]) or 0) then return {-4, runId, policy} end
local closedUntil = tonumber(m[2]) or 0
local cause = m[4] or ''
local previous = m[3] or ''
local changed = 0
if runId ~= '' and previous ~= '' and previous ~= runId then changed = 1 end
if runId ~= '' and previous ~= runId then redis.call('HSET', KEYS[1], 'run_id', runId) end
if changed == 1 and tonumber(ARGV[2]) > closedUntil then
  closedUntil = tonumber(ARGV[2])
  cause = 'server_changed'
  redis.call('HSET', KEYS[1], 'until', ARGV[2], 'since', ARGV[1], 'cause', cause)
end
return {1, tostring(closedUntil), cause, changed, previous, m[1], runId, policy, tonumber(m[5]) or 0}`;

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
