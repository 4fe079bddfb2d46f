//! Scheduler throughput on the shapes of Kubernetes' `test/integration/scheduler_perf`
//! (performance-config.yaml): nodes are Node objects created through the in-process API on
//! the embedded store, init pods are scheduled first, then the measured pods are created
//! while the scheduler runs; binding goes through `pods/binding`.
//!
//! ```text
//! cargo run --release -p kube-sched --example scheduler_perf [-- --workload SchedulingBasic --nodes 5000 --pods 10000 --init-pods 1000 --no-scheduled-events]
//! ```
//!
//! Prints `bench <Workload> pods_per_s=… p99_ms=…` per workload. `pods_per_s` is measured
//! as scheduler_perf's `throughputCollector` does: the number of measured pods bound is
//! sampled every second while they are created and scheduled, the first sample is skipped,
//! and the figure is the average of the per-second throughputs (`SchedulingThroughput`
//! Average); `overall_pods_per_s` is measured pods / (first create → last bind), `create_s`
//! how long creating them took, p50/p99 are create → bound latencies. The bench observes
//! pods through the scheduler's own pod informer, as scheduler_perf shares the scheduler's
//! informer factory. Shapes and pod templates are those of the 5000-node `performance` cases
//! (init pods in namespace `sched-0`, measured pods in `sched-1`). PreemptionAsync fills
//! every node with four 900m low-priority pods, then creates a 3-CPU high-priority pod every
//! 200 ms (each preempts three victims) while the measured 100m pods are scheduled; a node
//! agent completes the victims' deletions, as kubelets do. `--no-scheduled-events` (a
//! diagnostic) leaves out the `Scheduled` Event kube-scheduler writes for every bound pod.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube_api::{ApiServer, LocalClient};
use kube_sched::scheduler::{DefaultScheduler, Scheduler, SchedulerConfig};
use kube_store::embedded::EmbeddedStore;
use kubox_core::api::core_v1::{Namespace, Node, Pod};
use kubox_core::api::scheduling_v1::PriorityClass;
use kubox_core::client::{Api, Client, DeleteParams, Patch, PatchParams, PostParams};
use kubox_core::runtime::Change;
use parking_lot::Mutex;
use serde_json::{json, Value};

/// The process allocator, as in the `kubox` binary (its `mimalloc` feature): glibc's malloc
/// spent a quarter of the run in `malloc`/`free`/`malloc_consolidate` over a heap of tens of
/// thousands of pods.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Workload {
    SchedulingBasic,
    SchedulingNodeAffinity,
    SchedulingPodAntiAffinity,
    SchedulingPodAffinity,
    TopologySpreading,
    PreemptionAsync,
}

const ALL: [Workload; 6] = [
    Workload::SchedulingBasic,
    Workload::SchedulingNodeAffinity,
    Workload::SchedulingPodAntiAffinity,
    Workload::SchedulingPodAffinity,
    Workload::TopologySpreading,
    Workload::PreemptionAsync,
];

impl Workload {
    /// (nodes, init pods, measured pods) of the 5000-node `performance` case in
    /// scheduler_perf's performance-config.yaml files.
    fn shape(self) -> (usize, usize, usize) {
        match self {
            Workload::SchedulingBasic => (5000, 1000, 10000),
            Workload::SchedulingNodeAffinity => (5000, 5000, 10000),
            Workload::SchedulingPodAntiAffinity => (5000, 1000, 2000),
            Workload::SchedulingPodAffinity => (5000, 5000, 5000),
            Workload::TopologySpreading => (5000, 5000, 5000),
            Workload::PreemptionAsync => (5000, 20000, 5000),
        }
    }
    /// Kubernetes' published floor (pods/s).
    fn floor(self) -> f64 {
        match self {
            Workload::SchedulingBasic => 680.0,
            Workload::SchedulingNodeAffinity => 220.0,
            Workload::SchedulingPodAntiAffinity => 60.0,
            Workload::SchedulingPodAffinity => 35.0,
            Workload::TopologySpreading => 85.0,
            Workload::PreemptionAsync => 570.0,
        }
    }
}

/// Init pods go to `sched-0`, measured pods to `sched-1` (the affinity workloads' terms name
/// both namespaces, as scheduler_perf's templates do); PreemptionAsync's churn to `churn`.
const INIT_NS: &str = "sched-0";
const MEASURED_NS: &str = "sched-1";
const CHURN_NS: &str = "churn";

fn node(i: usize, w: Workload) -> (Value, Value) {
    let name = format!("node-{i}");
    let mut labels = json!({"kubernetes.io/hostname": name});
    match w {
        Workload::SchedulingNodeAffinity | Workload::SchedulingPodAffinity => {
            labels["topology.kubernetes.io/zone"] = json!("zone1");
        }
        Workload::TopologySpreading => {
            labels["topology.kubernetes.io/zone"] = json!(format!("moon-{}", i % 3 + 1));
        }
        _ => {}
    }
    let obj = json!({"metadata": {"name": name, "labels": labels}});
    let status = json!({"status": {
        "capacity": {"pods": "110", "cpu": "4", "memory": "32Gi"},
        "allocatable": {"pods": "110", "cpu": "4", "memory": "32Gi"},
        "conditions": [{"type": "Ready", "status": "True"}]}});
    (obj, status)
}

fn container(cpu: &str, mem: &str) -> Value {
    json!([{"name": "pause", "image": "registry.k8s.io/pause:3.10",
        "ports": [{"containerPort": 80}],
        "resources": {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": cpu, "memory": mem}}}])
}

/// The pod of each phase, as scheduler_perf's templates (pod-default.yaml,
/// pod-with-node-affinity.yaml, pod-with-pod-anti-affinity.yaml, pod-with-pod-affinity.yaml,
/// pod-with-topology-spreading.yaml, pod-low-priority.yaml, pod-high-priority.yaml).
fn pod(name: &str, w: Workload, phase: Phase) -> Value {
    let default =
        json!({"metadata": {"name": name}, "spec": {"containers": container("100m", "500Mi")}});
    let both_ns = json!([MEASURED_NS, INIT_NS]);
    match (w, phase) {
        (Workload::SchedulingNodeAffinity, _) => {
            json!({"metadata": {"name": name}, "spec": {"containers": container("100m", "500Mi"),
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone1", "zone2"]}]}]}}}}})
        }
        (Workload::SchedulingPodAntiAffinity, _) => {
            json!({"metadata": {"name": name, "labels": {"color": "green"}}, "spec": {"containers": container("100m", "500Mi"),
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"color": "green"}}, "topologyKey": "kubernetes.io/hostname", "namespaces": both_ns}]}}}})
        }
        (Workload::SchedulingPodAffinity, _) => {
            json!({"metadata": {"name": name, "labels": {"color": "blue"}}, "spec": {"containers": container("100m", "500Mi"),
            "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"color": "blue"}}, "topologyKey": "topology.kubernetes.io/zone", "namespaces": both_ns}]}}}})
        }
        (Workload::TopologySpreading, Phase::Measured) => {
            json!({"metadata": {"name": name, "labels": {"color": "blue"}}, "spec": {"containers": container("100m", "500Mi"),
            "topologySpreadConstraints": [{"maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"color": "blue"}}}]}})
        }
        (Workload::PreemptionAsync, Phase::Init) => {
            json!({"metadata": {"name": name}, "spec": {"terminationGracePeriodSeconds": 0, "containers": container("900m", "500Mi")}})
        }
        (Workload::PreemptionAsync, Phase::Churn) => {
            json!({"metadata": {"name": name}, "spec": {"priorityClassName": "high", "containers": container("3000m", "500Mi")}})
        }
        _ => default,
    }
}

/// Which pods a template is for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    Init,
    Measured,
    /// PreemptionAsync's high-priority pods, created every 200 ms while the measured pods are.
    Churn,
}

impl Phase {
    fn namespace(self) -> &'static str {
        match self {
            Phase::Init => INIT_NS,
            Phase::Measured => MEASURED_NS,
            Phase::Churn => CHURN_NS,
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Measured => "measured",
            Phase::Churn => "churn",
        }
    }
}

struct Tracker {
    created: Mutex<HashMap<String, Instant>>,
    bound: Mutex<HashMap<String, Instant>>,
    init_bound: AtomicUsize,
    measured_bound: AtomicUsize,
    churn_bound: AtomicUsize,
}

impl Tracker {
    /// The bound counter of a pod's phase, by its name.
    fn counter(&self, name: &str) -> Option<&AtomicUsize> {
        if name.starts_with("init-") {
            Some(&self.init_bound)
        } else if name.starts_with("measured-") {
            Some(&self.measured_bound)
        } else if name.starts_with("churn-") {
            Some(&self.churn_bound)
        } else {
            None
        }
    }
}

async fn create_pods(
    client: Arc<dyn Client>,
    w: Workload,
    phase: Phase,
    n: usize,
    tracker: Arc<Tracker>,
) {
    let api: Api<Pod> = Api::namespaced(client, phase.namespace());
    // The template is parsed once, as scheduler_perf reads its template file once.
    let template: Arc<Pod> =
        Arc::new(serde_json::from_value(pod("template", w, phase)).expect("pod template"));
    let par = 4;
    let mut tasks = Vec::new();
    for t in 0..par {
        let api = api.clone();
        let tracker = tracker.clone();
        let template = template.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..n).step_by(par) {
                let name = format!("{}-{i}", phase.prefix());
                let mut p = (*template).clone();
                p.metadata.name = Some(name.clone());
                tracker.created.lock().insert(name.clone(), Instant::now());
                if let Err(e) = api.create(&PostParams::default(), &p).await {
                    eprintln!("create {name}: {e}");
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn wait_bound(
    tracker: &Tracker,
    sched: &DefaultScheduler,
    prefix: &str,
    n: usize,
    timeout: Duration,
) -> bool {
    let start = Instant::now();
    let mut report = start + Duration::from_secs(10);
    let counter = tracker.counter(prefix).expect("a counted phase");
    loop {
        let c = counter.load(Ordering::Relaxed);
        if c >= n {
            return true;
        }
        if start.elapsed() > timeout {
            eprintln!("timeout: {c}/{n} {prefix} pods bound");
            return false;
        }
        if Instant::now() >= report {
            // Progress on stderr for long runs.
            report += Duration::from_secs(10);
            eprintln!(
                "{prefix}: {c}/{n} bound, queues {:?}, {:?}",
                sched.queue_sizes(),
                sched.metrics()
            );
            // A few pending pods and why.
            let pending: Vec<_> = sched
                .pod_informer()
                .map(|i| i.store().list())
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
                .take(3)
                .collect();
            for p in pending {
                let st = p.status.as_ref();
                eprintln!(
                    "  pending {:?} nominated={:?} conditions={:?}",
                    p.metadata.name,
                    st.and_then(|s| s.nominated_node_name.as_ref()),
                    st.and_then(|s| s.conditions.as_ref())
                        .map(|c| c.iter().map(|c| c.message.clone()).collect::<Vec<_>>())
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn run(
    w: Workload,
    nodes: usize,
    init: usize,
    measured: usize,
    events: bool,
) -> anyhow::Result<()> {
    let server = ApiServer::new(Arc::new(EmbeddedStore::in_memory()));
    server.ensure_system_namespaces().await?;
    let client = LocalClient::admin(server).into_client();
    let nsapi: Api<Namespace> = Api::all(client.clone());
    for ns in [INIT_NS, MEASURED_NS, CHURN_NS] {
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        nsapi.create(&PostParams::default(), &n).await?;
    }
    if w == Workload::PreemptionAsync {
        let pcs: Api<PriorityClass> = Api::all(client.clone());
        for (name, value) in [("low", 1), ("high", 10)] {
            let pc: PriorityClass =
                serde_json::from_value(json!({"metadata": {"name": name}, "value": value}))?;
            pcs.create(&PostParams::default(), &pc).await?;
        }
    }
    let napi: Api<Node> = Api::all(client.clone());
    for i in 0..nodes {
        let (obj, status) = node(i, w);
        let n: Node = serde_json::from_value(obj)?;
        napi.create(&PostParams::default(), &n).await?;
        napi.patch_status(
            &format!("node-{i}"),
            &PatchParams::default(),
            Patch::Merge(status),
        )
        .await?;
    }
    let tracker = Arc::new(Tracker {
        created: Mutex::new(HashMap::new()),
        bound: Mutex::new(HashMap::new()),
        init_bound: AtomicUsize::new(0),
        measured_bound: AtomicUsize::new(0),
        churn_bound: AtomicUsize::new(0),
    });
    let config = SchedulerConfig {
        seed: Some(42),
        record_scheduled_events: events,
        ..Default::default()
    };
    let sched = DefaultScheduler::new(client.clone(), config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(sched.clone().run(Box::pin(async move {
        let _ = stop_rx.await;
    })));
    // Observer on the scheduler's own pod informer: records when each pod is bound;
    // completes graceful deletions (node agent).
    let pods = loop {
        match sched.pod_informer() {
            Some(p) => break p,
            None => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    };
    let mut sub = pods.subscribe();
    let t2 = tracker.clone();
    let c2 = client.clone();
    let obs = tokio::spawn(async move {
        while let Some(ch) = sub.next().await {
            if let Change::Added(p) | Change::Updated { new: p, .. } = ch {
                let name = p.metadata.name.clone().unwrap_or_default();
                if p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty())
                {
                    let new = match t2.bound.lock().entry(name.clone()) {
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(Instant::now());
                            true
                        }
                        std::collections::hash_map::Entry::Occupied(_) => false,
                    };
                    if new {
                        if let Some(c) = t2.counter(&name) {
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if p.metadata.deletion_timestamp.is_some() {
                    let ns = p.metadata.namespace.clone().unwrap_or_default();
                    let api: Api<Pod> = Api::namespaced(c2.clone(), &ns);
                    tokio::spawn(async move {
                        let dp = DeleteParams {
                            grace_period_seconds: Some(0),
                            ..Default::default()
                        };
                        let _ = api.delete(&name, &dp).await;
                    });
                }
            }
        }
    });
    create_pods(client.clone(), w, Phase::Init, init, tracker.clone()).await;
    if !wait_bound(&tracker, &sched, "init-", init, Duration::from_secs(600)).await {
        anyhow::bail!("init pods not scheduled");
    }
    // scheduler_perf's throughputCollector: bound measured pods sampled every second.
    let t3 = tracker.clone();
    let (sample_stop_tx, mut sample_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sampler = tokio::spawn(async move {
        let mut samples: Vec<f64> = Vec::new();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.tick().await;
        let mut last = 0usize;
        let mut last_t = Instant::now();
        let mut started = false;
        let mut skipped = 0usize;
        loop {
            tokio::select! {
                _ = &mut sample_stop_rx => break,
                _ = ticker.tick() => {}
            }
            let now = Instant::now();
            let scheduled = t3.measured_bound.load(Ordering::Relaxed);
            if scheduled == 0 {
                continue;
            }
            if !started {
                // The first sample is skipped (creation and sampling start independently).
                started = true;
                last = scheduled;
                last_t = now;
                continue;
            }
            if scheduled == last {
                skipped += 1;
                continue;
            }
            let tp = (scheduled - last) as f64 / now.duration_since(last_t).as_secs_f64();
            samples.extend(std::iter::repeat_n(tp, skipped + 1));
            skipped = 0;
            last = scheduled;
            last_t = now;
        }
        samples
    });
    // PreemptionAsync's churn: one high-priority pod every 200 ms while the measured pods
    // are created and scheduled; each needs 3 of a node's 4 low-priority pods preempted.
    let churn_created = Arc::new(AtomicUsize::new(0));
    let churn = (w == Workload::PreemptionAsync).then(|| {
        let api: Api<Pod> = Api::namespaced(client.clone(), CHURN_NS);
        let created = churn_created.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(200));
            for i in 0.. {
                ticker.tick().await;
                let name = format!("{}-{i}", Phase::Churn.prefix());
                let p: Pod =
                    serde_json::from_value(pod(&name, w, Phase::Churn)).expect("churn pod");
                match api.create(&PostParams::default(), &p).await {
                    Ok(_) => {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("create {name}: {e}"),
                }
            }
        })
    });
    let start = Instant::now();
    create_pods(
        client.clone(),
        w,
        Phase::Measured,
        measured,
        tracker.clone(),
    )
    .await;
    let create_s = start.elapsed().as_secs_f64();
    let ok = wait_bound(
        &tracker,
        &sched,
        "measured-",
        measured,
        Duration::from_secs(900),
    )
    .await;
    let elapsed = start.elapsed();
    if let Some(c) = churn {
        c.abort();
    }
    let _ = sample_stop_tx.send(());
    let mut samples = sampler.await.unwrap_or_default();
    samples.sort_by(|a, b| a.total_cmp(b));
    let mut lat: Vec<f64> = {
        let created = tracker.created.lock();
        let bound = tracker.bound.lock();
        bound
            .iter()
            .filter(|(k, _)| k.starts_with("measured-"))
            .filter_map(|(k, b)| {
                created
                    .get(k)
                    .map(|c| b.duration_since(*c).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    lat.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| {
        lat.get(((lat.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    let done = lat.len();
    let overall = done as f64 / elapsed.as_secs_f64();
    // Too short a run for one full sample: the overall rate is all there is.
    let avg = if samples.is_empty() {
        overall
    } else {
        samples.iter().sum::<f64>() / samples.len() as f64
    };
    let tp50 = if samples.is_empty() {
        overall
    } else {
        samples[((samples.len() as f64 * 0.5).ceil() as usize).saturating_sub(1)]
    };
    let m = sched.metrics();
    println!(
        "bench {:?} pods_per_s={:.0} throughput_p50={:.0} samples={} overall_pods_per_s={:.0} create_s={:.2} p50_ms={:.1} p99_ms={:.1} nodes={} init_pods={} measured_pods={} bound={} complete={} floor_x10={:.0} scheduled_events={} attempts_scheduled={} attempts_unschedulable={} preemption_victims={} preemptors_created={} preemptors_bound={}",
        w, avg, tp50, samples.len(), overall, create_s, p(0.5), p(0.99), nodes, init, measured, done, ok, w.floor() * 10.0, events, m.scheduled, m.unschedulable, m.preemption_victims,
        churn_created.load(Ordering::Relaxed), tracker.churn_bound.load(Ordering::Relaxed)
    );
    let _ = stop_tx.send(());
    let _ = run.await;
    obs.abort();
    Ok(())
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let only = arg(&args, "--workload");
    // Diagnostic: without the `Scheduled` Event per bound pod (kube-scheduler writes one).
    let events = !args.iter().any(|a| a == "--no-scheduled-events");
    let scale = |a: &str| arg(&args, a).map(|v| v.parse::<usize>()).transpose();
    let (nodes, pods, init) = (scale("--nodes")?, scale("--pods")?, scale("--init-pods")?);
    for w in ALL {
        if let Some(o) = &only {
            if !format!("{w:?}").eq_ignore_ascii_case(o) {
                continue;
            }
        }
        let (n, i, m) = w.shape();
        let n = nodes.unwrap_or(n);
        let mut i = init.unwrap_or(i);
        if w == Workload::PreemptionAsync && init.is_none() {
            i = n * 4; // 4 low-priority pods on every node: 3.6 of its 4 CPUs
        }
        run(w, n, i, pods.unwrap_or(m), events).await?;
    }
    Ok(())
}
