// Bearer-token authentication. The admin token is created once in <data-dir>/token (mode 0600) and
// written into the kubeconfig. Comparison is constant-time. Authorization (RBAC) is not done here:
// every authenticated caller is cluster-admin (see docs/apiserver.md).
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function ensureAdminToken(dir: string): Promise<string> {
  const path = join(dir, "token");
  try {
    const t = (await readFile(path, "utf8")).trim();
    if (t.length >= 32) return t;
  } catch {
    // created below
  }
  const token = randomBytes(32).toString("hex");
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return token;
}

export class TokenAuthenticator {
  private readonly tokens: Buffer[];
  constructor(tokens: string[]) {
    this.tokens = tokens.map((t) => Buffer.from(t));
  }
  /** True when the Authorization header carries one of the known bearer tokens. */
  authenticate(authorization: string | undefined): boolean {
    if (!authorization) return false;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!m) return false;
    const given = Buffer.from(m[1]!);
    return this.tokens.some((t) => t.length === given.length && timingSafeEqual(t, given));
  }
}

/** A kubeconfig for the admin user, as kubectl and @kubernetes/client-node read it. */
export function renderKubeconfig(server: string, caPem: string, token: string, name = "egress"): string {
  const ca = Buffer.from(caPem).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${name}`,
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${name}-admin`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    `- name: ${name}`,
    "  context:",
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    "    namespace: default",
    `current-context: ${name}`,
    "",
  ].join("\n");
}
