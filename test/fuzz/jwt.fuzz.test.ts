/** Fuzz target: the JWT / ID token verifier (src/jwt/verifier.ts via the bridge's verifier map). */
import { afterAll, beforeAll, it } from "vitest";
import { TOKEN_TYPES } from "../../src/oauth/constants.js";
import { type TestBridge } from "../support/harness.js";
import { JWT_KEYS, pySignMany } from "../support/independent-jwt.js";
import { ciClaims, corpClaims, startJwtBridge, withJwtIssuers } from "../support/jwt-fixtures.js";
import { fuzzJwtVerifier } from "./jwt-target.js";
import { fuzzRuns } from "./support.js";

let bridge: TestBridge;
beforeAll(async () => {
  bridge = await startJwtBridge({ now: Date.parse("2026-01-15T10:00:00Z"), patch: (c) => withJwtIssuers(c) });
});
afterAll(async () => {
  await bridge?.close();
});

it("JWT and ID tokens: every mutated token is refused with an OAuthError, or verifies to the same identity", async () => {
  const now = bridge.clock.now;
  const [idToken, idTokenJwcrypto, ciToken] = pySignMany([
    { key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(now) },
    { lib: "jwcrypto", key: JWT_KEYS.oidc, alg: "RS256", header: { kid: "oidc-rs-1" }, claims: corpClaims(now) },
    { key: JWT_KEYS.ci, alg: "ES256", header: { kid: "ci-es-1" }, claims: ciClaims(now) },
  ]);
  const idVerifier = bridge.services.tokenVerifiers.get(TOKEN_TYPES.idToken)!;
  const jwtVerifier = bridge.services.tokenVerifiers.get(TOKEN_TYPES.jwt)!;
  await fuzzJwtVerifier({ name: "id_token", verify: (t) => idVerifier(t, now), tokens: [idToken!, idTokenJwcrypto!], runs: fuzzRuns(300) });
  await fuzzJwtVerifier({ name: "jwt", verify: (t) => jwtVerifier(t, now), tokens: [ciToken!, idToken!], runs: fuzzRuns(300) });
});
