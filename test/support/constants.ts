// Shared TEST-ONLY identities and fixture paths. Every path here is absolute.
import path from "node:path";
import { fileURLToPath } from "node:url";

// ---- identities -------------------------------------------------------------------------------------
export const BRIDGE_ISSUER = "https://bridge.test";
export const BRIDGE_ENTITY_ID = "https://bridge.test/saml";
export const TOKEN_ENDPOINT = "https://bridge.test/token";

export const IDP1 = "https://idp1.test/idp";
export const IDP2 = "https://idp2.test/idp";
export const IDP_EC = "https://idp-ec.test/idp";
export const IDP_EXPIRED = "https://idp-expired.test/idp";
export const IDP_WEAK = "https://idp-weak.test/idp";

// ---- SAML 2.0 URIs used by the fixtures ------------------------------------------------------------------
export const SAML2_ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion";
export const SAML2_PROTOCOL_NS = "urn:oasis:names:tc:SAML:2.0:protocol";
export const SAML2_METADATA_NS = "urn:oasis:names:tc:SAML:2.0:metadata";
export const CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
export const NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
export const STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";
export const AC_PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
export const TOKEN_TYPE_SAML2 = "urn:ietf:params:oauth:token-type:saml2";
export const TOKEN_TYPE_SAML1 = "urn:ietf:params:oauth:token-type:saml1";

// ---- fixture directories ----------------------------------------------------------------------------
const SUPPORT_DIR = path.dirname(fileURLToPath(import.meta.url));
export const TEST_DIR = path.resolve(SUPPORT_DIR, "..");
export const FIXTURES_DIR = path.join(TEST_DIR, "fixtures");
export const KEYS_DIR = path.join(FIXTURES_DIR, "keys");
export const METADATA_DIR = path.join(FIXTURES_DIR, "metadata");

const k = (file: string): string => path.join(KEYS_DIR, file);
const md = (file: string): string => path.join(METADATA_DIR, file);

// ---- keys and certificates (PEM; private keys are unencrypted PKCS#8) -------------------------------------
export const IDP1_KEY = k("idp1.key");
export const IDP1_CERT = k("idp1.crt");
/** Rollover key of idp1 (in idp1.xml as a KeyDescriptor without `use`). */
export const IDP1_NEXT_KEY = k("idp1-next.key");
export const IDP1_NEXT_CERT = k("idp1-next.crt");
export const IDP2_KEY = k("idp2.key");
export const IDP2_CERT = k("idp2.crt");
/** Different key, self-signed cert with exactly idp1.crt's subject (and issuer) DN: a "cloned" cert. */
export const ATTACKER_KEY = k("attacker.key");
export const ATTACKER_CERT = k("attacker.crt");
/** ECDSA P-256. */
export const IDP_EC_KEY = k("idp-ec.key");
export const IDP_EC_CERT = k("idp-ec.crt");
/** RSA 1024: too weak, must be refused. */
export const WEAK1024_KEY = k("weak1024.key");
export const WEAK1024_CERT = k("weak1024.crt");
/** Keys for the tokens the bridge issues in tests (no certificates). */
export const BRIDGE_SIGNING_KEY = k("bridge-signing.key");
export const BRIDGE_SIGNING_EC_KEY = k("bridge-signing-ec.key");
/** The bridge's SP encryption key pair (saml.decryptionKeys) and its previous one (rollover). RSA 2048. */
export const BRIDGE_ENC_KEY = k("bridge-enc.key");
export const BRIDGE_ENC_CERT = k("bridge-enc.crt");
export const BRIDGE_ENC_OLD_KEY = k("bridge-enc-old.key");
export const BRIDGE_ENC_OLD_CERT = k("bridge-enc-old.crt");

// ---- IdP metadata --------------------------------------------------------------------------------------
/** idp1: signing idp1.crt, no-`use` idp1-next.crt, `use="encryption"` attacker.crt; no validUntil. */
export const METADATA_IDP1 = md("idp1.xml");
/** EntitiesDescriptor wrapping idp2 (signing idp2.crt); validUntil 2099-01-01T00:00:00Z. */
export const METADATA_IDP2 = md("idp2.xml");
/** idp-ec: signing idp-ec.crt (P-256). */
export const METADATA_IDP_EC = md("idp-ec.xml");
/** idp-expired: signing idp2.crt, validUntil 2020-01-01T00:00:00Z. */
export const METADATA_IDP_EXPIRED = md("idp-expired.xml");
/** idp-weak: signing weak1024.crt (must be refused at load). */
export const METADATA_IDP_WEAK = md("idp-weak.xml");
