/**
 * Label values come only from closed sets (config ids, code constants): a value from a request or a
 * token never becomes a label, since every distinct value is a new time series kept in memory for
 * the life of the process. A value outside its set is OTHER (or NONE when there is none yet).
 */
export const OTHER = "other";
export const NONE = "none";

/** `value` when `known(value)`, else OTHER; NONE when undefined. */
export function bounded(value: string | undefined, known: (v: string) => boolean): string {
  if (value === undefined) return NONE;
  return known(value) ? value : OTHER;
}

/** Code-side label values (reason codes, step names, fetch outcomes) must still look like codes. */
const CODE = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
export function code(value: string | undefined): string {
  if (value === undefined) return NONE;
  return CODE.test(value) ? value : OTHER;
}
