//! The `web` workload of the end-to-end tests: busybox `httpd` replicas that each serve their
//! own pod name, behind Service `web`.

use std::path::Path;

/// A readiness probe (YAML under `readinessProbe:`) for a replica serving :8080.
pub(crate) const HTTP_PROBE: &str = "httpGet:\n            path: /\n            port: 8080";

/// `serve` for a replica with an IP of its own: busybox `httpd` on :8080 serving
/// `<www>/<pod>`.
pub(crate) fn httpd_8080(www: &Path) -> String {
    format!(
        "exec /bin/busybox httpd -f -p 8080 -h {}/$HOSTNAME",
        www.display()
    )
}

/// The shell of a `web` container: writes `<www>/<pod>/index.html` holding the pod's name,
/// prints `serving <pod>`, then runs `serve`.
pub(crate) fn script(www: &Path, serve: &str) -> String {
    let www = www.display();
    format!(
        "mkdir -p {www}/$HOSTNAME && echo $HOSTNAME > {www}/$HOSTNAME/index.html && echo serving $HOSTNAME && {serve}"
    )
}

/// Deployment `web` of `replicas` pods labelled `app: web`, stopped within `grace_seconds`;
/// `pod_spec` is the rest of the pod spec (YAML lines indented by six spaces).
pub(crate) fn deployment(replicas: u32, grace_seconds: u32, pod_spec: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: {grace_seconds}
{pod_spec}"#
    )
}

/// A [`deployment`] of `replicas` pods spread one per node (tainted nodes left out of the
/// count), each running [`script`] with `serve`, ready by `probe`, stopped within
/// `grace_seconds`; and Service `web` (80 → 8080).
pub(crate) fn manifest(
    www: &Path,
    replicas: u32,
    grace_seconds: u32,
    serve: &str,
    probe: &str,
) -> String {
    let script = script(www, serve);
    let pod_spec = format!(
        r#"      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: kubernetes.io/hostname
        whenUnsatisfiable: DoNotSchedule
        nodeTaintsPolicy: Honor
        labelSelector:
          matchLabels:
            app: web
      containers:
      - name: httpd
        image: busybox:1.36
        command:
        - /bin/busybox
        - sh
        - -c
        - {script}
        ports:
        - containerPort: 8080
        readinessProbe:
          {probe}
          periodSeconds: 1
"#
    );
    format!(
        r#"{}---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
"#,
        deployment(replicas, grace_seconds, &pod_spec)
    )
}

/// Fails the test unless `/bin/busybox` (the replicas' program) is installed.
pub(crate) fn require_busybox() {
    assert!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox is missing: scripts/test.sh installs busybox-static"
    );
}
