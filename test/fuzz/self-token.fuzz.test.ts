/** Fuzz target: the bridge's own access-token verifier (src/tokens/self-token.ts via the verifier map). */
import { afterAll, beforeAll, expect, it } from "vitest";
import { TOKEN_TYPES } from "../../src/oauth/constants.js";
import { exchange, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { fuzzJwtVerifier } from "./jwt-target.js";
import { fuzzRuns } from "./support.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({ now: Date.parse("2026-01-15T10:00:00Z") });
});
afterAll(async () => {
  await bridge?.close();
});

it("own access tokens: every mutated token is refused with an OAuthError, or verifies to the same identity", async () => {
  const res = await exchange(bridge, { xml: signedAssertion(bridge), scope: "read" });
  expect(res.status).toBe(200);
  const token = res.body.access_token as string;
  const verifier = bridge.services.tokenVerifiers.get(TOKEN_TYPES.accessToken)!;
  await fuzzJwtVerifier({ name: "access_token", verify: (t) => verifier(t, bridge.clock.now), tokens: [token], runs: fuzzRuns(300) });
});
