import type { ClientConfig } from "../config/schema.js";
import { dummyScryptHash, hashSecretSha256, verifySecret } from "./secret-hash.js";

/**
 * The configured OAuth clients. `authenticate` costs the same whether or not the client exists
 * (an unknown id is checked against a dummy hash), so response timing does not reveal client ids.
 */
export class ClientRegistry {
  readonly #byId: ReadonlyMap<string, ClientConfig>;
  readonly #dummyHash: string;

  constructor(clients: readonly ClientConfig[]) {
    this.#byId = new Map(clients.map((c) => [c.id, c]));
    // The dummy costs what the most expensive real check costs: with scrypt clients configured,
    // an unknown id must not answer in microseconds where a known one takes milliseconds.
    const scrypt = clients.map((c) => c.secretHash).filter((h) => h.startsWith("scrypt:"))
      .map((h) => h.split(":").slice(1, 4).map(Number) as [number, number, number])
      .sort((a, b) => b[0] * b[1] * b[2] - a[0] * a[1] * a[2])[0];
    this.#dummyHash = scrypt ? dummyScryptHash(...scrypt) : hashSecretSha256("fedbridge-no-such-client");
  }

  async authenticate(clientId: string, secret: string): Promise<ClientConfig | undefined> {
    const client = this.#byId.get(clientId);
    const ok = await verifySecret(secret, client?.secretHash ?? this.#dummyHash);
    return client && ok ? client : undefined;
  }
}
