import { Router } from "express";

/**
 * GET /saml/metadata: the bridge's SAML SP EntityDescriptor (saml/sp-metadata.ts), built once at
 * start-up, so an IdP admin can register the bridge in one step. Public by nature: it carries
 * certificates, never a key. Media type per SAML Metadata (IANA application/samlmetadata+xml).
 */
export function samlMetadataRoute(metadataXml: string): Router {
  const router = Router();
  router.get("/saml/metadata", (_req, res) => {
    res.type("application/samlmetadata+xml").send(metadataXml);
  });
  return router;
}
