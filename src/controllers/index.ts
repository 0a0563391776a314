// The controllers of the control plane, in the order they start. Each is a thin shell around a
// pure decision in its folder.
import type { Controller } from "./runtime/manager.js";

export function allControllers(): Controller[] {
  return [];
}
