// The images the lab's kubelet can run. Pods are network namespaces, not containers: an image is a
// small built-in program (or nothing, for pause-like images), or one of the egress router's images,
// which the kubelet runs itself (router.ts plans them, pods.ts starts them). Anything else is
// reported on the Pod as an error, never ignored.
import { type RouterImageKind, routerImageKind } from "./router.js";

export type ImageRunner =
  | { kind: "none" }
  | { kind: "program"; module: string; args: (containerPorts: number[]) => string[] }
  | { kind: "router"; role: RouterImageKind }
  | { kind: "unsupported"; reason: string };

const PAUSE = /(^|\/)(pause|ose-pod)(:.*)?$/;

export function imageRunner(image: string): ImageRunner {
  const bare = image.replace(/@sha256:.*$/, "");
  if (
    bare === "egress/pause" ||
    bare === "egress/client" ||
    PAUSE.test(bare) ||
    /^(busybox|alpine)(:.*)?$/.test(bare)
  ) {
    return { kind: "none" };
  }
  if (bare === "egress/echo" || bare.startsWith("egress/echo:")) {
    return {
      kind: "program",
      module: "images/echo.js",
      args: () => ["--tcp", "7000", "--udp", "7001", "--http", "8080"],
    };
  }
  const role = routerImageKind(bare);
  if (role) return { kind: "router", role };
  return {
    kind: "unsupported",
    reason: `image ${JSON.stringify(image)} is not one this lab kubelet can run (built-in: egress/echo, egress/client, egress/pause, pause/ose-pod, ose-egress-router, ose-egress-http-proxy, ose-egress-dns-proxy)`,
  };
}
