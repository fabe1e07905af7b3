/**
 * Review: the subject-namespace rule must count every way a subject reaches an audience. A client
 * allowed to re-exchange the bridge's own tokens (subject token type access_token) may present a
 * token issued from ANY source (exchange/steps/authorize.ts lets the bridge's own tokens through
 * whatever the client's `idps` say), and the next hop keeps that token's `sub`. So its audiences
 * receive the subjects of every source some client exchanges: two unprefixed IdPs that each reach
 * only their own audience directly still collide at the audience of a re-exchanging client.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../src/config/load.js";
import { subjectNamespaceProblems, type NamespaceSource } from "../../src/policy/subject-namespace.js";
import { API, OTHER_API, baseConfig } from "../support/harness.js";

const ACCESS = "urn:ietf:params:oauth:token-type:access_token";
const SAML2 = "urn:ietf:params:oauth:token-type:saml2";
const src = (id: string, subjectPrefix?: string, userDirectory?: string): NamespaceSource => ({ id, path: ["samlIdps", id], subjectPrefix, userDirectory });

describe("review: re-exchange carries any source's subjects to the re-exchanging client's audiences", () => {
  const sources = [src("a"), src("b")];

  it.each([
    ["a re-exchanging client with no idps of its own", [
      { id: "ca", audiences: ["x"], idps: ["a"] },
      { id: "cb", audiences: ["y"], idps: ["b"] },
      { id: "hop", audiences: ["z"], idps: [], subjectTokenTypes: [ACCESS] },
    ], "z"],
    ["a re-exchanging client that also exchanges one source directly", [
      { id: "ca", audiences: ["x"], idps: ["a"] },
      { id: "cb", audiences: ["y"], idps: ["b"], subjectTokenTypes: [SAML2, ACCESS] },
    ], "y"],
    ["the re-exchanging client shares an audience with a direct one", [
      { id: "ca", audiences: ["x"], idps: ["a"] },
      { id: "cb", audiences: ["y"], idps: ["b"] },
      { id: "hop", audiences: ["x"], idps: [], subjectTokenTypes: [ACCESS] },
    ], "x"],
  ])("%s: a problem at that audience", (_n, clients, audience) => {
    const problems = subjectNamespaceProblems(clients, sources);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toContain(`audience "${audience}"`);
    expect(problems[0]!.message).toContain("re-exchanging the bridge's tokens");
  });

  it("no problem when the sources have distinct prefixes, share one declared directory, or nobody re-exchanges", () => {
    const clients = [
      { id: "ca", audiences: ["x"], idps: ["a"] },
      { id: "cb", audiences: ["y"], idps: ["b"] },
      { id: "hop", audiences: ["z"], idps: [], subjectTokenTypes: [ACCESS] },
    ];
    expect(subjectNamespaceProblems(clients, [src("a", "a:"), src("b", "b:")])).toEqual([]);
    expect(subjectNamespaceProblems(clients, [src("a", undefined, "corp"), src("b", undefined, "corp")])).toEqual([]);
    expect(subjectNamespaceProblems(clients.slice(0, 2), sources)).toEqual([]);
    expect(subjectNamespaceProblems([...clients.slice(0, 2), { id: "hop", audiences: ["z"], idps: [], subjectTokenTypes: [SAML2] }], sources)).toEqual([]);
  });

  it("start-up refuses such a config, naming the path; distinct prefixes start", () => {
    const c = baseConfig();
    delete c.userDirectory;
    c.samlIdps = c.samlIdps.slice(0, 2); // idp1, idp2: no prefixes
    c.clients = [
      { ...c.clients[0], audiences: [API], defaultAudience: API, idps: ["idp1"] },
      { ...c.clients[3], audiences: [OTHER_API], defaultAudience: OTHER_API, idps: ["idp2"], subjectTokenTypes: [SAML2, ACCESS] },
    ];
    let issues: { path: string; message: string }[] = [];
    try {
      parseConfig(c);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues = [...e.issues];
    }
    expect(issues.map((i) => i.path)).toEqual(["samlIdps[0].mapping"]);
    expect(issues[0]!.message).toContain(`audience "${OTHER_API}"`);
    c.samlIdps[0].mapping.subjectPrefix = "one:";
    c.samlIdps[1].mapping.subjectPrefix = "two:";
    expect(() => parseConfig(c)).not.toThrow();
  });
});
