// Explain is a dry run without an HTTP request or a TLS connection, so it cannot check a DPoP proof
// or a client certificate; it must still say when POST /token would require one (RFC 9449 §5,
// audiences[].requireDpop), so "ok" never hides a dpop_proof_missing refusal.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API, CLIENTS, OTHER_API, exchange, expectError, signedAssertion, startBridge, type TestBridge } from "../support/harness.js";
import { toBase64Url } from "../support/independent-signers.js";

const ADMIN_TOKEN = "admin-token-for-tests-only-explain-dpop-0123456789";
const hash = (s: string): string => `sha256:${createHash("sha256").update(s).digest("base64url")}`;

describe("explain reports the sender constraint /token will require", () => {
  let bridge: TestBridge;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "fedbridge-explain-dpop-"));
    bridge = await startBridge({
      patch: (c) => {
        c.admin = { tokens: [{ id: "alice", tokenHash: hash(ADMIN_TOKEN) }], store: { kind: "file", directory: dir } };
        // c1: DPoP allowed (default); OTHER_API requires DPoP; imp: DPoP required for every request
        c.audiences.find((a: { id: string }) => a.id === OTHER_API).requireDpop = true;
        c.clients.find((x: { id: string }) => x.id === CLIENTS.imp.id).dpop = "required";
      },
    });
  });
  afterAll(async () => {
    await bridge?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const explain = (body: Record<string, unknown>) =>
    bridge.http.post("/admin/idps/idp1/explain").set("Authorization", `Bearer ${ADMIN_TOKEN}`).send(body);
  const token = (): string => toBase64Url(signedAssertion(bridge));
  const constraint = (body: { steps: { step: string; detail?: unknown }[] }) => body.steps.find((s) => s.step === "sender_constraint");

  it("no constraint: no sender_constraint step", async () => {
    const res = await explain({ subject_token: token(), client_id: CLIENTS.c1.id, audience: [API] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(constraint(res.body)).toBeUndefined();
  });

  it("an audience with requireDpop: dpop_proof required", async () => {
    const res = await explain({ subject_token: token(), client_id: CLIENTS.c1.id, audience: [OTHER_API] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(constraint(res.body)).toEqual({ step: "sender_constraint", ok: true, detail: { dpop_proof: "required" } });
  });

  it("a client with dpop: required, whatever the audience", async () => {
    const res = await explain({ subject_token: token(), client_id: CLIENTS.imp.id, audience: [API] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(constraint(res.body)?.detail).toEqual({ dpop_proof: "required" });
  });

  it("and /token really refuses those requests without a proof (the report is not decorative)", async () => {
    expectError(await exchange(bridge, { xml: signedAssertion(bridge), audience: OTHER_API }), 400, "invalid_dpop_proof", "dpop_proof_missing");
    expectError(await exchange(bridge, { xml: signedAssertion(bridge), client: CLIENTS.imp }), 400, "invalid_dpop_proof", "dpop_proof_missing");
  });
});
