// The suite-wide log check (log-hygiene.ts) can fail: a credential-shaped line is recorded by name.
import { describe, expect, it } from "vitest";
import { checkLogLine, dirtyLogLines } from "./log-hygiene.js";

describe("log hygiene check", () => {
  it.each([
    ["a JWS", { event: "x", detail: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln" }, "x: detail"],
    ["XML", { event: "y", note: "<saml:Assertion ID='a'>" }, "y: note"],
    ["a credential-named field", { event: "z", client_secret: "s3cret" }, "z: client_secret"],
    ["a long base64 run", { event: "w", blob: "A".repeat(120) }, "w: blob"],
  ])("records %s by event and field, never the value", (_n, entry, expected) => {
    const before = dirtyLogLines.length;
    checkLogLine(entry);
    expect(dirtyLogLines.slice(before)).toEqual([expected]);
    dirtyLogLines.splice(before); // this file's own afterAll must pass
  });

  it("lets a clean line through", () => {
    const before = dirtyLogLines.length;
    checkLogLine({ event: "token_exchange", client: "c1", reason: "replayed", jti: "8df9daf4-89b2-436d-a053-ada82093c9c5" });
    expect(dirtyLogLines.length).toBe(before);
  });
});
