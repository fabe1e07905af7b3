import { Router } from "express";
import { SOURCE_ID } from "../../config/schema.js";

/** The SP metadata, for every IdP (undefined) or for one IdP id; undefined: an unknown IdP. */
export type SpMetadataFor = (idpId: string | undefined) => string | undefined;

/**
 * GET /saml/metadata: the bridge's SAML SP EntityDescriptor (saml/sp-metadata.ts), so an IdP
 * admin can register the bridge in one step. Public by nature: it carries certificates, never a
 * key. Media type per SAML Metadata (IANA application/samlmetadata+xml).
 * `?idp=<id>`: only the encryption certificates that IdP may use (`saml.decryptionKeys[].idps`);
 * an unknown (or malformed) id is 404, a repeated one 400.
 */
export function samlMetadataRoute(metadata: string | SpMetadataFor): Router {
  const router = Router();
  const source: SpMetadataFor = typeof metadata === "string" ? (id) => (id === undefined ? metadata : undefined) : metadata;
  router.get("/saml/metadata", (req, res) => {
    const idp = req.query["idp"];
    if (idp !== undefined && typeof idp !== "string") {
      res.status(400).json({ error: "invalid_request" });
      return;
    }
    // A string that is not an IdP id's shape cannot name one (and is never looked up).
    const xml = idp !== undefined && !SOURCE_ID.test(idp) ? undefined : source(idp);
    if (xml === undefined) {
      res.status(404).json({ error: "not_found" });
      return;
    }
    res.type("application/samlmetadata+xml").send(xml);
  });
  return router;
}
