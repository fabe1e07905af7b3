#!/usr/bin/python3
"""Verify a JWT with PyJWT (an independent JOSE implementation) against a JWKS.

stdin: JSON {"token": ..., "jwks": {...}, "audience": ..., "issuer": ...}
stdout: JSON {"ok": true, "header": {...}, "claims": {...}} or {"ok": false, "error": "..."}
"""
import json
import sys

import jwt

req = json.load(sys.stdin)
try:
    header = jwt.get_unverified_header(req["token"])
    keys = {k["kid"]: k for k in req["jwks"]["keys"]}
    jwk = keys[header["kid"]]
    key = jwt.PyJWK.from_dict(jwk).key
    claims = jwt.decode(
        req["token"], key, algorithms=[jwk["alg"]], audience=req["audience"], issuer=req["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )
    print(json.dumps({"ok": True, "header": header, "claims": claims}))
except Exception as e:  # noqa: BLE001 - report any verification failure to the caller
    print(json.dumps({"ok": False, "error": type(e).__name__}))
