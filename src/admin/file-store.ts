import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { IdpRecordStore } from "./store.js";
import type { IdpRecord } from "./records.js";

/**
 * Records as JSON files in one directory, for a single instance (the embedded default). Each write
 * goes to a temporary file that is fsynced and then renamed over the record (rename is atomic
 * within a directory), so a crash never leaves a half-written record. Version checks are made in
 * this process, which owns the directory.
 */
export class FileIdpStore implements IdpRecordStore {
  readonly #dir: string;

  constructor(directory: string) {
    this.#dir = directory;
    mkdirSync(directory, { recursive: true });
  }

  #path(id: string): string {
    return join(this.#dir, `${id}.json`);
  }

  async list(): Promise<IdpRecord[]> {
    return readdirSync(this.#dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(this.#dir, f), "utf8")) as IdpRecord);
  }

  async get(id: string): Promise<IdpRecord | undefined> {
    try {
      return JSON.parse(readFileSync(this.#path(id), "utf8")) as IdpRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  async put(record: IdpRecord, expectedVersion: number | null): Promise<"ok" | "conflict"> {
    const current = await this.get(record.id);
    if ((current?.version ?? null) !== expectedVersion) return "conflict";
    const tmp = join(this.#dir, `.${record.id}.${randomBytes(6).toString("hex")}.tmp`);
    writeFileSync(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
    const fd = openSync(tmp, "r");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.#path(record.id));
    return "ok";
  }

  watch(): void {
    // One instance owns the directory: its own changes are applied directly.
  }

  async close(): Promise<void> {}
}
