//! Profiles (one per `schedulerName`) and the scheduling algorithm run over a profile's
//! plugins: PreFilter → Filter over an adaptive share of the nodes → PreScore → Score →
//! NormalizeScore → weighted sum → host selection (`schedule_one.go`).

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::Arc;

use rand::Rng;

use crate::framework::*;
use crate::nodeinfo::{NodeInfo, PodInfo, Snapshot};

/// Below this many nodes every node is filtered (`minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (`minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;
/// After this many nodes failed their filters, `find_feasible` sizes the status map for all the
/// nodes left.
const RESERVE_AFTER_FAILURES: usize = 64;

/// How many feasible nodes to look for among `num_all_nodes` (`numFeasibleNodesToFind`):
/// all below 100 nodes; else `percentage` (0 = adaptive `max(50 − n/125, 5)`) of them, at
/// least 100.
pub fn num_feasible_nodes_to_find(percentage: u32, num_all_nodes: usize) -> usize {
    let n = num_all_nodes;
    if n < MIN_FEASIBLE_NODES_TO_FIND {
        return n;
    }
    let mut pct = percentage as usize;
    if pct == 0 {
        pct = 50usize.saturating_sub(n / 125);
        if pct < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND {
            pct = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
        }
    }
    if pct >= 100 {
        return n;
    }
    (n * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// A set of plugins per extension point, selected by a pod's `schedulerName`
/// (`KubeSchedulerProfile`).
#[derive(Clone)]
pub struct Profile {
    /// The `schedulerName` this profile serves.
    pub scheduler_name: String,
    /// PreFilter plugins, in order.
    pub pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    /// Filter plugins, in order.
    pub filter: Vec<Arc<dyn FilterPlugin>>,
    /// PostFilter plugins (preemption).
    pub post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    /// PreScore plugins.
    pub pre_score: Vec<Arc<dyn PreScorePlugin>>,
    /// Score plugins with their weights.
    pub score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    /// Reserve plugins.
    pub reserve: Vec<Arc<dyn ReservePlugin>>,
    /// Permit plugins.
    pub permit: Vec<Arc<dyn PermitPlugin>>,
    /// PreBind plugins.
    pub pre_bind: Vec<Arc<dyn PreBindPlugin>>,
    /// Bind plugins (the first that does not skip binds).
    pub bind: Vec<Arc<dyn BindPlugin>>,
    /// Share of nodes to score (0 or `None`: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: Vec<&str>| v.join(",");
        f.debug_struct("Profile")
            .field("scheduler_name", &self.scheduler_name)
            .field(
                "filter",
                &names(self.filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "score",
                &self
                    .score
                    .iter()
                    .map(|(p, w)| format!("{}={w}", p.name()))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Why a pod fits no node (`framework.FitError`); its `Display` is the FailedScheduling
/// message.
#[derive(Clone, Debug, Default)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// PreFilter's rejection, if PreFilter rejected the pod.
    pub pre_filter_msg: Option<String>,
    /// Each filtered node's status.
    pub statuses: NodeStatusMap,
    /// PostFilter's message (preemption's FitError, prefixed `preemption: `).
    pub post_filter_msg: Option<String>,
    /// Plugins that rejected the pod (for requeueing).
    pub unschedulable_plugins: HashSet<String>,
}

impl FitError {
    /// The reason histogram: `"<count> <reason>"` entries sorted as strings.
    pub fn histogram(&self) -> Vec<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in self.statuses.values() {
            for r in &s.reasons {
                *counts.entry(r.as_str()).or_default() += 1;
            }
        }
        let mut v: Vec<String> = counts
            .into_iter()
            .map(|(r, c)| format!("{c} {r}"))
            .collect();
        v.sort();
        v
    }
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        if let Some(m) = &self.pre_filter_msg {
            write!(f, " {m}.")?;
        } else {
            write!(f, " {}.", self.histogram().join(", "))?;
        }
        if let Some(m) = &self.post_filter_msg {
            write!(f, " {m}")?;
        }
        Ok(())
    }
}

/// The outcome of one scheduling algorithm run.
#[derive(Clone, Debug)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// Nodes filtered.
    pub evaluated_nodes: usize,
    /// Nodes that passed.
    pub feasible_nodes: usize,
}

/// Why scheduling failed.
#[derive(Clone, Debug)]
pub enum ScheduleError {
    /// No node fits.
    Fit(Box<FitError>),
    /// There are no nodes at all (`ErrNoNodesAvailable`).
    NoNodes,
    /// A plugin failed with an error status.
    Plugin(Status),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Fit(e) => e.fmt(f),
            ScheduleError::NoNodes => f.write_str("no nodes available to schedule pods"),
            ScheduleError::Plugin(s) => write!(f, "running {} plugin: {}", s.plugin, s.message()),
        }
    }
}

impl Profile {
    /// An empty profile for `scheduler_name` (add plugins with the `with_*` methods, or start
    /// from [`crate::plugins::default_profile`]).
    pub fn new(scheduler_name: &str) -> Profile {
        Profile {
            scheduler_name: scheduler_name.to_string(),
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            permit: Vec::new(),
            pre_bind: Vec::new(),
            bind: Vec::new(),
            percentage_of_nodes_to_score: None,
        }
    }

    /// Adds a PreFilter plugin.
    pub fn with_pre_filter(mut self, p: Arc<dyn PreFilterPlugin>) -> Self {
        self.pre_filter.push(p);
        self
    }
    /// Adds a Filter plugin.
    pub fn with_filter(mut self, p: Arc<dyn FilterPlugin>) -> Self {
        self.filter.push(p);
        self
    }
    /// Adds a PostFilter plugin.
    pub fn with_post_filter(mut self, p: Arc<dyn PostFilterPlugin>) -> Self {
        self.post_filter.push(p);
        self
    }
    /// Adds a PreScore plugin.
    pub fn with_pre_score(mut self, p: Arc<dyn PreScorePlugin>) -> Self {
        self.pre_score.push(p);
        self
    }
    /// Adds a Score plugin with `weight`.
    pub fn with_score(mut self, p: Arc<dyn ScorePlugin>, weight: i64) -> Self {
        self.score.push((p, weight));
        self
    }
    /// Adds a Reserve plugin.
    pub fn with_reserve(mut self, p: Arc<dyn ReservePlugin>) -> Self {
        self.reserve.push(p);
        self
    }
    /// Adds a Permit plugin.
    pub fn with_permit(mut self, p: Arc<dyn PermitPlugin>) -> Self {
        self.permit.push(p);
        self
    }
    /// Adds a PreBind plugin.
    pub fn with_pre_bind(mut self, p: Arc<dyn PreBindPlugin>) -> Self {
        self.pre_bind.push(p);
        self
    }
    /// Adds a Bind plugin.
    pub fn with_bind(mut self, p: Arc<dyn BindPlugin>) -> Self {
        self.bind.push(p);
        self
    }
    /// Sets the weight of the Score plugin `name`; returns whether it is in the profile.
    pub fn set_weight(&mut self, name: &str, weight: i64) -> bool {
        let mut found = false;
        for (p, w) in self.score.iter_mut() {
            if p.name() == name {
                *w = weight;
                found = true;
            }
        }
        found
    }
    /// Removes the plugin `name` from every extension point.
    pub fn without(mut self, name: &str) -> Self {
        self.pre_filter.retain(|p| p.name() != name);
        self.filter.retain(|p| p.name() != name);
        self.post_filter.retain(|p| p.name() != name);
        self.pre_score.retain(|p| p.name() != name);
        self.score.retain(|(p, _)| p.name() != name);
        self.reserve.retain(|p| p.name() != name);
        self.permit.retain(|p| p.name() != name);
        self.pre_bind.retain(|p| p.name() != name);
        self.bind.retain(|p| p.name() != name);
        self
    }

    /// Every plugin once (for event registration), by name.
    pub fn plugins(&self) -> Vec<Arc<dyn Plugin>> {
        let mut out: Vec<Arc<dyn Plugin>> = Vec::new();
        let mut seen = HashSet::new();
        let mut push = |p: Arc<dyn Plugin>| {
            if seen.insert(p.name().to_string()) {
                out.push(p);
            }
        };
        for p in &self.pre_filter {
            push(p.clone());
        }
        for p in &self.filter {
            push(p.clone());
        }
        for p in &self.post_filter {
            push(p.clone());
        }
        for p in &self.reserve {
            push(p.clone());
        }
        for p in &self.permit {
            push(p.clone());
        }
        out
    }

    /// Runs the PreFilter plugins. `Err` is the rejecting status (plugin set).
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> Result<Option<HashSet<String>>, Status> {
        let mut allowed: Option<HashSet<String>> = None;
        for p in &self.pre_filter {
            let r = p.pre_filter(state, pod, snapshot);
            match r.status.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_filter.insert(p.name().to_string());
                    continue;
                }
                _ => return Err(r.status.with_plugin(p.name())),
            }
            if let Some(names) = r.node_names {
                allowed = Some(match allowed {
                    None => names,
                    Some(a) => a.intersection(&names).cloned().collect(),
                });
                if allowed.as_ref().is_some_and(|a| a.is_empty()) {
                    return Err(Status::unresolvable(format!(
                        "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                        p.name()
                    ))
                    .with_plugin(p.name()));
                }
            }
        }
        Ok(allowed)
    }

    /// Runs the Filter plugins on one node, stopping at the first non-success.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for p in &self.filter {
            if !state.skip_filter.is_empty() && state.skip_filter.contains(p.name()) {
                continue;
            }
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// The Filter plugins whose PreFilter did not skip, resolved once per cycle.
    fn active_filters(&self, state: &CycleState) -> Vec<&dyn FilterPlugin> {
        self.filter
            .iter()
            .filter(|p| state.skip_filter.is_empty() || !state.skip_filter.contains(p.name()))
            .map(|p| &**p)
            .collect()
    }

    /// [`Profile::run_filters`] over an [`Profile::active_filters`] list.
    fn run_active_filters(
        filters: &[&dyn FilterPlugin],
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for p in filters {
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs the PreFilter extensions' `add_pod` for `added` on `node`.
    pub fn run_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
    ) {
        for p in &self.pre_filter {
            if !state.skip_filter.contains(p.name()) {
                p.add_pod(state, pod, added, node);
            }
        }
    }

    /// Runs the PreFilter extensions' `remove_pod` for `removed` on `node`.
    pub fn run_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
    ) {
        for p in &self.pre_filter {
            if !state.skip_filter.contains(p.name()) {
                p.remove_pod(state, pod, removed, node);
            }
        }
    }

    /// Filters with the nominated pods of equal or higher priority counted on the node
    /// (`RunFilterPluginsWithNominatedPods`): passes only if the node fits both with and
    /// without them.
    pub fn run_filters_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominated: &[Arc<PodInfo>],
    ) -> Status {
        let relevant: Vec<&Arc<PodInfo>> = nominated
            .iter()
            .filter(|n| n.priority >= pod.priority && n.uid != pod.uid)
            .collect();
        if !relevant.is_empty() {
            let mut st = state.clone();
            let mut ni = node.clone();
            for n in relevant {
                ni.add_pod(n.clone());
                self.run_add_pod(&mut st, pod, n, &ni);
            }
            let s = self.run_filters(&st, pod, &ni);
            if !s.is_success() {
                return s;
            }
        }
        self.run_filters(state, pod, node)
    }

    /// Filters nodes from `start` round-robin until `to_find` fit
    /// (`findNodesThatPassFilters`). Returns the feasible nodes, the rejected nodes'
    /// statuses and how many nodes were visited.
    #[allow(clippy::too_many_arguments)]
    pub fn find_feasible(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        allowed: Option<&HashSet<String>>,
        start: usize,
        to_find: usize,
        nominated: &dyn Fn(&str) -> Vec<Arc<PodInfo>>,
    ) -> (Vec<Arc<NodeInfo>>, NodeStatusMap, usize) {
        let nodes = &snapshot.nodes;
        let n = nodes.len();
        let mut feasible = Vec::with_capacity(to_find.min(n));
        let mut statuses = NodeStatusMap::default();
        let mut visited = 0;
        let filters = self.active_filters(state);
        for i in 0..n {
            let node = &nodes[(start + i) % n];
            visited += 1;
            if let Some(a) = allowed {
                if !a.contains(&node.name) {
                    continue;
                }
            }
            let nom = nominated(&node.name);
            let s = if nom.is_empty() {
                Self::run_active_filters(&filters, state, pod, node)
            } else {
                self.run_filters_with_nominated(state, pod, node, &nom)
            };
            if s.is_success() {
                feasible.push(node.clone());
                if feasible.len() >= to_find {
                    break;
                }
            } else {
                if statuses.len() == RESERVE_AFTER_FAILURES {
                    // Many nodes failing is seldom the end of it (a full or mismatched
                    // cluster): size the map once for the nodes left instead of growing it
                    // step by step. Not sooner: a pod that passes over a few full nodes would
                    // allocate (and the kernel zero) a map for the whole cluster.
                    statuses.reserve(allowed.map_or(n - i, |a| a.len().min(n - i)));
                }
                statuses.insert(node.name.clone(), s);
            }
        }
        (feasible, statuses, visited)
    }

    /// PreScore, Score, NormalizeScore and the weighted sum (`prioritizeNodes`).
    pub fn prioritize(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        feasible: &[Arc<NodeInfo>],
        snapshot: &Snapshot,
    ) -> Result<Vec<NodeScore>, Status> {
        if self.score.is_empty() {
            return Ok(feasible
                .iter()
                .map(|n| NodeScore {
                    name: n.shared_name.clone(),
                    score: 1,
                })
                .collect());
        }
        for p in &self.pre_score {
            let s = p.pre_score(state, pod, feasible, snapshot);
            match s.code {
                Code::Success => {}
                Code::Skip => {
                    state.skip_score.insert(p.name().to_string());
                }
                _ => return Err(s.with_plugin(p.name())),
            }
        }
        // One list of names for every plugin (normalization sees names and scores); the
        // weighted sums accumulate beside it.
        let mut scores: Vec<NodeScore> = feasible
            .iter()
            .map(|n| NodeScore {
                name: n.shared_name.clone(),
                score: 0,
            })
            .collect();
        let n = feasible.len();
        let mut totals: Vec<i64> = vec![0; n];
        let active: Vec<&(Arc<dyn ScorePlugin>, i64)> = self
            .score
            .iter()
            .filter(|(p, _)| state.skip_score.is_empty() || !state.skip_score.contains(p.name()))
            .collect();
        // Node by node (each node's data is read once while it is in cache), plugin by
        // plugin within: raw[j * n + i] is plugin j's score of node i.
        let mut raw: Vec<i64> = vec![0; active.len() * n];
        for (i, node) in feasible.iter().enumerate() {
            for (j, (p, _)) in active.iter().enumerate() {
                raw[j * n + i] = p
                    .score(state, pod, node)
                    .map_err(|s| s.with_plugin(p.name()))?;
            }
        }
        for (j, (p, weight)) in active.iter().enumerate() {
            for (sc, r) in scores.iter_mut().zip(&raw[j * n..(j + 1) * n]) {
                sc.score = *r;
            }
            let s = p.normalize_score(state, pod, &mut scores);
            if !s.is_success() {
                return Err(s.with_plugin(p.name()));
            }
            for (t, s) in totals.iter_mut().zip(scores.iter()) {
                if s.score > MAX_NODE_SCORE || s.score < 0 {
                    return Err(Status::error(format!(
                        "plugin {:?} returns an invalid score {}, it should in the range of [0, 100] after normalizing",
                        p.name(),
                        s.score
                    )));
                }
                *t += s.score * weight;
            }
        }
        for (s, t) in scores.iter_mut().zip(totals) {
            s.score = t;
        }
        Ok(scores)
    }

    /// The whole algorithm for one pod (`schedulePod`). `start` is the round-robin start
    /// index, advanced for the next pod.
    pub fn schedule(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        start: &mut usize,
        rng: &mut impl Rng,
        nominated: &dyn Fn(&str) -> Vec<Arc<PodInfo>>,
    ) -> Result<ScheduleResult, ScheduleError> {
        let n = snapshot.nodes.len();
        if n == 0 {
            return Err(ScheduleError::NoNodes);
        }
        let allowed = match self.run_pre_filter(state, pod, snapshot) {
            Ok(a) => a,
            Err(s) if s.code == Code::Error => return Err(ScheduleError::Plugin(s)),
            Err(s) => {
                let mut fe = FitError {
                    num_all_nodes: n,
                    pre_filter_msg: Some(s.message()),
                    ..FitError::default()
                };
                fe.unschedulable_plugins.insert(s.plugin.clone());
                for node in snapshot.nodes.iter() {
                    fe.statuses.insert(node.name.clone(), s.clone());
                }
                return Err(ScheduleError::Fit(Box::new(fe)));
            }
        };
        // A nominated node that still fits wins outright.
        if let Some(nom) = pod.nominated_node_name() {
            if let Some(node) = snapshot.get(nom) {
                if allowed.as_ref().is_none_or(|a| a.contains(nom))
                    && self
                        .run_filters_with_nominated(state, pod, node, &nominated(nom))
                        .is_success()
                {
                    return Ok(ScheduleResult {
                        node: nom.to_string(),
                        evaluated_nodes: 1,
                        feasible_nodes: 1,
                    });
                }
            }
        }
        let pct = self.percentage_of_nodes_to_score.unwrap_or(0);
        let candidates = allowed.as_ref().map(|a| a.len()).unwrap_or(n);
        let to_find = num_feasible_nodes_to_find(pct, candidates);
        let (feasible, mut statuses, visited) = self.find_feasible(
            state,
            pod,
            snapshot,
            allowed.as_ref(),
            *start % n,
            to_find,
            nominated,
        );
        *start = (*start + visited) % n;
        if feasible.is_empty() {
            let mut fe = FitError {
                num_all_nodes: n,
                ..FitError::default()
            };
            if let Some(a) = &allowed {
                let names: Vec<&str> = self.pre_filter.iter().map(|p| p.name()).collect();
                for node in snapshot.nodes.iter() {
                    if !a.contains(&node.name) {
                        statuses.insert(
                            node.name.clone(),
                            Status::unresolvable(format!(
                                "node(s) didn't satisfy plugin(s) [{}]",
                                names.join(" ")
                            )),
                        );
                    }
                }
            }
            for s in statuses.values() {
                if !s.plugin.is_empty() {
                    fe.unschedulable_plugins.insert(s.plugin.clone());
                }
            }
            fe.statuses = statuses;
            return Err(ScheduleError::Fit(Box::new(fe)));
        }
        if feasible.len() == 1 {
            return Ok(ScheduleResult {
                node: feasible[0].name.clone(),
                evaluated_nodes: visited,
                feasible_nodes: 1,
            });
        }
        let scores = self
            .prioritize(state, pod, &feasible, snapshot)
            .map_err(ScheduleError::Plugin)?;
        let node = select_host(&scores, rng);
        Ok(ScheduleResult {
            node,
            evaluated_nodes: visited,
            feasible_nodes: feasible.len(),
        })
    }
}

/// Picks uniformly at random among the top-scored nodes (reservoir sampling).
pub fn select_host(scores: &[NodeScore], rng: &mut impl Rng) -> String {
    let mut best = i64::MIN;
    let mut chosen = 0;
    let mut ties = 0u32;
    for (i, s) in scores.iter().enumerate() {
        if s.score > best {
            best = s.score;
            chosen = i;
            ties = 1;
        } else if s.score == best {
            ties += 1;
            if rng.random_range(0..ties) == 0 {
                chosen = i;
            }
        }
    }
    scores
        .get(chosen)
        .map(|s| s.name.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_feasible_table() {
        for (pct, n, want) in [
            (0, 50, 50),
            (0, 99, 99),
            (0, 100, 100),
            (0, 500, 230),
            (0, 1000, 420),
            (0, 5000, 500),
            (0, 6000, 300),
            (0, 10000, 500),
            (0, 2000, 680),
            (30, 1000, 300),
            (5, 1000, 100),
            (100, 5000, 5000),
        ] {
            assert_eq!(num_feasible_nodes_to_find(pct, n), want, "pct={pct} n={n}");
        }
    }

    #[test]
    fn fit_error_message() {
        let mut fe = FitError {
            num_all_nodes: 5,
            ..FitError::default()
        };
        for (i, r) in [
            "Insufficient cpu",
            "Insufficient cpu",
            "node(s) didn't match Pod's node affinity/selector",
            "node(s) didn't match Pod's node affinity/selector",
            "node(s) didn't match Pod's node affinity/selector",
        ]
        .iter()
        .enumerate()
        {
            fe.statuses
                .insert(format!("n{i}"), Status::unschedulable(*r));
        }
        assert_eq!(
            fe.to_string(),
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector."
        );
        fe.post_filter_msg = Some(
            "preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
                .into(),
        );
        assert!(fe.to_string().ends_with("affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."));
    }

    #[test]
    fn histogram_sorts_as_strings() {
        let mut fe = FitError {
            num_all_nodes: 12,
            ..FitError::default()
        };
        for i in 0..10 {
            fe.statuses
                .insert(format!("a{i}"), Status::unschedulable("Too many pods"));
        }
        for i in 0..2 {
            fe.statuses
                .insert(format!("b{i}"), Status::unschedulable("Insufficient cpu"));
        }
        assert_eq!(
            fe.to_string(),
            "0/12 nodes are available: 10 Too many pods, 2 Insufficient cpu."
        );
    }

    #[test]
    fn select_host_picks_a_top_node() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let scores = vec![
            NodeScore {
                name: "a".into(),
                score: 5,
            },
            NodeScore {
                name: "b".into(),
                score: 9,
            },
            NodeScore {
                name: "c".into(),
                score: 9,
            },
        ];
        let mut seen = HashSet::new();
        for _ in 0..50 {
            seen.insert(select_host(&scores, &mut rng));
        }
        assert_eq!(seen, HashSet::from(["b".to_string(), "c".to_string()]));
    }
}
