import { refuse } from "./errors.js";

/** A parsed application/x-www-form-urlencoded body: repeated names become arrays. */
export type Form = Readonly<Record<string, string | string[] | undefined>>;

/**
 * A single-valued parameter. RFC 6749 §3.2: "Request and response parameters MUST NOT be included
 * more than once"; RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
 */
export function single(form: Form, name: string): string | undefined {
  if (!Object.hasOwn(form, name)) return undefined;
  const v = form[name];
  if (Array.isArray(v)) throw refuse("parameter_duplicated");
  return v === "" ? undefined : v;
}

/** A parameter that may repeat (RFC 8693 §2.1: `audience`, `resource`). */
export function many(form: Form, name: string): string[] {
  if (!Object.hasOwn(form, name)) return [];
  const v = form[name];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.filter((x) => x !== "");
}

export function required(form: Form, name: string): string {
  const v = single(form, name);
  if (v === undefined) throw refuse("parameter_missing");
  return v;
}
