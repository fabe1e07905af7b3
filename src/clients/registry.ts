import type { ClientConfig } from "../config/schema.js";
import { hashSecretSha256, verifySecret } from "./secret-hash.js";

/**
 * The configured OAuth clients. `authenticate` costs the same whether or not the client exists
 * (an unknown id is checked against a dummy hash), so response timing does not reveal client ids.
 */
export class ClientRegistry {
  readonly #byId: ReadonlyMap<string, ClientConfig>;
  readonly #dummyHash = hashSecretSha256("fedbridge-no-such-client");

  constructor(clients: readonly ClientConfig[]) {
    this.#byId = new Map(clients.map((c) => [c.id, c]));
  }

  async authenticate(clientId: string, secret: string): Promise<ClientConfig | undefined> {
    const client = this.#byId.get(clientId);
    const ok = await verifySecret(secret, client?.secretHash ?? this.#dummyHash);
    return client && ok ? client : undefined;
  }
}
