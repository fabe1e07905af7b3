/**
 * The shared Redis the integration tests use (the one `.ci/run` starts): FEDBRIDGE_TEST_REDIS_URL,
 * default redis://127.0.0.1:6379, so a developer whose Redis is elsewhere (another port, a
 * container, another host) can run `npm test`:
 *   FEDBRIDGE_TEST_REDIS_URL=redis://127.0.0.1:6380 npm test
 * Tests that stop, stall or restart Redis start their own redis-server instead (support/redis-process.ts).
 * Every key a test writes there is under a random per-run prefix and deleted afterwards.
 */
export const DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379";

export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.FEDBRIDGE_TEST_REDIS_URL?.trim();
  if (raw === undefined || raw === "") return DEFAULT_TEST_REDIS_URL;
  if (!/^rediss?:\/\/\S+$/.test(raw)) throw new Error(`FEDBRIDGE_TEST_REDIS_URL must be a redis:// or rediss:// URL (got ${JSON.stringify(raw)})`);
  return raw;
}

/** The shared test Redis, e.g. redis://127.0.0.1:6379. */
export const TEST_REDIS_URL = testRedisUrl();
