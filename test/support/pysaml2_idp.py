#!/usr/bin/python3
"""TEST-ONLY: an in-process pysaml2 IdP that builds AND signs a SAML 2.0 samlp:Response.

Used by test/support/independent-signers.ts (pysaml2Response) to produce positive fixtures signed by an
implementation nobody on the team wrote. Run with Debian's /usr/bin/python3 (python3-pysaml2 7.x,
python3-lxml); pysaml2 signs through the xmlsec1 binary.

stdin:  one JSON object, or a JSON array of them (batch: one process, since importing saml2 alone takes ~1 s)
  issuer          IdP entity ID                        (required)
  nameId          NameID text (emailAddress format)    (required)
  audience        SP entity ID -> AudienceRestriction  (required)
  recipient       Destination and SubjectConfirmationData/@Recipient (required)
  attributes      {name: [values]}; names are lower-cased by pysaml2's NOOP converter (default {})
  signAssertion   bool
  signResponse    bool
  keyFile         absolute path to PEM private key     (required)
  certFile        absolute path to PEM certificate     (required)
  lifetimeSeconds Conditions/@NotOnOrAfter and SubjectConfirmationData/@NotOnOrAfter = now + this (default 300)
  encryptCertFile absolute path to the SP's PEM certificate: encrypt the assertion for it (pysaml2 always
                  uses tripledes-cbc content and rsa-oaep-mgf1p key transport, through xmlsec1) (optional)
stdout: the Response XML (as pysaml2 serialises it: ns0:/ns1:/ns2: prefixes, XML declaration);
        for an array input, a JSON array of those strings
exit 1 with a message on stderr on any failure.
"""
import json
import sys
import tempfile


def sp_metadata(entity_id: str, acs: str) -> str:
    from xml.sax.saxutils import quoteattr

    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID=%s>'
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>"
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location=%s index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>" % (quoteattr(entity_id), quoteattr(acs))
    )


def main() -> int:
    req = json.load(sys.stdin)
    if isinstance(req, list):
        sys.stdout.write(json.dumps([build(r) for r in req]))
    else:
        sys.stdout.write(build(req))
    return 0


def build(req: dict) -> str:
    if not isinstance(req, dict):
        raise ValueError("request must be a JSON object")
    for k in ("issuer", "nameId", "audience", "recipient", "keyFile", "certFile"):
        if not isinstance(req.get(k), str) or not req[k]:
            raise ValueError("missing string option: " + k)

    from saml2 import saml
    from saml2.attribute_converter import AttributeConverterNOOP
    from saml2.config import IdPConfig
    from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.server import Server
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

    lifetime = int(req.get("lifetimeSeconds", 300))
    with tempfile.TemporaryDirectory(prefix="fedbridge-pysaml2-") as tmp:
        conf = IdPConfig()
        conf.load(
            {
                "entityid": req["issuer"],
                "service": {
                    "idp": {
                        "endpoints": {"single_sign_on_service": [(req["issuer"] + "/sso", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")]},
                        "policy": {
                            "default": {
                                "lifetime": {"seconds": lifetime},
                                "attribute_restrictions": None,
                                "name_form": NAME_FORMAT_URI,
                            }
                        },
                        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                    }
                },
                "key_file": req["keyFile"],
                "cert_file": req["certFile"],
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "crypto_backend": "xmlsec1",
                "delete_tmpfiles": True,
                "tmp_path": tmp,
                # pysaml2 looks the SP up in its metadata store (encryption certs, NameID formats).
                "metadata": {"inline": [sp_metadata(req["audience"], req["recipient"])]},
            }
        )
        # Without a converter matching the NameFormat, from_local() returns None and the
        # AttributeStatement silently disappears: register an identity (NOOP) converter.
        conf.attribute_converters = [AttributeConverterNOOP(NAME_FORMAT_URI)]
        idp = Server(config=conf)

        identity = {str(k): [str(v) for v in vs] for k, vs in (req.get("attributes") or {}).items()}
        resp = idp.create_authn_response(
            identity=identity,
            in_response_to=None,
            destination=req["recipient"],
            sp_entity_id=req["audience"],
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=req["nameId"]),
            authn={
                "class_ref": saml.AUTHN_PASSWORD_PROTECTED,
                "authn_auth": req["issuer"],
            },
            issuer=req["issuer"],
            sign_assertion=bool(req.get("signAssertion")),
            sign_response=bool(req.get("signResponse")),
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **encryption(req),
        )
    out = resp if isinstance(resp, str) else resp.decode("utf-8") if isinstance(resp, bytes) else str(resp)
    if "StatusCode" not in out or ":status:Success" not in out:
        raise RuntimeError("pysaml2 did not produce a Success response:\n" + out)
    return out


def encryption(req: dict) -> dict:
    cert_file = req.get("encryptCertFile")
    if not cert_file:
        return {}
    with open(cert_file, encoding="ascii") as f:
        pem = f.read()
    return {"encrypt_assertion": True, "encrypt_cert_assertion": pem}


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # noqa: BLE001 - report anything to the caller
        import traceback

        traceback.print_exc()  # the caller puts stderr into its error message
        sys.exit(1)
