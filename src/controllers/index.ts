// The controllers of the control plane, in the order they start. Each is a thin shell around a
// pure decision in its folder.
import { EgressServiceController } from "./egressservice/controller.js";
import { LoadBalancerController } from "./loadbalancer/controller.js";
import type { Controller } from "./runtime/manager.js";

export function allControllers(): Controller[] {
  return [new LoadBalancerController(), new EgressServiceController()];
}
