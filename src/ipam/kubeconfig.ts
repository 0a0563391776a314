// Reads the connection settings the whereabouts plugin needs from a kubeconfig file (current context:
// server URL, CA, bearer token or client certificate) or from the in-cluster service account. Kept
// free of @kubernetes/client-node on purpose: the plugin is one process per CNI call and that library
// alone costs over a second of start-up on a busy node. Pure decoding (`connectionFromKubeconfig`) is
// separate from the file reads (`loadConnection`); this module makes no network calls.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";

export interface KubeConnection {
  /** e.g. https://127.0.0.1:6443 (no trailing slash). */
  server: string;
  ca?: Buffer;
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTLSVerify: boolean;
  /** The context's namespace, if any. */
  namespace?: string;
}

export class KubeconfigError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
  ) {
    super(`kubeconfig ${source}: ${detail}`);
    this.name = "KubeconfigError";
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function named(list: unknown, name: string, what: string, source: string): Obj {
  if (!Array.isArray(list)) throw new KubeconfigError(source, `has no ${what}s list`);
  const hit = list.find((e) => isObj(e) && e.name === name);
  if (!isObj(hit) || !isObj(hit[what]))
    throw new KubeconfigError(source, `${what} ${JSON.stringify(name)} not found`);
  return hit[what];
}

/** Decodes a parsed kubeconfig document. `readFile` resolves `*-file` references (relative to the
 *  kubeconfig's directory, as kubectl does). */
export function connectionFromKubeconfig(
  doc: unknown,
  source: string,
  readFile: (path: string) => Buffer,
): KubeConnection {
  if (!isObj(doc)) throw new KubeconfigError(source, "is not a mapping");
  const current = doc["current-context"];
  if (typeof current !== "string" || current === "")
    throw new KubeconfigError(source, "has no current-context");
  const ctx = named(doc.contexts, current, "context", source);
  const cluster = named(doc.clusters, String(ctx.cluster ?? ""), "cluster", source);
  const user = typeof ctx.user === "string" ? named(doc.users, ctx.user, "user", source) : {};
  const server = cluster.server;
  if (typeof server !== "string" || !/^https?:\/\//.test(server))
    throw new KubeconfigError(source, `cluster server ${JSON.stringify(server)} is not an http(s) URL`);
  const base = dirname(source);
  const file = (p: string): Buffer => readFile(isAbsolute(p) ? p : join(base, p));
  const dataOrFile = (o: Obj, data: string, path: string): Buffer | undefined => {
    const d = o[data];
    if (typeof d === "string" && d !== "") return Buffer.from(d, "base64");
    const f = o[path];
    if (typeof f === "string" && f !== "") return file(f);
    return undefined;
  };
  const conn: KubeConnection = {
    server: server.replace(/\/+$/, ""),
    insecureSkipTLSVerify: cluster["insecure-skip-tls-verify"] === true,
  };
  const ca = dataOrFile(cluster, "certificate-authority-data", "certificate-authority");
  if (ca) conn.ca = ca;
  if (typeof user.token === "string" && user.token !== "") conn.token = user.token;
  else if (typeof user.tokenFile === "string") conn.token = file(user.tokenFile).toString("utf8").trim();
  const cert = dataOrFile(user, "client-certificate-data", "client-certificate");
  const key = dataOrFile(user, "client-key-data", "client-key");
  if (cert) conn.cert = cert;
  if (key) conn.key = key;
  if (typeof ctx.namespace === "string" && ctx.namespace !== "") conn.namespace = ctx.namespace;
  return conn;
}

/** Kubeconfig files are YAML. The block-style subset kubectl and `egress server` write (mappings,
 *  `- ` sequences, plain and quoted scalars, `{}`/`[]`) is read here; anything else falls back to the
 *  yaml package, which costs ~35 ms of start-up per plugin process. */
async function parseDocument(text: string, source: string): Promise<unknown> {
  try {
    return JSON.parse(text);
  } catch {
    // not JSON: YAML
  }
  try {
    return parseSimpleYaml(text);
  } catch (e) {
    if (!(e instanceof UnsupportedYaml)) throw e;
  }
  const { parse } = await import("yaml");
  try {
    return parse(text);
  } catch (e) {
    throw new KubeconfigError(source, `is not valid YAML: ${(e as Error).message}`);
  }
}

export class UnsupportedYaml extends Error {
  constructor(line: number, detail: string) {
    super(`line ${line}: ${detail}`);
    this.name = "UnsupportedYaml";
  }
}

interface Line {
  n: number;
  indent: number;
  text: string;
}

function scalar(raw: string, n: number): unknown {
  const t = raw.trim();
  if (t === "" || t === "~" || t === "null") return null;
  if (t === "true") return true;
  if (t === "false") return false;
  if (t === "{}") return {};
  if (t === "[]") return [];
  if (t.startsWith('"')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      throw new UnsupportedYaml(n, "double-quoted scalar with YAML-only escapes");
    }
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw new UnsupportedYaml(n, "unterminated quote");
    return t.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[[{|>&*!%@`]/.test(t))
    throw new UnsupportedYaml(n, `unsupported syntax ${JSON.stringify(t.slice(0, 10))}`);
  return t;
}

/** Splits `key: value` (key plain or quoted); undefined when the line is not a mapping entry. */
function keyValue(text: string, n: number): [string, string] | undefined {
  const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"][^:#]*?)\s*:(?:\s+(.*))?$/.exec(text);
  if (!m) return undefined;
  const k = scalar(m[1]!, n);
  return [String(k), m[2] ?? ""];
}

/** The subset of YAML described at parseDocument; throws UnsupportedYaml for anything else. */
export function parseSimpleYaml(text: string): unknown {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.includes("\t")) throw new UnsupportedYaml(i + 1, "tab character");
    const noComment = raw.replace(/(^|\s)#.*$/, "");
    if (noComment.trim() === "" || noComment.trim() === "---") return;
    const indent = noComment.length - noComment.trimStart().length;
    lines.push({ n: i + 1, indent, text: noComment.trim() });
  });
  let pos = 0;
  const block = (indent: number): unknown => {
    const first = lines[pos];
    if (!first || first.indent < indent) return null;
    if (first.text === "-" || first.text.startsWith("- ")) return seq(first.indent);
    return map(first.indent);
  };
  const value = (rest: string, parentIndent: number, n: number): unknown => {
    if (rest !== "") return scalar(rest, n);
    const next = lines[pos];
    // A nested block is indented more, except a sequence, which may sit at the key's indent.
    if (!next) return null;
    if (next.indent > parentIndent) return block(next.indent);
    if (next.indent === parentIndent && (next.text === "-" || next.text.startsWith("- ")))
      return seq(parentIndent);
    return null;
  };
  const map = (indent: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    while (pos < lines.length) {
      const l = lines[pos]!;
      if (l.indent < indent) break;
      if (l.indent > indent) throw new UnsupportedYaml(l.n, "unexpected indentation");
      if (l.text.startsWith("- ") || l.text === "-") break;
      const kv = keyValue(l.text, l.n);
      if (!kv) throw new UnsupportedYaml(l.n, "expected key: value");
      pos++;
      out[kv[0]] = value(kv[1], indent, l.n);
    }
    return out;
  };
  const seq = (indent: number): unknown[] => {
    const out: unknown[] = [];
    while (pos < lines.length) {
      const l = lines[pos]!;
      if (l.indent !== indent || !(l.text === "-" || l.text.startsWith("- "))) {
        if (l.indent > indent) throw new UnsupportedYaml(l.n, "unexpected indentation");
        break;
      }
      const rest = l.text.slice(1).trimStart();
      if (rest === "") {
        pos++;
        out.push(value("", indent, l.n));
        continue;
      }
      const kv = keyValue(rest, l.n);
      if (!kv) {
        pos++;
        out.push(scalar(rest, l.n));
        continue;
      }
      // "- key: value" starts a mapping whose further keys are indented like `key`.
      const itemIndent = indent + (l.text.length - rest.length);
      lines[pos] = { n: l.n, indent: itemIndent, text: rest };
      out.push(map(itemIndent));
    }
    return out;
  };
  const doc = block(0);
  if (pos < lines.length) throw new UnsupportedYaml(lines[pos]!.n, "unexpected content");
  return doc;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The connection from `path`, else from $KUBECONFIG (first entry), else the in-cluster service
 *  account (KUBERNETES_SERVICE_HOST), as upstream's client does. */
export async function loadConnection(
  path: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<KubeConnection> {
  const file = path || env.KUBECONFIG?.split(":").find((p) => p !== "");
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new KubeconfigError(file, `cannot be read: ${(e as Error).message}`);
    }
    return connectionFromKubeconfig(await parseDocument(text, file), file, (p) => readFileSync(p));
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) throw new KubeconfigError("(none)", "no kubeconfig given and not running in a cluster");
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readFileSync(`${SA_DIR}/ca.crt`),
    token: readFileSync(`${SA_DIR}/token`, "utf8").trim(),
    insecureSkipTLSVerify: false,
  };
}
