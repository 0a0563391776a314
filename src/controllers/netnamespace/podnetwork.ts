// Planning for `egress adm pod-network join-projects | isolate-projects | make-projects-global`
// (MISSION §5): validates the arguments like upstream `oc adm pod-network` and returns the
// change-network annotation to set on each NetNamespace. The CLI applies the plan and waits for
// the controller to remove the annotations. Pure: no I/O.
import { parseSelector, type Selector, selectorMatches } from "../../api/selector.js";
import { compareStrings } from "../common/decision.js";
import { CHANGE_NETWORK_ANNOTATION } from "./netid.js";

export type PodNetworkCommand = "join-projects" | "isolate-projects" | "make-projects-global";

export interface PodNetworkRequest {
  command: PodNetworkCommand;
  /** Project names given as arguments. */
  projects: string[];
  /** --selector */
  selector?: string;
  /** --to (join-projects only). */
  to?: string;
  /** Existing projects (namespaces with a NetNamespace) and their labels. */
  existing: { name: string; labels: Record<string, string> }[];
}

export interface PodNetworkPlan {
  annotation: typeof CHANGE_NETWORK_ANNOTATION;
  changes: { netnamespace: string; value: string }[];
}

/** Invalid command line or a refused change; the message is what the CLI prints. */
export class PodNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PodNetworkError";
  }
}

/** Returns the annotation changes, or throws PodNetworkError (all problems in one message). */
export function planPodNetworkChange(req: PodNetworkRequest): PodNetworkPlan {
  const hasNames = req.projects.length > 0;
  const hasSel = req.selector !== undefined && req.selector !== "";
  if (hasNames && hasSel)
    throw new PodNetworkError("either specify --selector=<project_selector> or projects but not both");
  if (!hasNames && !hasSel)
    throw new PodNetworkError("must provide --selector=<project_selector> or projects");
  if (req.command === "join-projects" && !req.to)
    throw new PodNetworkError("must provide --to=<project_name>");
  if (req.command !== "join-projects" && req.to)
    throw new PodNetworkError(`--to is only valid for join-projects`);

  const byName = new Map(req.existing.map((p) => [p.name, p]));
  const errs: string[] = [];
  let targets: string[];
  if (hasSel) {
    let sel: Selector;
    try {
      sel = parseSelector(req.selector!);
    } catch (err) {
      throw new PodNetworkError(`invalid --selector: ${(err as Error).message}`);
    }
    targets = req.existing.filter((p) => selectorMatches(sel, p.labels)).map((p) => p.name);
  } else {
    targets = [];
    for (const n of req.projects) {
      if (!byName.has(n)) errs.push(`project "${n}" not found`);
      else if (!targets.includes(n)) targets.push(n);
    }
  }
  let value: string;
  if (req.command === "join-projects") {
    if (!byName.has(req.to!)) errs.push(`project "${req.to}" not found`);
    value = `join:${req.to}`;
    targets = targets.filter((t) => t !== req.to);
  } else if (req.command === "isolate-projects") {
    if (targets.includes("default")) errs.push(`network isolation for project "default" is forbidden`);
    value = "isolate";
  } else value = "global";
  if (errs.length > 0) throw new PodNetworkError(errs.join("; "));
  if (targets.length === 0) throw new PodNetworkError("no projects selected");
  return {
    annotation: CHANGE_NETWORK_ANNOTATION,
    changes: targets.sort(compareStrings).map((netnamespace) => ({ netnamespace, value })),
  };
}
