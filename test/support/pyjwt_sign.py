#!/usr/bin/python3
"""Sign JWTs with an INDEPENDENT JOSE implementation (Debian's python3-jwt or python3-jwcrypto).

stdin: JSON list of {"lib": "pyjwt" | "jwcrypto", "key_file": <PEM private key>, "alg": ...,
                     "header": {...extra header members; "typ": null drops typ...}, "claims": {...}}
stdout: JSON list of compact JWS strings, in the same order.

PyJWT adds "typ": "JWT" unless the header sets "typ" to null (or ""); jwcrypto writes exactly the
header given (plus "alg").
"""
import json
import sys

import jwt
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jwt as jwc_jwt


def sign(spec):
    with open(spec["key_file"], "rb") as f:
        pem = f.read()
    header = dict(spec.get("header") or {})
    claims = spec["claims"]
    if spec.get("lib", "pyjwt") == "pyjwt":
        return jwt.encode(claims, pem, algorithm=spec["alg"], headers=header)
    header["alg"] = spec["alg"]
    header = {k: v for k, v in header.items() if v is not None}
    token = jwc_jwt.JWT(header=header, claims=claims)
    token.make_signed_token(jwc_jwk.JWK.from_pem(pem))
    return token.serialize()


print(json.dumps([sign(s) for s in json.load(sys.stdin)]))
