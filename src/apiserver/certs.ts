// The API server's PKI: a private CA and a serving certificate signed by it, created once in
// <data-dir>/pki and reused. The serving certificate is re-issued when the wanted subject
// alternative names change. Keys are ECDSA P-256 (fast to generate, accepted by Go's TLS).
// @peculiar/x509 uses tsyringe, which needs the Reflect metadata polyfill loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export interface ServingPKI {
  caPem: string;
  certPem: string;
  keyPem: string;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END PRIVATE KEY-----\n`;
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const b64 = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  return webcrypto.subtle.importKey("pkcs8", Buffer.from(b64, "base64"), ALG, true, ["sign"]);
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
    .toString("hex")
    .replace(/^[89a-f]/, "1");
}

/** Loads or creates the CA and a serving certificate valid for `sans` (IP addresses and DNS names). */
export async function ensureServingPKI(dir: string, sans: string[]): Promise<ServingPKI> {
  const pki = join(dir, "pki");
  await mkdir(pki, { recursive: true, mode: 0o700 });
  let caPem = await readOptional(join(pki, "ca.crt"));
  let caKeyPem = await readOptional(join(pki, "ca.key"));
  if (!caPem || !caKeyPem) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
    const now = Date.now();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: "CN=egress-ca",
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(now + TEN_YEARS_MS),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    caPem = ca.toString("pem");
    caKeyPem = await exportKeyPem(keys.privateKey);
    await writeAtomic(join(pki, "ca.key"), caKeyPem, 0o600);
    await writeAtomic(join(pki, "ca.crt"), caPem, 0o644);
  }
  const wanted = [...new Set(sans)].sort();
  const sansFile = join(pki, "server.sans");
  const certPemOld = await readOptional(join(pki, "server.crt"));
  const keyPemOld = await readOptional(join(pki, "server.key"));
  if (certPemOld && keyPemOld && (await readOptional(sansFile)) === wanted.join(",")) {
    return { caPem, certPem: certPemOld, keyPem: keyPemOld };
  }
  const ca = new x509.X509Certificate(caPem);
  const caKey = await importKeyPem(caKeyPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const now = Date.now();
  const names = wanted.map((s) =>
    /^[0-9.]+$/.test(s) || s.includes(":")
      ? { type: "ip" as const, value: s }
      : { type: "dns" as const, value: s },
  );
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: "CN=egress-apiserver",
    issuer: ca.subject,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + TEN_YEARS_MS),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const certPem = cert.toString("pem");
  const keyPem = await exportKeyPem(keys.privateKey);
  await writeAtomic(join(pki, "server.key"), keyPem, 0o600);
  await writeAtomic(join(pki, "server.crt"), certPem, 0o644);
  await writeAtomic(sansFile, wanted.join(","), 0o644);
  return { caPem, certPem, keyPem };
}
