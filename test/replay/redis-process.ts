/**
 * Moved to support/redis-process.ts (one helper for private redis-server / redis-sentinel
 * processes, shared with redis-ha/topologies.ts). This re-export keeps work in progress that still
 * imports the old path compiling; import from ../support/redis-process.js instead.
 */
export * from "../support/redis-process.js";
