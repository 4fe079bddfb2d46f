//! The labels and annotations the kubelet puts on runtime objects (sandboxes and containers)
//! to find its own objects again: the same keys Kubernetes' kubelet uses
//! (`pkg/kubelet/types/labels.go`, `pkg/kubelet/kuberuntime/labels.go`), plus one key of ours
//! naming the node, so that several kubelets can share one runtime daemon and none of them
//! touches the others' (or anybody else's) containers.

/// Label: the pod's name.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Label: the pod's namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Label: the pod's UID.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Label: the container's name in the pod.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Label: the node whose kubelet created the object (kubox's ownership marker).
pub const NODE_NAME: &str = "io.kubox.node";

/// Annotation: the hash of the container's spec (a changed spec restarts the container).
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
/// Annotation: the container's restart count.
pub const CONTAINER_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Annotation: the container's termination message path.
pub const CONTAINER_TERMINATION_MESSAGE_PATH: &str =
    "io.kubernetes.container.terminationMessagePath";
/// Annotation: the pod's termination grace period in seconds.
pub const POD_TERMINATION_GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
