import { JWT_ALGORITHMS } from "../oauth/constants.js";

/**
 * JWS algorithms a DPoP proof may be signed with (RFC 9449 §4.3 check 5: asymmetric only, never
 * `none` or a MAC). `Ed25519` is the fully-specified name (RFC 9864) that current clients
 * (oauth4webapi among them) send for an Ed25519 key; `EdDSA` the older, polymorphic one.
 */
export const DPOP_ALGORITHMS = [...JWT_ALGORITHMS, "Ed25519"] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** The default list (config `dpop.algorithms`): the common client choices. */
export const DPOP_DEFAULT_ALGORITHMS: DpopAlgorithm[] = ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"];
