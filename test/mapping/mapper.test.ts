/** Attributes → claims, scopes and conditions (src/mapping/mapper.ts). */
import { describe, expect, it } from "vitest";
import { checkProxyAudiences, mapSubject } from "../../src/mapping/mapper.js";
import { parseConfig } from "../../src/config/load.js";
import type { MappingConfig } from "../../src/config/schema.js";
import type { SamlAttribute, VerifiedSubject } from "../../src/subject/types.js";
import { baseConfig } from "../support/harness.js";

function mapping(m: Record<string, unknown>): MappingConfig {
  const raw = baseConfig();
  raw.samlIdps[0].mapping = m;
  // idp1 alone: its mapping (a subjectPrefix of its own, say) must not meet the start-up rule on
  // subject namespaces shared with the other test IdPs.
  raw.samlIdps = [raw.samlIdps[0]];
  raw.clients = raw.clients.filter((c: { idps: string[] }) => c.idps.includes("idp1"));
  for (const c of raw.clients) c.idps = ["idp1"];
  return parseConfig(raw).samlIdps[0]!.mapping;
}

const attr = (name: string, values: string[], extra: Partial<SamlAttribute> = {}): SamlAttribute => ({
  name, friendlyName: undefined, nameFormat: undefined, values, ...extra,
});

function subject(attributes: SamlAttribute[], nameId = "alice@example.com"): VerifiedSubject {
  return {
    tokenType: "saml2", source: { id: "idp1", issuer: "https://idp1.test/idp", mapping: undefined },
    subject: nameId, nameIdFormat: undefined, attributes, issuedAt: 0, expiresAt: 1, notAfter: undefined,
    authTime: undefined, acr: undefined, oneTimeUse: undefined, act: undefined, mayAct: undefined,
    granted: undefined, keyId: undefined,
  };
}

describe("mapSubject", () => {
  it("takes sub from the NameID by default", () => {
    expect(mapSubject(subject([]), mapping({})).sub).toBe("alice@example.com");
  });

  it("takes sub from a single-valued attribute when configured", () => {
    const m = mapping({ subject: { attribute: { name: "uid" } } });
    expect(mapSubject(subject([attr("uid", ["a123"])]), m).sub).toBe("a123");
    expect(() => mapSubject(subject([attr("uid", ["a", "b"])]), m)).toThrow("mapping_required_missing");
    expect(() => mapSubject(subject([]), m)).toThrow("mapping_required_missing");
    // The one subject-identifier rule applies to a mapped subject too.
    expect(() => mapSubject(subject([attr("uid", [" a "])]), m)).toThrow("subject_invalid");
    expect(() => mapSubject(subject([attr("uid", ["a\u202eb"])]), m)).toThrow("subject_invalid");
    expect(() => mapSubject(subject([attr("uid", ["x".repeat(1025)])]), m)).toThrow("subject_invalid");
  });

  it("maps by Name or by FriendlyName, and by NameFormat when asked", () => {
    const m = mapping({
      claims: {
        email: { from: { friendlyName: "mail" } },
        uid: { from: { name: "urn:oid:0.9.2342.19200300.100.1.1", nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri" } },
      },
    });
    const out = mapSubject(subject([
      attr("urn:oid:0.9.2342.19200300.100.1.3", ["a@x"], { friendlyName: "mail" }),
      attr("urn:oid:0.9.2342.19200300.100.1.1", ["wrong-format"], { nameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic" }),
    ]), m);
    expect(out.claims).toEqual({ email: "a@x" });
  });

  it("multi-valued, single-valued, required, default and transforms", () => {
    const m = mapping({
      claims: {
        groups: { from: { name: "groups" }, multi: true },
        dept: { from: { name: "dept" }, default: "none" },
        email: { from: { name: "mail" }, required: true, transform: "lowercase" },
        code: { from: { name: "code" }, transform: "uppercase" },
      },
    });
    const out = mapSubject(subject([attr("groups", ["a", "b"]), attr("mail", ["A@X.ORG"]), attr("code", ["x1"])]), m);
    expect(out.claims).toEqual({ groups: ["a", "b"], dept: "none", email: "a@x.org", code: "X1" });
    expect(() => mapSubject(subject([attr("groups", ["a"])]), m)).toThrow("mapping_required_missing");
    // a single-valued claim with two values is refused, not silently truncated
    expect(() => mapSubject(subject([attr("mail", ["a@x", "b@x"])]), m)).toThrow("mapping_required_missing");
  });

  it("grants scopes from attribute values, never from an attribute named scope", () => {
    const m = mapping({
      scopes: [
        { when: { name: "groups" }, anyOf: ["admins"], grant: ["write"] },
        { grant: ["read"] },
      ],
    });
    expect([...mapSubject(subject([attr("groups", ["admins"])]), m).grantedScopes]).toEqual(["write", "read"]);
    expect([...mapSubject(subject([attr("scope", ["write"]), attr("groups", ["users"])]), m).grantedScopes]).toEqual(["read"]);
  });

  it("refuses when a required condition does not hold", () => {
    const m = mapping({ require: [{ attribute: { name: "groups" }, anyOf: ["staff"] }] });
    expect(() => mapSubject(subject([attr("groups", ["guests"])]), m)).toThrow("policy_condition_failed");
    expect(() => mapSubject(subject([]), m)).toThrow("policy_condition_failed");
    expect(mapSubject(subject([attr("groups", ["guests", "staff"])]), m).sub).toBe("alice@example.com");
  });

  it("prefixes sub when the mapping says so (one issuer, many IdPs: RFC 7519 §4.1.2)", () => {
    expect(mapSubject(subject([]), mapping({ subjectPrefix: "partner|" })).sub).toBe("partner|alice@example.com");
  });

  it("an attribute called __proto__ pollutes nothing", () => {
    const m = mapping({ claims: { weird: { from: { name: "__proto__" }, multi: true } } });
    const out = mapSubject(subject([attr("__proto__", ["polluted"]), attr("constructor", ["x"])]), m);
    expect(Object.getPrototypeOf(out.claims)).toBe(Object.prototype);
    expect(out.claims).toEqual({ weird: ["polluted"] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("checkProxyAudiences (SAML Core §2.5.1.6: the issued token's audiences)", () => {
  const api = "https://api.example.com";
  const other = "https://other.example.com";
  it("no ProxyRestriction audiences: any target", () => {
    expect(() => checkProxyAudiences({ proxyAudiences: undefined }, [api, other])).not.toThrow();
  });
  it("every target must be listed", () => {
    expect(() => checkProxyAudiences({ proxyAudiences: [api] }, [api])).not.toThrow();
    expect(() => checkProxyAudiences({ proxyAudiences: [api, other] }, [other, api])).not.toThrow();
    expect(() => checkProxyAudiences({ proxyAudiences: [api] }, [other])).toThrow("proxy_audience_not_allowed");
    expect(() => checkProxyAudiences({ proxyAudiences: [api] }, [api, other])).toThrow("proxy_audience_not_allowed");
    expect(() => checkProxyAudiences({ proxyAudiences: [api] }, [])).toThrow("proxy_audience_not_allowed");
  });
  it("exact comparison: no case folding, no trailing slash, no prefix match", () => {
    for (const t of ["https://API.example.com", `${api}/`, `${api}/v1`, "https://api.example.co"]) {
      expect(() => checkProxyAudiences({ proxyAudiences: [api] }, [t]), t).toThrow("proxy_audience_not_allowed");
    }
  });
});
