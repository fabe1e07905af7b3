import { ConfigError, loadConfigFile, type LoadedConfig } from "../config/load.js";
import { loadIdps } from "../bootstrap.js";
import { loadDecryptionKeys } from "../saml/decryption-keys.js";
import { jwtIssuersOf, signingKeysOf } from "./offline.js";

export interface Problem {
  path: string;
  message: string;
}

/**
 * Every problem of a config file: first its schema (every bad field at once), then, when the
 * schema holds, each file it names (metadata, keys, JWKS files) checked on its own, so one bad
 * file does not hide the next. Nothing is fetched, nothing listens.
 */
export async function configProblems(file: string): Promise<{ problems: Problem[]; loaded?: LoadedConfig }> {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfigFile(file);
  } catch (e) {
    if (e instanceof ConfigError) return { problems: [...e.issues] };
    throw e;
  }
  const problems: Problem[] = [];
  const collect = async (check: () => unknown): Promise<void> => {
    try {
      await check();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.issues);
    }
  };
  const { config, baseDir } = loaded;
  // One IdP at a time (each error names its own index), then all together (duplicate entityIDs).
  for (const [i, idp] of config.samlIdps.entries()) {
    await collect(() => {
      try {
        loadIdps({ ...config, samlIdps: [idp] }, baseDir);
      } catch (e) {
        if (e instanceof ConfigError) throw new ConfigError(e.issues.map((x) => ({ ...x, path: x.path.replace(/^samlIdps\[0\]/, `samlIdps[${i}]`) })));
        throw e;
      }
    });
  }
  if (problems.length === 0) await collect(() => loadIdps(config, baseDir));
  await collect(() => signingKeysOf(loaded));
  await collect(() => jwtIssuersOf(loaded));
  await collect(() => loadDecryptionKeys(config.saml, baseDir));
  return { problems, loaded };
}
