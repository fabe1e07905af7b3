/** Fuzz target: the SAML 1.1 subject-token verifier (verifySaml1Token via the bridge's verifier map). */
import { afterAll, beforeAll, it } from "vitest";
import { TOKEN_TYPES } from "../../src/oauth/constants.js";
import { startBridge, type TestBridge } from "../support/harness.js";
import { assertion11, response11, withIdp11 } from "../support/saml1-bridge.js";
import { fuzzSamlVerifier } from "./saml-target.js";
import { fuzzRuns } from "./support.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({ now: Date.parse("2026-01-15T10:00:00Z"), patch: (c) => withIdp11(c) });
});
afterAll(async () => {
  await bridge?.close();
});

it("SAML 1.1: every mutated token is refused with an OAuthError, or verifies to the same identity", async () => {
  const verifier = bridge.services.tokenVerifiers.get(TOKEN_TYPES.saml1)!;
  await fuzzSamlVerifier({
    name: "saml1",
    verify: (token) => verifier(token, bridge.clock.now),
    documents: [assertion11(bridge).xml, response11(bridge).xml, response11(bridge, { assertion: { signer: "samlsign" }, signer: null }).xml],
    runs: fuzzRuns(250),
  });
});
