//! A `kubectl get nodes -o yaml` List of realistic OpenShift worker Nodes (labels, annotations,
//! managedFields, addresses, capacity, conditions, 50 images, nodeInfo: about 11 KB and 1,000
//! YAML nodes each), written node by node so that a large one needs no memory.

use std::io::{self, Write};

/// Images per node (real workers list 50 to 100).
const IMAGES: usize = 50;

/// Writes a `List` of `count` Nodes named `worker-00000`...; every tenth is labelled `ptp: ""`.
pub fn write_node_list(out: &mut impl Write, count: usize) -> io::Result<()> {
    writeln!(out, "apiVersion: v1\nitems:")?;
    for i in 0..count {
        write_node(out, i)?;
    }
    writeln!(out, "kind: List\nmetadata:\n  resourceVersion: \"\"")
}

fn write_node(out: &mut impl Write, i: usize) -> io::Result<()> {
    let name = format!("worker-{i:05}");
    let uid = format!("{:08x}-1b2c-4d3e-8f40-{:012x}", i * 7919, i * 104_729);
    let ip = format!("10.{}.{}.{}", 128 + (i >> 16) % 64, (i >> 8) % 256, i % 256);
    let ptp = if i.is_multiple_of(10) { "\n      ptp: \"\"" } else { "" };
    write!(
        out,
        r#"- apiVersion: v1
  kind: Node
  metadata:
    annotations:
      csi.volume.kubernetes.io/nodeid: '{{"ebs.csi.aws.com":"i-0{i:016x}"}}'
      k8s.ovn.org/host-cidrs: '["{ip}/19"]'
      k8s.ovn.org/l3-gateway-config: '{{"default":{{"mode":"shared","bridge-id":"br-ex","interface-id":"br-ex_{name}","mac-address":"02:42:ac:{:02x}:{:02x}:{:02x}","ip-addresses":["{ip}/19"],"next-hops":["10.0.0.1"],"node-port-enable":"true","vlan-id":"0"}}}}'
      k8s.ovn.org/node-chassis-id: {uid}
      k8s.ovn.org/node-subnets: '{{"default":["10.{}.{}.0/23"]}}'
      machineconfiguration.openshift.io/controlPlaneTopology: HighlyAvailable
      machineconfiguration.openshift.io/currentConfig: rendered-worker-8d2f9c1e7b5a4f3e2d1c0b9a8f7e6d5c
      machineconfiguration.openshift.io/desiredConfig: rendered-worker-8d2f9c1e7b5a4f3e2d1c0b9a8f7e6d5c
      machineconfiguration.openshift.io/reason: ""
      machineconfiguration.openshift.io/state: Done
      volumes.kubernetes.io/controller-managed-attach-detach: "true"
    creationTimestamp: "2026-01-15T10:{:02}:{:02}Z"
    labels:
      beta.kubernetes.io/arch: amd64
      beta.kubernetes.io/instance-type: m6i.2xlarge
      beta.kubernetes.io/os: linux
      failure-domain.beta.kubernetes.io/region: us-east-1
      failure-domain.beta.kubernetes.io/zone: us-east-1{}
      kubernetes.io/arch: amd64
      kubernetes.io/hostname: {name}
      kubernetes.io/os: linux
      node-role.kubernetes.io/worker: ""
      node.kubernetes.io/instance-type: m6i.2xlarge
      node.openshift.io/os_id: rhcos{ptp}
      topology.ebs.csi.aws.com/zone: us-east-1{}
      topology.kubernetes.io/region: us-east-1
      topology.kubernetes.io/zone: us-east-1{}
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:annotations:
            f:k8s.ovn.org/host-cidrs: {{}}
            f:k8s.ovn.org/l3-gateway-config: {{}}
            f:k8s.ovn.org/node-chassis-id: {{}}
            f:k8s.ovn.org/node-subnets: {{}}
      manager: ovnkube-controller
      operation: Update
      time: "2026-01-15T10:05:00Z"
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:annotations:
            .: {{}}
            f:csi.volume.kubernetes.io/nodeid: {{}}
            f:volumes.kubernetes.io/controller-managed-attach-detach: {{}}
          f:labels:
            .: {{}}
            f:beta.kubernetes.io/arch: {{}}
            f:beta.kubernetes.io/os: {{}}
            f:kubernetes.io/arch: {{}}
            f:kubernetes.io/hostname: {{}}
            f:kubernetes.io/os: {{}}
            f:node.openshift.io/os_id: {{}}
        f:spec:
          f:providerID: {{}}
      manager: kubelet
      operation: Update
      time: "2026-01-15T10:01:00Z"
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:status:
          f:allocatable:
            f:cpu: {{}}
            f:ephemeral-storage: {{}}
            f:memory: {{}}
          f:conditions:
            k:{{"type":"DiskPressure"}}:
              f:lastHeartbeatTime: {{}}
            k:{{"type":"MemoryPressure"}}:
              f:lastHeartbeatTime: {{}}
            k:{{"type":"PIDPressure"}}:
              f:lastHeartbeatTime: {{}}
            k:{{"type":"Ready"}}:
              f:lastHeartbeatTime: {{}}
              f:lastTransitionTime: {{}}
              f:message: {{}}
              f:reason: {{}}
              f:status: {{}}
          f:images: {{}}
          f:nodeInfo:
            f:bootID: {{}}
            f:kernelVersion: {{}}
      manager: kubelet
      operation: Update
      subresource: status
      time: "2026-03-02T08:41:17Z"
    name: {name}
    resourceVersion: "{}"
    uid: {uid}
  spec:
    providerID: aws:///us-east-1{}/i-0{i:016x}
  status:
    addresses:
    - address: {ip}
      type: InternalIP
    - address: ip-{}.ec2.internal
      type: Hostname
    - address: ip-{}.ec2.internal
      type: InternalDNS
    allocatable:
      cpu: 7500m
      ephemeral-storage: "115470533646"
      hugepages-1Gi: "0"
      hugepages-2Mi: "0"
      memory: 31631224Ki
      pods: "250"
    capacity:
      cpu: "8"
      ephemeral-storage: 125293548Ki
      hugepages-1Gi: "0"
      hugepages-2Mi: "0"
      memory: 32782200Ki
      pods: "250"
    conditions:
    - lastHeartbeatTime: "2026-03-02T08:41:17Z"
      lastTransitionTime: "2026-01-15T10:01:00Z"
      message: kubelet has sufficient memory available
      reason: KubeletHasSufficientMemory
      status: "False"
      type: MemoryPressure
    - lastHeartbeatTime: "2026-03-02T08:41:17Z"
      lastTransitionTime: "2026-01-15T10:01:00Z"
      message: kubelet has no disk pressure
      reason: KubeletHasNoDiskPressure
      status: "False"
      type: DiskPressure
    - lastHeartbeatTime: "2026-03-02T08:41:17Z"
      lastTransitionTime: "2026-01-15T10:01:00Z"
      message: kubelet has sufficient PID available
      reason: KubeletHasSufficientPID
      status: "False"
      type: PIDPressure
    - lastHeartbeatTime: "2026-03-02T08:41:17Z"
      lastTransitionTime: "2026-01-15T10:03:12Z"
      message: kubelet is posting ready status
      reason: KubeletReady
      status: "True"
      type: Ready
    daemonEndpoints:
      kubeletEndpoint:
        Port: 10250
    images:
"#,
        i % 256,
        (i >> 8) % 256,
        (i >> 16) % 256,
        128 + (i >> 7) % 64,
        (i * 2) % 256,
        i / 60 % 60,
        i % 60,
        zone(i),
        zone(i),
        zone(i),
        1_000_000 + i,
        zone(i),
        ip.replace('.', "-"),
        ip.replace('.', "-"),
    )?;
    for image in 0..IMAGES {
        let digest =
            format!("{:016x}{:016x}{:016x}{:016x}", image * 31 + 7, image * 131 + 3, image * 977, image ^ 0x5a5a);
        writeln!(
            out,
            "    - names:\n      - quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{digest}\n      - quay.io/openshift-release-dev/ocp-v4.0-art-dev:component-{image}\n      sizeBytes: {}",
            400_000_000 + image * 7_654_321
        )?;
    }
    writeln!(
        out,
        r#"    nodeInfo:
      architecture: amd64
      bootID: {uid}
      containerRuntimeVersion: cri-o://1.31.6-3.rhaos4.18.gitf6c2ac5.el9
      kernelVersion: 5.14.0-427.65.1.el9_4.x86_64
      kubeProxyVersion: v1.31.7
      kubeletVersion: v1.31.7
      machineID: ec2{i:029x}
      operatingSystem: linux
      osImage: Red Hat Enterprise Linux CoreOS 418.94.202503121207-0
      systemUUID: ec2{i:029x}"#
    )
}

fn zone(i: usize) -> char {
    ['a', 'b', 'c'][i % 3]
}
