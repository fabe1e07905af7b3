/**
 * The container image without a container engine (none runs on the test machines): the build
 * context is computed from .dockerignore with Docker's own rules (moby/patternmatcher: Go
 * filepath.Match globs plus `**`, a pattern matching a parent directory matches everything under
 * it, `!` re-includes, the last matching line wins) over this tree plus the files a developer's
 * machine generates. Checked both ways: nothing generated or secret goes in (keys, the example
 * IdP's metadata, node_modules, dist, .env, logs, .git), and every source the Dockerfile COPYs
 * does. The start commands (Dockerfile CMD, compose) name entry points the build produces, and the
 * base image is a maintained Node LTS line that `engines` admits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./processes.js";

interface Rule { negate: boolean; re: RegExp }

/** One .dockerignore line as Docker reads it: trimmed, leading "/" dropped, path cleaned. */
function compile(line: string): Rule | undefined {
  let p = line.trim();
  if (p === "" || p.startsWith("#")) return undefined;
  const negate = p.startsWith("!");
  if (negate) p = p.slice(1).trim();
  p = p.replace(/^\/+/, "").replace(/\/+$/, "").replace(/\/\.(?=\/|$)/g, "");
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*" && p[i + 1] === "*") {
      // `**` matches any number of directories (zero included).
      i++;
      if (p[i + 1] === "/") {
        i++;
        re += "(?:.*/)?";
      } else re += ".*";
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = p.indexOf("]", i);
      re += p.slice(i, end + 1).replace(/^\[!/, "[^");
      i = end;
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return { negate, re: new RegExp(`^${re}$`) };
}

const rules = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n").map(compile).filter((r): r is Rule => r !== undefined);

/** Whether `path` (relative, "/"-separated) is left out of the build context. */
function excluded(path: string): boolean {
  const parents = path.split("/").map((_, i, parts) => parts.slice(0, i + 1).join("/"));
  let out = false;
  for (const r of rules) if (parents.some((p) => r.re.test(p))) out = !r.negate;
  return out;
}

/** Every file of the tree, not descending into the big generated directories (sampled below instead). */
function walk(dir: string, acc: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name);
    const rel = relative(ROOT, abs);
    if (/^(node_modules|dist|\.git|\.stryker-tmp[^/]*|reports)$/.test(rel)) continue;
    if (statSync(abs).isDirectory()) walk(abs, acc);
    else acc.push(rel);
  }
  return acc;
}

// What a developer's machine holds besides the sources: generated keys and metadata, secrets, builds.
const GENERATED = [
  "certs/dev-signing-key.pem", "certs/example-idp.key", "certs/example-idp.crt", "certs/example-idp.xml",
  "metadata/example-idp.xml", ".env", ".env.local", "config/.env", "npm-debug.log", "fedbridge.log",
  "node_modules/express/package.json", "node_modules/.bin/tsc", "dist/src/main.js", "dist/scripts/dev-keys.js",
  ".git/HEAD", ".git/config", ".stryker-tmp/sandbox/src/main.ts", "reports/mutation/index.html",
  "test/fixtures/keys/idp1.key", "config/tls/server.key", "src/secret.pem", "scripts/bundle.p12",
];

const tree = walk(ROOT);
const context = [...tree, ...GENERATED].filter((f) => !excluded(f));

describe(".dockerignore: what the image is built from", () => {
  it("the matcher reads Docker's rules (self-check on the rule shapes the file uses)", () => {
    expect(excluded("anything/at/all")).toBe(true);
    expect(excluded("src/main.ts")).toBe(false);
    expect(excluded("src/deep/nested/file.ts")).toBe(false);
    expect(excluded("metadata/README.md")).toBe(false);
    expect(excluded("metadata/example-idp.xml")).toBe(true);
    expect(excluded("src/node_modules/x.js")).toBe(true);
    expect(excluded("config/.env")).toBe(true);
  });

  it("leaves out every generated key and metadata file, node_modules, dist, .env, logs, .git, tests", () => {
    for (const f of GENERATED) expect(excluded(f), f).toBe(true);
    const leaked = context.filter((f) => /(^|\/)(certs|node_modules|dist|\.git|test|\.stryker-tmp)\//.test(f) || /\.(pem|key|crt|p12|pfx|log)$/.test(f) || /(^|\/)\.env/.test(f) || f === "metadata/example-idp.xml");
    expect(leaked).toEqual([]);
  });

  it("takes in every source the Dockerfile copies from the context (and the context is small)", () => {
    const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
    expect(copies.length).toBeGreaterThan(5);
    for (const src of copies) {
      expect(existsSync(join(ROOT, src)), `${src} exists`).toBe(true);
      // (A generated file that happens to lie in a copied directory stays out: checked above.)
      const files = statSync(join(ROOT, src)).isDirectory() ? tree.filter((f) => f.startsWith(`${src}/`) && !GENERATED.includes(f)) : [src];
      expect(files.length, `${src} has files`).toBeGreaterThan(0);
      for (const f of files) expect(excluded(f), `${f} (COPY ${src})`).toBe(false);
    }
    // The build needs every TypeScript source of what tsconfig.build.json compiles.
    const include = (JSON.parse(readFileSync(join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] }).include;
    for (const dir of include) for (const f of tree.filter((x) => x.startsWith(`${dir}/`) && x.endsWith(".ts"))) expect(excluded(f), f).toBe(false);
    // Nothing else sneaks in: the context is the copied sources and nothing more.
    const outside = context.filter((f) => !copies.some((c) => f === c || f.startsWith(`${c}/`)));
    expect(outside).toEqual([]);
  });
});

describe("the image's start", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8")) as { services: Record<string, Record<string, any>>; volumes: Record<string, unknown> };

  it("CMD is exec form (node is PID 1 and receives SIGTERM itself) and runs the production entry point the build makes", () => {
    const cmd = /^CMD (.+)$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd!)).toEqual(["node", "dist/src/cluster.js"]);
    expect(/^STOPSIGNAL SIGTERM$/m.test(dockerfile)).toBe(true);
    expect(/^USER node$/m.test(dockerfile)).toBe(true);
    // `npm run build` (run by `npm test`) produces the entry points the image and compose start.
    for (const entry of ["dist/src/cluster.js", "dist/src/main.js", "dist/scripts/dev-keys.js", "dist/scripts/example-assertion.js"]) {
      expect(existsSync(join(ROOT, entry)), entry).toBe(true);
    }
  });

  it("the base image is a maintained Node LTS line (an even major, 22 or later) that package.json engines admits", () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-[a-z]+-slim$/m.exec(dockerfile);
    expect(image, "ARG NODE_IMAGE=node:<major>-<debian>-slim").not.toBeNull();
    const major = Number(image![1]);
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
    const engines = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
    const min = /^>=(\d+)\.(\d+)\.(\d+)$/.exec(engines);
    expect(min, `engines.node ${engines}`).not.toBeNull();
    expect(major).toBeGreaterThanOrEqual(Number(min![1]));
    // The Node running this test satisfies engines too (CI tests what engines claims).
    const [maj, mi] = process.versions.node.split(".").map(Number) as [number, number];
    expect(maj > Number(min![1]) || (maj === Number(min![1]) && mi >= Number(min![2]))).toBe(true);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\}/gm)).toHaveLength(2);
  });

  it("compose: keys and the metadata trusting them live together on one volume, made once, mounted read-only by every replica", () => {
    const { keys, bridge, proxy, redis } = compose.services;
    expect(keys!.command).toEqual(["node", "dist/scripts/dev-keys.js", "--metadata-dir", "certs"]);
    expect(keys!.volumes).toEqual(["dev-keys:/app/certs"]);
    expect(bridge!.volumes).toEqual(["dev-keys:/app/certs:ro"]);
    expect(bridge!.depends_on.keys.condition).toBe("service_completed_successfully");
    expect(bridge!.depends_on.redis.condition).toBe("service_healthy");
    const config = readFileSync(join(ROOT, bridge!.environment.FEDBRIDGE_CONFIG as string), "utf8");
    expect(config).toMatch(/metadataFile: \.\.\/certs\/example-idp\.xml/);
    expect(config).toMatch(/privateKeyFile: \.\.\/certs\/dev-signing-key\.pem/);
    expect(bridge!.command).toEqual(["node", "dist/src/cluster.js"]);
    expect(bridge!.deploy.replicas).toBe(2);
    expect(bridge!.ports, "replicas are reached through the proxy only").toBeUndefined();
    expect(proxy!.ports).toEqual(["127.0.0.1:8080:8080"]);
    expect(proxy!.volumes).toEqual(["./deploy/compose/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"]);
    // Redis persistent: AOF, fsync always, on a named volume, never evicting a replay mark.
    expect(redis!.command).toEqual(expect.arrayContaining(["--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction"]));
    expect(redis!.volumes).toEqual(["redis-data:/data"]);
    expect(Object.keys(compose.volumes).sort()).toEqual(["dev-keys", "redis-data"]);
  });

  it("compose: the stop deadline is above the config's drain grace", () => {
    const bridge = compose.services.bridge!;
    const config = parse(readFileSync(join(ROOT, bridge.environment.FEDBRIDGE_CONFIG as string), "utf8")) as { server: { shutdownGraceMs: number; shutdownDelayMs: number } };
    const stopMs = Number(/^(\d+)s$/.exec(bridge.stop_grace_period as string)![1]) * 1000;
    expect(stopMs).toBeGreaterThan(config.server.shutdownGraceMs);
    expect(config.server.shutdownDelayMs).toBeLessThan(config.server.shutdownGraceMs);
  });
});
