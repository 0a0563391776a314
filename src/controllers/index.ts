// The controllers of the control plane, in the order they start. Each is a thin shell around a
// pure decision in its folder.
import { EgressFirewallController } from "./egressfirewall/controller.js";
import { CloudSimController } from "./egressip/cloud-sim.js";
import { EgressIPController } from "./egressip/controller.js";
import { EgressServiceController } from "./egressservice/controller.js";
import { HostSubnetController } from "./hostsubnet/controller.js";
import { IpamReconcilerController } from "./ipam/controller.js";
import { LoadBalancerController } from "./loadbalancer/controller.js";
import { NetNamespaceController } from "./netnamespace/controller.js";
import { NodeLifecycleController } from "./nodelifecycle/controller.js";
import type { Controller } from "./runtime/manager.js";
import { EndpointsController } from "./workloads/endpoints.js";
import { ProjectTemplateController } from "./workloads/project-template.js";
import { ReplicationControllerController } from "./workloads/replicationcontroller.js";
import { SchedulerController } from "./workloads/scheduler-controller.js";

export function allControllers(): Controller[] {
  // One reachability prober (owned by the EgressIP controller) serves every controller that elects
  // nodes, so a node cut off the network loses its EgressIPs, EgressServices and project egress IPs.
  const egressIP = new EgressIPController();
  return [
    new NodeLifecycleController(),
    new NetNamespaceController(),
    new HostSubnetController(egressIP.reachability),
    egressIP,
    new CloudSimController(),
    new LoadBalancerController(),
    new EgressServiceController({ reachability: egressIP.reachability }),
    new EgressFirewallController(),
    new ProjectTemplateController(),
    new ReplicationControllerController(),
    new SchedulerController(),
    new EndpointsController(),
    new IpamReconcilerController(),
  ];
}
