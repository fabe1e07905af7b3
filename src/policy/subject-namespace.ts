/**
 * Subject namespaces: one `sub` must never name two people.
 *
 * RFC 7519 §4.1.2: a `sub` is unique only in the context of its issuer, and every token the bridge
 * issues has one issuer, the bridge. Two sources (SAML IdPs, JWT issuers) that both assert
 * "alice" would otherwise yield the same `sub` in tokens for one audience, which most resource
 * servers key users on (only the `idp` claim would differ). So, for every audience, the sources
 * whose subjects can reach it (through any client whose `idps` and `audiences` both include them)
 * must have distinct subject namespaces:
 *
 * - a client that re-exchanges the bridge's own tokens (subject token type access_token) reaches
 *   its audiences with the subjects of every source any client exchanges, since such a token
 *   keeps its `sub`;
 * - a source's namespace is its `mapping.subjectPrefix` ("" when none is set);
 * - two namespaces are distinct only when neither prefix is a prefix of the other: "a:" and
 *   "a:b:" overlap ("a:" + "b:x" = "a:b:" + "x"), and no prefix at all overlaps with everything;
 * - sources that declare the same user directory (`mapping.userDirectory`, or the top-level
 *   `userDirectory` for sources that name none) assert identifiers from one directory (e.g. AD FS
 *   and Entra ID in front of one Active Directory): with the SAME prefix they are one namespace and
 *   may share an audience. With different prefixes the overlap rule above still applies ("" and
 *   "corp:" in one directory would still make the directory's "corp:alice" and "alice" collide).
 *
 * A configuration that breaks this is refused at start-up (config/schema.ts superRefine) and an
 * admin-created IdP that would break it is refused at onboarding (admin/idp-manager.ts), both
 * with the message built here. Pure: config slices in, problems out.
 */

export interface NamespaceSource {
  id: string;
  /** Where the source is configured: ["samlIdps", 1], ["jwtIssuers", 0], ["admin", "idps", "dyn"]. */
  path: readonly (string | number)[];
  subjectPrefix: string | undefined;
  /** The effective directory: the source's own, else the top-level default, else none. */
  userDirectory: string | undefined;
}

export interface NamespaceClient {
  id: string;
  audiences: readonly string[];
  idps: readonly string[];
  /** With the access_token type, the client re-exchanges the bridge's own tokens (any source's subjects). */
  subjectTokenTypes?: readonly string[];
}

/** RFC 8693 §3: the bridge's own tokens as subject tokens (the next hop). */
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

export interface NamespaceProblem {
  /** Config path of the setting to change (the later source's mapping). */
  path: (string | number)[];
  message: string;
}

const at = (path: readonly (string | number)[]): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");

/** The namespace a source's subjects are issued in (shown by explain). */
export function namespaceOf(s: Pick<NamespaceSource, "subjectPrefix" | "userDirectory">): { subjectPrefix: string; userDirectory: string | undefined } {
  return { subjectPrefix: s.subjectPrefix ?? "", userDirectory: s.userDirectory };
}

/**
 * Whether two sources may serve one audience: their subjects can never be equal (neither prefix is
 * a prefix of the other), or they are declared one directory and map its users identically.
 */
export function compatibleNamespaces(a: NamespaceSource, b: NamespaceSource): boolean {
  const pa = a.subjectPrefix ?? "";
  const pb = b.subjectPrefix ?? "";
  if (a.userDirectory !== undefined && a.userDirectory === b.userDirectory && pa === pb) return true;
  return !pa.startsWith(pb) && !pb.startsWith(pa);
}

const describe = (s: NamespaceSource): string =>
  `${at(s.path)} "${s.id}" (${s.subjectPrefix === undefined ? "no subjectPrefix" : `subjectPrefix "${s.subjectPrefix}"`}` +
  `${s.userDirectory === undefined ? "" : `, userDirectory "${s.userDirectory}"`})`;

/**
 * Every violation of the rule, or none. `only`: report just the problems involving that source id
 * (admin onboarding checks the IdP being created against everything already there).
 */
export function subjectNamespaceProblems(
  clients: readonly NamespaceClient[],
  sources: readonly NamespaceSource[],
  only?: string,
): NamespaceProblem[] {
  const problems: NamespaceProblem[] = [];
  const byId = new Map(sources.map((s) => [s.id, s]));
  const concerns = (...ids: string[]): boolean => only === undefined || ids.includes(only);

  // Per audience: the sources whose subjects reach it, and through which clients. A client that
  // re-exchanges the bridge's own tokens (access_token) reaches its audiences with the subjects of
  // every source any client exchanges: a token of the bridge keeps its `sub` and may come from any
  // client (exchange/steps/authorize.ts lets the bridge's own tokens through whatever `idps` says).
  const exchanged = [...new Set(clients.flatMap((c) => c.idps))].filter((id) => byId.has(id));
  const reach = new Map<string, Map<string, string[]>>();
  for (const c of clients) {
    const reexchanges = c.subjectTokenTypes?.includes(ACCESS_TOKEN_TYPE) === true;
    for (const aud of c.audiences) {
      const viaSource = reach.get(aud) ?? new Map<string, string[]>();
      reach.set(aud, viaSource);
      for (const id of c.idps) {
        if (byId.has(id)) viaSource.set(id, [...(viaSource.get(id) ?? []), c.id]);
      }
      if (!reexchanges) continue;
      for (const id of exchanged) {
        const via = `${c.id} (re-exchanging the bridge's tokens)`;
        const list = viaSource.get(id) ?? [];
        if (!list.includes(c.id) && !list.includes(via)) viaSource.set(id, [...list, via]);
      }
    }
  }
  const reported = new Set<string>();
  for (const [aud, viaSource] of reach) {
    const ids = [...viaSource.keys()];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = byId.get(ids[i]!)!;
        const b = byId.get(ids[j]!)!;
        const key = [a.id, b.id].sort().join("\u0000");
        if (reported.has(key) || compatibleNamespaces(a, b) || !concerns(a.id, b.id)) continue;
        reported.add(key);
        const via = (s: NamespaceSource): string => `"${s.id}" through clients ${viaSource.get(s.id)!.map((x) => `"${x}"`).join(", ")}`;
        problems.push({
          path: [...b.path, "mapping"],
          message:
            `subjects from ${describe(a)} and ${describe(b)} both reach audience "${aud}" (${via(a)}; ${via(b)}): ` +
            "one identifier asserted by both would become the same `sub`. Give each source a mapping.subjectPrefix " +
            "that is not a prefix of the other's, or, if both assert identifiers from one user directory, declare it " +
            "(the same mapping.userDirectory, or the top-level userDirectory) and use the same subjectPrefix",
        });
      }
    }
  }
  return problems;
}

/** A source as the config and admin records describe it: an id and its mapping's namespace fields. */
interface SourceWithMapping {
  id: string;
  mapping: { subjectPrefix?: string | undefined; userDirectory?: string | undefined };
}

/**
 * Admin onboarding (src/admin/idp-manager.ts): may the IdP `candidate` (created or replaced with
 * this mapping) join the sources already trusted? Returns the first problem's message, or
 * undefined. Config-file sources come from the config; `adminIdps` are the other admin-managed
 * IdPs currently applied (the candidate's previous version among them is ignored).
 */
export function onboardingNamespaceProblem(
  config: {
    clients: readonly NamespaceClient[];
    samlIdps: readonly SourceWithMapping[];
    jwtIssuers: readonly SourceWithMapping[];
    userDirectory?: string | undefined;
  },
  candidate: SourceWithMapping,
  adminIdps: readonly SourceWithMapping[],
): string | undefined {
  const source = (s: SourceWithMapping, path: (string | number)[]): NamespaceSource => ({
    id: s.id, path, subjectPrefix: s.mapping.subjectPrefix, userDirectory: s.mapping.userDirectory ?? config.userDirectory,
  });
  const sources = [
    ...config.samlIdps.map((s, i) => source(s, ["samlIdps", i])),
    ...config.jwtIssuers.map((j, i) => source(j, ["jwtIssuers", i])),
    ...adminIdps.filter((a) => a.id !== candidate.id).map((a) => source(a, ["admin IdP"])),
    source(candidate, ["admin IdP"]),
  ];
  return subjectNamespaceProblems(config.clients, sources, candidate.id)[0]?.message;
}
