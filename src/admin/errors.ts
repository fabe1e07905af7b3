/**
 * The admin API's error: an HTTP status, a stable code and, for validation, every reason. Admin
 * errors are `{"error", "reasons"}` (src/http/routes/admin.ts serializes them); they are not OAuth
 * errors and never mix with them.
 */
export class AdminError extends Error {
  override name = "AdminError";
  constructor(readonly status: number, readonly code: string, readonly reasons: readonly string[] = []) {
    super(code);
  }
}

/** The record store (Redis) cannot answer: nothing was changed, the caller may retry (503). */
export class IdpStoreUnavailable extends Error {
  override name = "IdpStoreUnavailable";
}
