import { createSign, randomBytes, type KeyObject } from "node:crypto";

/**
 * A minimal DER encoder for one self-signed X.509 v3 certificate (RFC 5280 §4.1), so dev keys need
 * no openssl binary and no extra dependency. Development use only: the example IdP's certificate.
 */
function tlv(tag: number, body: Buffer): Buffer {
  const len = body.length;
  let header: Buffer;
  if (len < 0x80) header = Buffer.from([tag, len]);
  else if (len < 0x100) header = Buffer.from([tag, 0x81, len]);
  else if (len < 0x10000) header = Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  else header = Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  return Buffer.concat([header, body]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
const oid = (dotted: string): Buffer => {
  const parts = dotted.split(".").map(Number);
  const bytes = [parts[0]! * 40 + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    let v = p >>> 7;
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    bytes.push(...stack);
  }
  return tlv(0x06, Buffer.from(bytes));
};
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
const time = (d: Date): Buffer => {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return tlv(0x18, Buffer.from(iso, "ascii")); // GeneralizedTime
};
const name = (cn: string): Buffer => seq(set(seq(oid("2.5.4.10"), utf8("fedbridge development"))), set(seq(oid("2.5.4.3"), utf8(cn))));

/**
 * A positive serial number (RFC 5280 §4.1.2.2) whose DER INTEGER is minimal (X.690 §8.3.2): the top
 * bit clear (positive) and the first byte never 0 (a leading zero octet followed by a byte below
 * 0x80 is "illegal padding" to OpenSSL, which then refuses the whole certificate, one time in 128).
 */
export function certificateSerial(random: Buffer): Buffer {
  const serial = Buffer.from(random);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

export function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string, days: number): string {
  const sha256WithRsa = seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, Buffer.alloc(0)));
  const serial = certificateSerial(randomBytes(16));
  const now = new Date();
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    sha256WithRsa,
    name(commonName),
    seq(time(new Date(now.getTime() - 60_000)), time(new Date(now.getTime() + days * 86_400_000))),
    name(commonName),
    publicKey.export({ type: "spki", format: "der" }),
  );
  const signature = createSign("sha256").update(tbs).sign(privateKey);
  const der = seq(tbs, sha256WithRsa, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END CERTIFICATE-----\n`;
}
