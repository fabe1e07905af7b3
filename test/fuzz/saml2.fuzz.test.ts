/** Fuzz target: the SAML 2.0 subject-token verifier (verifySaml2Token via the bridge's verifier map). */
import { afterAll, beforeAll, it } from "vitest";
import { TOKEN_TYPES } from "../../src/oauth/constants.js";
import { startBridge, signedAssertion, type TestBridge } from "../support/harness.js";
import { buildResponse2 } from "../support/saml-builder.js";
import { KEYS, signWithSamlsign, signWithXmlsec1 } from "../support/independent-signers.js";
import { buildAssertion2 } from "../support/saml-builder.js";
import { fuzzSamlVerifier } from "./saml-target.js";
import { fuzzRuns } from "./support.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startBridge({ now: Date.parse("2026-01-15T10:00:00Z") });
});
afterAll(async () => {
  await bridge?.close();
});

it("SAML 2.0: every mutated token is refused with an OAuthError, or verifies to the same identity", async () => {
  const verifier = bridge.services.tokenVerifiers.get(TOKEN_TYPES.saml2)!;
  const now = new Date(bridge.clock.now);
  const bare = signedAssertion(bridge);
  const inner = signWithSamlsign(buildAssertion2({ now, id: "_fz_inner", attributes: [{ name: "role", values: ["user", "editor"] }] }), "_fz_inner", { key: KEYS.idp1 });
  const response = buildResponse2(inner, { now, id: "_fz_resp" });
  const signedResponse = signWithXmlsec1(buildResponse2(signedAssertion(bridge, { id: "_fz_both" }), { now, id: "_fz_resp2" }), "_fz_resp2", { key: KEYS.idp1 });
  await fuzzSamlVerifier({
    name: "saml2",
    verify: (token) => verifier(token, bridge.clock.now),
    documents: [bare, response, signedResponse],
    runs: fuzzRuns(250),
  });
});
