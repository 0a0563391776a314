// Turns a request path and method into what it addresses, like Kubernetes' RequestInfoFactory:
// discovery vs. resource requests, group/version/resource, namespace, name, subresource, verb.
// Pure: no I/O.

export interface ResourceRequest {
  kind: "resource";
  verb: "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export type RequestInfo =
  | ResourceRequest
  | { kind: "discovery-root"; legacy: boolean } // /api or /apis
  | { kind: "discovery-group"; group: string } // /apis/<group>
  | { kind: "discovery-version"; group: string; version: string } // /api/v1, /apis/<g>/<v>
  | { kind: "other"; path: string };

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseRequestInfo(method: string, pathname: string, watchParam: boolean): RequestInfo {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeSegment);
  if (parts[0] !== "api" && parts[0] !== "apis") return { kind: "other", path: pathname };
  const legacy = parts[0] === "api";
  let i = 1;
  let group = "";
  if (!legacy) {
    if (parts.length === 1) return { kind: "discovery-root", legacy: false };
    group = parts[1]!;
    i = 2;
    if (parts.length === 2) return { kind: "discovery-group", group };
  } else if (parts.length === 1) {
    return { kind: "discovery-root", legacy: true };
  }
  const version = parts[i];
  if (version === undefined) return { kind: "other", path: pathname };
  i++;
  if (parts.length === i) return { kind: "discovery-version", group, version };
  let rest = parts.slice(i);
  let watch = watchParam;
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace = "";
  // /namespaces/<ns>/<resource>/... addresses namespaced objects; /namespaces/<name>[/<sub>] is the
  // Namespace object itself.
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource = "", name = "", subresource = "", ...extra] = rest;
  if (extra.length > 0 || resource === "") return { kind: "other", path: pathname };
  let verb: ResourceRequest["verb"];
  switch (method) {
    case "GET":
    case "HEAD":
      verb = name ? "get" : watch ? "watch" : "list";
      if (name && watch) verb = "watch";
      break;
    case "POST":
      verb = "create";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = name ? "delete" : "deletecollection";
      break;
    default:
      return { kind: "other", path: pathname };
  }
  return { kind: "resource", verb, group, version, resource, subresource, namespace, name };
}
