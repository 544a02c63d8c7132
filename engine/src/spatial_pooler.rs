//! nupic.core's C++ SpatialPooler (as NuPIC 1.0.5 runs it with global inhibition), bit-exact:
//! NuPIC's RNG call order at initialisation, float32 permanences with 5-decimal initial truncation,
//! the 1e-6 epsilon on the connected test, ties to the higher column index, float32 duty cycles and
//! the weak-column bump (spec/htm.md 2.4, 3.4).
//!
//! The state is kept compact: each column's potential pool is a bitmap over the inputs, and every
//! input keeps a bitmap of the columns it is connected to, so the overlap is computed from the
//! active inputs only and learning touches only the winners' pools. Float32 permanences are held
//! only for columns that changed since initialisation (typically a few hundred of 2048); a column's
//! initial permanences are regenerated from a saved RNG state when it first changes.
//!
//! A checkpoint stores the parameters, the duty cycles and the permanences of the columns that
//! changed since initialisation; loading regenerates the initial state from the parameters (seed)
//! and rejects a checkpoint whose parameters generate a different initial state. The initial state
//! of a parameter set is computed once per process and shared (`initial_for`).

use std::sync::{Arc, Mutex};

use crate::rng::Random;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// nupic.core's PERMANENCE_EPSILON (a `Real`).
const PERMANENCE_EPSILON: f32 = 0.000_001;
const SYN_PERM_MAX: f32 = 1.0;
const INIT_CONNECTED_PCT: f64 = 0.5;
/// Iterations between recomputations of the minimum overlap duty cycle.
const UPDATE_PERIOD: u64 = 50;
const MAX_LOCAL_AREA_DENSITY: f32 = 0.5;
/// Column indices are kept as u16 (pending overlap corrections); inputs are bounded alike.
const MAX_DIMENSION: u32 = 1 << 16;
/// Columns per saved initialisation RNG state: regenerating a column's initial permanences replays
/// at most this many columns' draws.
const SNAPSHOT_STRIDE: usize = 16;
/// Columns' worth of permanences added at a time when columns first change.
const GROWTH_COLUMNS: usize = 32;
/// `SpState::slots` entry of a column whose permanences are still the initial ones.
const UNTOUCHED: u32 = u32::MAX;

/// Spatial pooler parameters, named after NuPIC's `spParams` (reals are converted to float32, as
/// NuPIC's C++ binding does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpParams {
    pub input_width: u32,
    pub column_count: u32,
    pub potential_radius: u32,
    pub potential_pct: f64,
    pub global_inhibition: bool,
    pub num_active_columns_per_inh_area: u32,
    pub stimulus_threshold: u32,
    pub syn_perm_active_inc: f64,
    pub syn_perm_inactive_dec: f64,
    pub syn_perm_connected: f64,
    pub min_pct_overlap_duty_cycle: f64,
    pub duty_cycle_period: u32,
    pub boost_strength: f64,
    pub seed: u64,
    pub wrap_around: bool,
}

impl SpParams {
    /// The values NAB's `numenta` detector runs with (spec/htm.md 2.4) for an input of `input_width` bits.
    pub fn nab(input_width: u32) -> Self {
        SpParams {
            input_width,
            column_count: 2048,
            potential_radius: input_width,
            potential_pct: 0.8,
            global_inhibition: true,
            num_active_columns_per_inh_area: 40,
            stimulus_threshold: 0,
            syn_perm_active_inc: 0.003,
            syn_perm_inactive_dec: 0.0005,
            syn_perm_connected: 0.2,
            min_pct_overlap_duty_cycle: 0.001,
            duty_cycle_period: 1000,
            boost_strength: 0.0,
            seed: 1956,
            wrap_around: true,
        }
    }

    fn validate(&self) -> Result<(), String> {
        let fail = |m: String| Err(format!("unsupported spatial pooler configuration: {m}"));
        if self.input_width == 0 || self.input_width > MAX_DIMENSION {
            return fail(format!("input_width must be in 1..={MAX_DIMENSION}, got {}", self.input_width));
        }
        if self.column_count == 0 || self.column_count > MAX_DIMENSION {
            return fail(format!("column_count must be in 1..={MAX_DIMENSION}, got {}", self.column_count));
        }
        if !self.global_inhibition {
            return fail("local inhibition is not implemented (global_inhibition must be true)".into());
        }
        if self.num_active_columns_per_inh_area == 0 {
            return fail("num_active_columns_per_inh_area must be > 0 (localAreaDensity is not implemented)".into());
        }
        if self.boost_strength != 0.0 {
            return fail(format!("boosting is not implemented (boost_strength must be 0, got {})", self.boost_strength));
        }
        if !(self.potential_pct > 0.0 && self.potential_pct <= 1.0) {
            return fail(format!("potential_pct must be in (0, 1], got {}", self.potential_pct));
        }
        if !(self.syn_perm_connected > 0.0 && self.syn_perm_connected <= 1.0) {
            return fail(format!("syn_perm_connected must be in (0, 1], got {}", self.syn_perm_connected));
        }
        for (name, v) in [
            ("syn_perm_active_inc", self.syn_perm_active_inc),
            ("syn_perm_inactive_dec", self.syn_perm_inactive_dec),
            ("min_pct_overlap_duty_cycle", self.min_pct_overlap_duty_cycle),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return fail(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        let d = Derived::new(self);
        if d.trim_threshold >= d.connected || d.connected_threshold <= 0.0 {
            return fail(format!(
                "syn_perm_active_inc / 2 ({}) must be below syn_perm_connected ({})",
                d.trim_threshold, d.connected
            ));
        }
        if self.duty_cycle_period == 0 {
            return fail("duty_cycle_period must be >= 1".into());
        }
        if d.num_active == 0 {
            return fail(format!(
                "{} columns are too few for {} active columns",
                self.column_count, self.num_active_columns_per_inh_area
            ));
        }
        Ok(())
    }
}

/// Constants derived from the parameters, in nupic.core's float32 arithmetic.
#[derive(Clone, Debug)]
struct Derived {
    active_inc: f32,
    inactive_dec: f32,
    connected: f32,
    /// `synPermConnected - PERMANENCE_EPSILON`: permanences at or above it are connected.
    connected_threshold: f32,
    below_stimulus_inc: f32,
    trim_threshold: f32,
    min_pct_overlap: f32,
    /// Winners per compute (`numDesired` of the global inhibition).
    num_active: usize,
}

impl Derived {
    fn new(p: &SpParams) -> Self {
        let connected = p.syn_perm_connected as f32;
        let active_inc = p.syn_perm_active_inc as f32;
        // Global inhibition: the inhibition radius is the column count, the area is capped at it.
        let area = (2.0 * p.column_count as f32 + 1.0).min(p.column_count as f32) as u32;
        let density = (p.num_active_columns_per_inh_area as f32 / area as f32).min(MAX_LOCAL_AREA_DENSITY);
        Derived {
            active_inc,
            inactive_dec: p.syn_perm_inactive_dec as f32,
            connected,
            connected_threshold: connected - PERMANENCE_EPSILON,
            below_stimulus_inc: (connected as f64 / 10.0) as f32,
            trim_threshold: (active_inc as f64 / 2.0) as f32,
            min_pct_overlap: p.min_pct_overlap_duty_cycle as f32,
            num_active: (density * p.column_count as f32) as usize,
        }
    }
}

/// The state; everything else is derived from it. The pools and the initial permanences are a pure
/// function of the parameters, so a checkpoint ([`SpCheckpoint`]) stores only what changed.
#[derive(Clone, Debug)]
struct SpState {
    params: SpParams,
    iteration: u64,
    learn_iteration: u64,
    /// Column c's pool is the bitmap `pools[c * pool_words..(c + 1) * pool_words]` over the inputs,
    /// with `pool_start[c + 1] - pool_start[c]` members.
    pool_words: usize,
    pools: Vec<u64>,
    pool_start: Vec<u32>,
    /// Per column: where its permanences (ascending input order) start in `permanences`, or
    /// `UNTOUCHED` while they are the initial ones, which are not held: they are regenerated from
    /// the saved RNG states when the column first changes.
    slots: Vec<u32>,
    permanences: Vec<f32>,
    overlap_duty: Vec<f32>,
    active_duty: Vec<f32>,
    /// Bump threshold for every column (global inhibition): 0 until the first update round.
    min_overlap_duty: f32,
}

/// nupic.core's SpatialPooler with global inhibition (no boosting, as NuPIC's anomaly models use it).
#[derive(Clone, Debug)]
pub struct SpatialPooler {
    state: SpState,
    derived: Derived,
    overlap: OverlapIndex,
    /// The initialisation RNG before every `SNAPSHOT_STRIDE`-th column.
    init_rng: Vec<Random>,
    /// CRC-32 of the initial pools and permanences: identifies the initial state a checkpoint extends.
    init_digest: u32,
    // Per-compute buffers, kept to avoid allocation.
    overlap_histogram: Vec<u32>,
    /// Permanence change per pool position of the column being adapted.
    pool_delta: Vec<f32>,
    /// `below_stimulus_inc` for every pool position (the weak-column bump).
    bump_delta: Vec<f32>,
    is_winner: Vec<bool>,
    was_connected: Vec<bool>,
}

/// What a checkpoint holds: the parameters, a digest of the initial state they generate, and
/// everything that changed since initialisation.
#[derive(Serialize, Deserialize)]
struct SpCheckpoint {
    params: SpParams,
    init_digest: u32,
    iteration: u64,
    learn_iteration: u64,
    overlap_duty: Vec<f32>,
    active_duty: Vec<f32>,
    min_overlap_duty: f32,
    /// Columns whose permanences changed since initialisation, ascending.
    touched_columns: Vec<u32>,
    /// Their permanences, one whole pool after the other.
    touched_permanences: Vec<f32>,
}

/// Input -> connected columns bitmaps and each column's overlap with the current input, maintained
/// incrementally: consecutive records share most of their on-bits, so only the inputs that switched
/// on or off are applied (or everything is recounted when that is cheaper).
#[derive(Clone, Debug)]
struct OverlapIndex {
    /// For each input, a bitmap of the columns whose synapse from it is connected: input i's bitmap
    /// is `connected[i * column_words..(i + 1) * column_words]`.
    connected: Vec<u64>,
    column_words: usize,
    /// Each column's number of connected synapses from `active` inputs.
    overlaps: Vec<u32>,
    /// The distinct on-bits of the current input.
    active: Vec<u32>,
    /// Per input: `ACTIVE` if it is in `active`, `INCOMING` while the next input is being loaded.
    input_flags: Vec<u8>,
    /// Bitmap of `active`.
    active_bits: Vec<u64>,
    /// Overlap corrections (column, now connected) from connections changed while learning; applied
    /// after the duty cycles have used this compute's overlaps.
    pending: Vec<(u16, bool)>,
    incoming: Vec<u32>,
}

const ACTIVE: u8 = 1;
const INCOMING: u8 = 2;

impl OverlapIndex {
    fn new(inputs: usize, columns: usize) -> Self {
        let column_words = columns.div_ceil(64);
        OverlapIndex {
            connected: vec![0; inputs * column_words],
            column_words,
            overlaps: vec![0; columns],
            active: Vec::new(),
            input_flags: vec![0; inputs],
            active_bits: vec![0; inputs.div_ceil(64)],
            pending: Vec::new(),
            incoming: Vec::new(),
        }
    }

    fn is_active(&self, input: usize) -> bool {
        self.input_flags[input] & ACTIVE != 0
    }

    /// The bitmap of columns connected to `input`.
    #[cfg(test)]
    fn columns_of(&self, input: u32) -> &[u64] {
        let start = input as usize * self.column_words;
        &self.connected[start..start + self.column_words]
    }

    /// Adds `delta` to the overlap of every column connected to `input`.
    fn add_input(&mut self, input: u32, delta: u32) {
        let start = input as usize * self.column_words;
        let bitmap = &self.connected[start..start + self.column_words];
        for (w, &word) in bitmap.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let column = w * 64 + bits.trailing_zeros() as usize;
                self.overlaps[column] = self.overlaps[column].wrapping_add(delta);
                bits &= bits - 1;
            }
        }
    }

    /// Makes `inputs` the current input and updates the overlaps; returns the number of distinct
    /// on-bits (an upper bound of every overlap).
    fn load_input(&mut self, inputs: &[u32]) -> u32 {
        let width = self.input_flags.len();
        self.incoming.clear();
        for &input in inputs {
            assert!((input as usize) < width, "spatial pooler input bit {input} is out of range (input width {width})");
            let flags = &mut self.input_flags[input as usize];
            if *flags & INCOMING == 0 {
                *flags |= INCOMING;
                self.incoming.push(input);
            }
        }
        let active = std::mem::take(&mut self.active);
        let incoming = std::mem::take(&mut self.incoming);
        let flag = |index: &Self, i: u32| index.input_flags[i as usize];
        let switched_off = active.iter().filter(|&&i| flag(self, i) & INCOMING == 0).count();
        let switched_on = incoming.iter().filter(|&&i| flag(self, i) & ACTIVE == 0).count();
        if switched_off + switched_on < incoming.len() {
            for &input in &active {
                if flag(self, input) & INCOMING == 0 {
                    self.add_input(input, u32::MAX);
                }
            }
            for &input in &incoming {
                if flag(self, input) & ACTIVE == 0 {
                    self.add_input(input, 1);
                }
            }
        } else {
            self.overlaps.fill(0);
            for &input in &incoming {
                self.add_input(input, 1);
            }
        }
        for &input in &active {
            self.input_flags[input as usize] = 0;
            self.active_bits[input as usize / 64] = 0;
        }
        for &input in &incoming {
            self.input_flags[input as usize] = ACTIVE;
            self.active_bits[input as usize / 64] |= 1 << (input % 64);
        }
        (self.active, self.incoming) = (incoming, active);
        self.active.len() as u32
    }

    /// Records that the synapse input -> column became connected (`true`) or disconnected.
    #[cold]
    #[inline(never)]
    fn relink(&mut self, input: usize, column: usize, connected: bool) {
        let word = &mut self.connected[input * self.column_words + column / 64];
        if connected {
            *word |= 1 << (column % 64);
        } else {
            *word &= !(1 << (column % 64));
        }
        if self.is_active(input) {
            self.pending.push((column as u16, connected));
        }
    }

    /// Brings the overlaps in line with the connections changed since `load_input`.
    fn apply_pending(&mut self) {
        for &(column, connected) in &self.pending {
            let o = &mut self.overlaps[column as usize];
            if connected {
                *o += 1;
            } else {
                *o -= 1;
            }
        }
        self.pending.clear();
    }
}

impl SpatialPooler {
    /// Initialises the pooler exactly as nupic.core does (same RNG stream, pools and permanences).
    /// Rejects configurations this implementation does not support (local inhibition, boosting,
    /// `localAreaDensity`) or nupic.core would reject.
    pub fn new(params: SpParams) -> Result<Self, String> {
        params.validate()?;
        let init = initial_for(params)?;
        Ok(Self::from_valid_state(init.state.clone(), &init, init.digest))
    }

    /// The pools nupic.core initialises for `params` (already validated), the RNG snapshots and
    /// every column's initial permanences (concatenated, at the `pool_start` offsets).
    fn initial_state(params: SpParams) -> Result<(SpState, Derived, Vec<Random>, Vec<f32>), String> {
        let derived = Derived::new(&params);
        let columns = params.column_count as usize;
        let pool_words = (params.input_width as usize).div_ceil(64);
        let mut rng = Random::new(params.seed);
        // nupic.core draws (and never uses) one tie-breaker per column first.
        for _ in 0..columns {
            rng.get_real64();
        }
        let mut pools = vec![0u64; columns * pool_words];
        let mut pool_start = Vec::with_capacity(columns + 1);
        let mut initial = Vec::new();
        let mut init_rng = Vec::with_capacity(columns.div_ceil(SNAPSHOT_STRIDE));
        pool_start.push(0u32);
        for (column, pool) in pools.chunks_exact_mut(pool_words).enumerate() {
            if column % SNAPSHOT_STRIDE == 0 {
                init_rng.push(rng.clone());
            }
            init_column(&params, &derived, &mut rng, column, pool, &mut initial)?;
            pool_start.push(initial.len() as u32);
        }
        let state = SpState {
            params,
            iteration: 0,
            learn_iteration: 0,
            pool_words,
            pools,
            pool_start,
            slots: vec![UNTOUCHED; columns],
            permanences: Vec::new(),
            overlap_duty: vec![0.0; columns],
            active_duty: vec![0.0; columns],
            min_overlap_duty: 0.0,
        };
        Ok((state, derived, init_rng, initial))
    }

    /// Column `column`'s initial permanences, regenerated from the nearest saved RNG state.
    fn initial_permanences(&self, column: usize) -> Vec<f32> {
        let snapshot = column / SNAPSHOT_STRIDE;
        let mut rng = self.init_rng[snapshot].clone();
        let mut pool = vec![0u64; self.state.pool_words];
        let mut perms = Vec::new();
        for c in snapshot * SNAPSHOT_STRIDE..=column {
            pool.fill(0);
            perms.clear();
            init_column(&self.state.params, &self.derived, &mut rng, c, &mut pool, &mut perms)
                .expect("the parameters were validated at initialisation");
        }
        perms
    }

    /// Where `column`'s permanences start in `permanences`, materialising them on first use.
    fn materialize(&mut self, column: usize) -> usize {
        if self.state.slots[column] == UNTOUCHED {
            let initial = self.initial_permanences(column);
            let perms = &mut self.state.permanences;
            if perms.capacity() - perms.len() < initial.len() {
                // Grow by a few columns at a time rather than doubling: columns change rarely.
                perms.reserve_exact(initial.len() * GROWTH_COLUMNS);
            }
            self.state.slots[column] = self.state.permanences.len() as u32;
            self.state.permanences.extend_from_slice(&initial);
        }
        self.state.slots[column] as usize
    }

    /// Column `column`'s current permanences.
    #[cfg(test)]
    fn column_permanences(&self, column: usize) -> Vec<f32> {
        match self.state.slots[column] {
            UNTOUCHED => self.initial_permanences(column),
            slot => {
                let slot = slot as usize;
                self.state.permanences[slot..slot + pool_size(&self.state.pool_start, column)].to_vec()
            }
        }
    }

    /// The parameters the pooler was built with.
    pub fn params(&self) -> &SpParams {
        &self.state.params
    }

    /// Approximate heap bytes held (capacities; allocator overhead not counted).
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let st = &self.state;
        let o = &self.overlap;
        let state = st.pool_start.capacity() * 4
            + st.pools.capacity() * 8
            + st.slots.capacity() * 4
            + self.init_rng.capacity() * size_of::<Random>()
            + st.permanences.capacity() * 4
            + (st.overlap_duty.capacity() + st.active_duty.capacity()) * 4;
        let index = o.connected.capacity() * 8
            + o.active_bits.capacity() * 8
            + o.overlaps.capacity() * 4
            + (o.active.capacity() + o.incoming.capacity()) * 4
            + o.input_flags.capacity()
            + o.pending.capacity() * size_of::<(u16, bool)>();
        let buffers = self.overlap_histogram.capacity() * 4
            + (self.pool_delta.capacity() + self.bump_delta.capacity()) * 4
            + self.is_winner.capacity()
            + self.was_connected.capacity();
        state + index + buffers
    }

    /// Number of `compute` calls so far.
    pub fn iteration(&self) -> u64 {
        self.state.iteration
    }

    /// One step. `active_inputs`: the on-bit indices (each < `input_width`; normally sorted, but any
    /// order works and repeats count once).
    /// Writes the winning columns, ascending, into `out` (cleared first). With `learn`, adapts the
    /// winners' permanences, the duty cycles and the weak columns as nupic.core does.
    ///
    /// # Panics
    /// If an input index is out of range.
    pub fn compute(&mut self, active_inputs: &[u32], learn: bool, out: &mut Vec<u32>) {
        self.state.iteration += 1;
        if learn {
            self.state.learn_iteration += 1;
        }
        let distinct_inputs = self.overlap.load_input(active_inputs);
        self.inhibit(distinct_inputs, out);
        if learn {
            self.learn(out);
        }
    }

    /// Global inhibition: the `num_active` columns with the largest overlap at or above the stimulus
    /// threshold, ties to the higher column index.
    /// `max_overlap` bounds every column's overlap (the number of distinct active inputs).
    fn inhibit(&mut self, max_overlap: u32, out: &mut Vec<u32>) {
        out.clear();
        let wanted = self.derived.num_active;
        let stimulus = self.state.params.stimulus_threshold;
        let overlaps = &self.overlap.overlaps;
        let histogram = &mut self.overlap_histogram[..=max_overlap as usize];
        histogram.fill(0);
        for &o in overlaps {
            histogram[o as usize] += 1;
        }
        // Find the lowest winning overlap and how many columns at exactly that overlap still win.
        let mut cutoff = stimulus;
        let mut ties_left = usize::MAX;
        let mut above = 0usize;
        for o in (stimulus..=max_overlap).rev() {
            let here = histogram[o as usize] as usize;
            if above + here >= wanted {
                cutoff = o;
                ties_left = wanted - above;
                break;
            }
            above += here;
        }
        for column in (0..overlaps.len()).rev() {
            let o = overlaps[column];
            if o > cutoff || (o == cutoff && ties_left > 0) {
                if o == cutoff {
                    ties_left -= 1;
                }
                out.push(column as u32);
            }
        }
        out.reverse();
    }

    fn learn(&mut self, winners: &[u32]) {
        let mut delta = std::mem::take(&mut self.pool_delta);
        for &column in winners {
            let column = column as usize;
            let pool = self.state.pool(column);
            let delta = &mut delta[..pool_size(&self.state.pool_start, column)];
            pool_deltas(pool, &self.overlap.active_bits, self.derived.active_inc, -self.derived.inactive_dec, delta);
            self.change_column(column, true, delta);
        }
        self.pool_delta = delta;
        self.update_duty_cycles(winners);
        let bump = std::mem::take(&mut self.bump_delta);
        for column in 0..self.state.overlap_duty.len() {
            if self.state.overlap_duty[column] < self.state.min_overlap_duty {
                self.change_column(column, false, &bump[..pool_size(&self.state.pool_start, column)]);
            }
        }
        self.bump_delta = bump;
        if self.state.iteration.is_multiple_of(UPDATE_PERIOD) {
            let max_duty = self.state.overlap_duty.iter().copied().fold(0.0f32, f32::max);
            self.state.min_overlap_duty = self.derived.min_pct_overlap * max_duty;
        }
        self.overlap.apply_pending();
    }

    /// float32 moving averages over `min(duty_cycle_period, iteration)` steps.
    fn update_duty_cycles(&mut self, winners: &[u32]) {
        for &column in winners {
            self.is_winner[column as usize] = true;
        }
        let period = (self.state.params.duty_cycle_period as u64).min(self.state.iteration);
        let (kept, period) = ((period - 1) as f32, period as f32);
        let state = &mut self.state;
        for (((overlap_duty, active_duty), &overlap), &winner) in
            state.overlap_duty.iter_mut().zip(state.active_duty.iter_mut()).zip(&self.overlap.overlaps).zip(&self.is_winner)
        {
            *overlap_duty = (*overlap_duty * kept + (overlap > 0) as u32 as f32) / period;
            *active_duty = (*active_duty * kept + winner as u32 as f32) / period;
        }
        for &column in winners {
            self.is_winner[column as usize] = false;
        }
    }

    /// Adds `delta[k]` to the k-th potential synapse of `column` (ascending input order), applies
    /// nupic.core's column update (optionally raising to the stimulus threshold, then trimming) and
    /// keeps the connection bitmaps in sync.
    fn change_column(&mut self, column: usize, raise: bool, delta: &[f32]) {
        let start = self.materialize(column);
        let end = start + pool_size(&self.state.pool_start, column);
        let pool = &self.state.pools[column * self.state.pool_words..(column + 1) * self.state.pool_words];
        let perms = &mut self.state.permanences[start..end];
        let d = &self.derived;
        let index = &mut self.overlap;
        let stimulus = self.state.params.stimulus_threshold;
        if raise && stimulus > 0 {
            let was_connected = &mut self.was_connected[..end - start];
            for ((p, was), &delta) in perms.iter_mut().zip(was_connected.iter_mut()).zip(delta) {
                *was = *p >= d.connected_threshold;
                *p += delta;
            }
            raise_to_threshold(perms, d, stimulus);
            trim(perms, d);
            for (k, (p, &was)) in perms.iter().zip(was_connected.iter()).enumerate() {
                let now = *p >= d.connected_threshold;
                if now != was {
                    index.relink(select(pool, k), column, now);
                }
            }
        } else {
            // Without a stimulus threshold the update is per synapse: clipping to [0, 1] and trimming
            // zero everything below the trim threshold, which is below the connected threshold.
            // Processed in blocks of LANES so the arithmetic vectorizes; relinking is rare.
            const LANES: usize = 8;
            let (threshold, trim_threshold) = (d.connected_threshold, d.trim_threshold);
            let update = |old: f32, delta: f32| {
                let q = old + delta;
                let q = if q > SYN_PERM_MAX { SYN_PERM_MAX } else { q };
                if q < trim_threshold {
                    0.0
                } else {
                    q
                }
            };
            let mut perm_blocks = perms.chunks_exact_mut(LANES);
            let mut delta_blocks = delta.chunks_exact(LANES);
            let mut base = 0;
            for (block, delta) in (&mut perm_blocks).zip(&mut delta_blocks) {
                let mut old = [0.0f32; LANES];
                let mut new = [0.0f32; LANES];
                let mut flips = false;
                for l in 0..LANES {
                    old[l] = block[l];
                    new[l] = update(old[l], delta[l]);
                    flips |= (old[l] >= threshold) != (new[l] >= threshold);
                }
                block.copy_from_slice(&new);
                if flips {
                    for l in 0..LANES {
                        let now = new[l] >= threshold;
                        if now != (old[l] >= threshold) {
                            index.relink(select(pool, base + l), column, now);
                        }
                    }
                }
                base += LANES;
            }
            for (k, (p, &delta)) in perm_blocks.into_remainder().iter_mut().zip(delta_blocks.remainder()).enumerate() {
                let old = *p;
                *p = update(old, delta);
                let now = *p >= threshold;
                if now != (old >= threshold) {
                    index.relink(select(pool, base + k), column, now);
                }
            }
        }
    }

    /// Builds the derived index and buffers around a state known to be consistent, which extends
    /// `init`: the initial connections are `init`'s, only the changed columns are relinked.
    fn from_valid_state(state: SpState, init: &Initial, init_digest: u32) -> Self {
        let inputs = state.params.input_width as usize;
        let columns = state.params.column_count as usize;
        let threshold = init.derived.connected_threshold;
        let mut overlap = init.overlap.clone();
        let mut max_pool = 0;
        for column in 0..columns {
            let size = pool_size(&state.pool_start, column);
            max_pool = max_pool.max(size);
            if state.slots[column] == UNTOUCHED {
                continue;
            }
            let initial = &init.permanences[state.pool_start[column] as usize..][..size];
            let now = &state.permanences[state.slots[column] as usize..][..size];
            for ((input, &before), &after) in pool_inputs(state.pool(column)).zip(initial).zip(now) {
                if (before >= threshold) != (after >= threshold) {
                    overlap.relink(input, column, after >= threshold);
                }
            }
        }
        let bump = init.derived.below_stimulus_inc;
        SpatialPooler {
            state,
            derived: init.derived.clone(),
            overlap,
            init_rng: init.init_rng.clone(),
            init_digest,
            overlap_histogram: vec![0; inputs + 1],
            pool_delta: vec![0.0; max_pool],
            bump_delta: vec![bump; max_pool],
            is_winner: vec![false; columns],
            was_connected: vec![false; max_pool],
        }
    }

    /// What a checkpoint needs: the state minus what `initial_state` regenerates.
    fn checkpoint(&self) -> SpCheckpoint {
        let st = &self.state;
        let mut touched_columns = Vec::new();
        let mut touched_permanences = Vec::new();
        for (column, &slot) in st.slots.iter().enumerate().filter(|(_, &slot)| slot != UNTOUCHED) {
            touched_columns.push(column as u32);
            touched_permanences.extend_from_slice(&st.permanences[slot as usize..][..pool_size(&st.pool_start, column)]);
        }
        SpCheckpoint {
            params: st.params.clone(),
            init_digest: self.init_digest,
            iteration: st.iteration,
            learn_iteration: st.learn_iteration,
            overlap_duty: st.overlap_duty.clone(),
            active_duty: st.active_duty.clone(),
            min_overlap_duty: st.min_overlap_duty,
            touched_columns,
            touched_permanences,
        }
    }

    /// Regenerates the initial state from the checkpoint's parameters, checks that it is the one the
    /// checkpoint was taken from, and applies the checkpointed changes.
    fn from_checkpoint(c: SpCheckpoint) -> Result<Self, String> {
        c.params.validate()?;
        let bad = |m: String| Err(format!("corrupt spatial pooler state: {m}"));
        let columns = c.params.column_count as usize;
        if c.overlap_duty.len() != columns || c.active_duty.len() != columns {
            return bad("duty cycle arrays do not match the column count".into());
        }
        let duties_ok = |v: &[f32]| v.iter().all(|d| (0.0..=1.0).contains(d));
        if !duties_ok(&c.overlap_duty) || !duties_ok(&c.active_duty) || !(0.0..=1.0).contains(&c.min_overlap_duty) {
            return bad("a duty cycle is outside [0, 1]".into());
        }
        if c.learn_iteration > c.iteration {
            return bad("more learning iterations than iterations".into());
        }
        if c.touched_columns.windows(2).any(|w| w[0] >= w[1]) || c.touched_columns.last().is_some_and(|&l| l as usize >= columns) {
            return bad("changed columns are not ascending column indices".into());
        }
        if !c.touched_permanences.iter().all(|p| (0.0..=SYN_PERM_MAX).contains(p)) {
            return bad("a permanence is outside [0, 1]".into());
        }
        let init = initial_for(c.params)?;
        if init.digest != c.init_digest {
            return Err("spatial pooler state does not match its parameters: they generate a different initial state \
                        (another seed or engine version)"
                .into());
        }
        let mut state = init.state.clone();
        let mut perms = c.touched_permanences.as_slice();
        for &column in &c.touched_columns {
            let size = pool_size(&state.pool_start, column as usize);
            if perms.len() < size {
                return bad("fewer permanences than the changed columns' pools hold".into());
            }
            let (pool, rest) = perms.split_at(size);
            state.slots[column as usize] = state.permanences.len() as u32;
            state.permanences.extend_from_slice(pool);
            perms = rest;
        }
        if !perms.is_empty() {
            return bad("more permanences than the changed columns' pools hold".into());
        }
        state.iteration = c.iteration;
        state.learn_iteration = c.learn_iteration;
        state.overlap_duty = c.overlap_duty;
        state.active_duty = c.active_duty;
        state.min_overlap_duty = c.min_overlap_duty;
        Ok(Self::from_valid_state(state, &init, c.init_digest))
    }
}

/// What nupic.core's initialisation produces for one parameter set: a pure function of the
/// parameters, computed once per process and shared by every pooler built or loaded with them
/// (the models of one UDF server usually all have the same).
struct Initial {
    state: SpState,
    derived: Derived,
    init_rng: Vec<Random>,
    permanences: Vec<f32>,
    /// The connections of the initial permanences.
    overlap: OverlapIndex,
    digest: u32,
}

/// Parameter sets whose initial state stays cached (a few MB each).
const INITIAL_CACHE_SIZE: usize = 4;

/// The initial state for `params` (validated), from the cache or computed now.
fn initial_for(params: SpParams) -> Result<Arc<Initial>, String> {
    static CACHE: Mutex<Vec<Arc<Initial>>> = Mutex::new(Vec::new());
    let cached = |cache: &[Arc<Initial>]| cache.iter().find(|i| i.state.params == params).cloned();
    if let Some(hit) = cached(&CACHE.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(hit);
    }
    let (state, derived, init_rng, permanences) = SpatialPooler::initial_state(params.clone())?;
    let digest = initial_digest(&state, &permanences);
    let mut overlap = OverlapIndex::new(params.input_width as usize, params.column_count as usize);
    for column in 0..params.column_count as usize {
        let initial = &permanences[state.pool_start[column] as usize..state.pool_start[column + 1] as usize];
        for (input, &p) in pool_inputs(state.pool(column)).zip(initial) {
            if p >= derived.connected_threshold {
                overlap.relink(input, column, true);
            }
        }
    }
    let initial = Arc::new(Initial { state, derived, init_rng, permanences, overlap, digest });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() == INITIAL_CACHE_SIZE {
        cache.remove(0);
    }
    cache.push(Arc::clone(&initial));
    Ok(initial)
}

impl Serialize for SpatialPooler {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.checkpoint().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SpatialPooler {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let checkpoint = SpCheckpoint::deserialize(deserializer)?;
        SpatialPooler::from_checkpoint(checkpoint).map_err(serde::de::Error::custom)
    }
}

/// CRC-32 of the initial pools and permanences.
fn initial_digest(state: &SpState, initial: &[f32]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    let mut buf = Vec::with_capacity(4096);
    let words = state.pool_start.iter().map(|&s| s.to_le_bytes());
    let words = words.chain(state.pools.iter().flat_map(|&w| [w as u32, (w >> 32) as u32]).map(u32::to_le_bytes));
    for word in words.chain(initial.iter().map(|p| p.to_bits().to_le_bytes())) {
        buf.extend_from_slice(&word);
        if buf.len() == buf.capacity() {
            crc.update(&buf);
            buf.clear();
        }
    }
    crc.update(&buf);
    crc.finalize()
}

/// Draws column `column`'s pool (into the zeroed bitmap `pool`) and appends its initial permanences
/// to `perms`, consuming `rng` exactly as nupic.core does.
fn init_column(
    params: &SpParams,
    derived: &Derived,
    rng: &mut Random,
    column: usize,
    pool: &mut [u64],
    perms: &mut Vec<f32>,
) -> Result<(), String> {
    let inputs = params.input_width as i64;
    let radius = params.potential_radius.min(params.input_width) as i64;
    let ratio = params.input_width as f32 / params.column_count as f32;
    let center = (((column as f32) as f64 + 0.5) * ratio as f64) as f32;
    let center = center.floor() as i64;
    let neighbourhood: Vec<u32> = if params.wrap_around {
        let count = (2 * radius + 1).min(inputs);
        (0..count).map(|k| (center - radius + k).rem_euclid(inputs) as u32).collect()
    } else {
        ((center - radius).max(0)..=(center + radius).min(inputs - 1)).map(|i| i as u32).collect()
    };
    let num_potential = (neighbourhood.len() as f32 * params.potential_pct as f32).round() as usize;
    for input in rng.sample(&neighbourhood, num_potential) {
        pool[input as usize / 64] |= 1 << (input % 64);
    }
    let start = perms.len();
    for _ in pool_inputs(pool) {
        let p = if rng.get_real64() <= INIT_CONNECTED_PCT {
            let span = (SYN_PERM_MAX - derived.connected) as f64;
            (derived.connected as f64 + span * rng.get_real64()) as f32
        } else {
            (derived.connected as f64 * rng.get_real64()) as f32
        };
        let p = round5(p);
        perms.push(if p < derived.trim_threshold { 0.0 } else { p });
    }
    if perms.len() - start < params.stimulus_threshold as usize {
        return Err(format!(
            "unsupported spatial pooler configuration: column {column} has {} potential inputs, fewer than \
             stimulus_threshold {}",
            perms.len() - start,
            params.stimulus_threshold
        ));
    }
    raise_to_threshold(&mut perms[start..], derived, params.stimulus_threshold);
    trim(&mut perms[start..], derived);
    Ok(())
}

impl SpState {
    /// The pool bitmap of `column`.
    fn pool(&self, column: usize) -> &[u64] {
        &self.pools[column * self.pool_words..(column + 1) * self.pool_words]
    }
}

fn pool_size(pool_start: &[u32], column: usize) -> usize {
    (pool_start[column + 1] - pool_start[column]) as usize
}

/// The inputs of a pool bitmap, ascending.
fn pool_inputs(pool: &[u64]) -> impl Iterator<Item = usize> + '_ {
    pool.iter().enumerate().flat_map(|(w, &word)| {
        let mut bits = word;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let input = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                input
            })
        })
    })
}

/// The input at position `k` of a pool bitmap.
fn select(pool: &[u64], mut k: usize) -> usize {
    for (w, &word) in pool.iter().enumerate() {
        let n = word.count_ones() as usize;
        if k < n {
            let mut bits = word;
            for _ in 0..k {
                bits &= bits - 1;
            }
            return w * 64 + bits.trailing_zeros() as usize;
        }
        k -= n;
    }
    unreachable!("pool position out of range")
}

/// Per pool position: `on` where the input is active, `off` elsewhere (`out` holds the whole pool).
fn pool_deltas(pool: &[u64], active: &[u64], on: f32, off: f32, out: &mut [f32]) {
    out.fill(off);
    let mut base = 0;
    for (&p, &a) in pool.iter().zip(active) {
        let mut hits = p & a;
        while hits != 0 {
            let below = (1u64 << hits.trailing_zeros()) - 1;
            out[base + (p & below).count_ones() as usize] = on;
            hits &= hits - 1;
        }
        base += p.count_ones() as usize;
    }
}

/// nupic.core's `round5_`: truncation to 5 decimals in its float widths.
fn round5(p: f32) -> f32 {
    let scaled = (p * 100_000.0) as i32;
    ((scaled as f32) as f64 / 100_000.0) as f32
}

/// Clips to [0, 1], then adds `below_stimulus_inc` to the whole pool until at least
/// `stimulus_threshold` synapses are connected (the pool must be at least that large).
fn raise_to_threshold(perms: &mut [f32], d: &Derived, stimulus_threshold: u32) {
    for p in perms.iter_mut() {
        *p = p.clamp(0.0, SYN_PERM_MAX);
    }
    if stimulus_threshold == 0 {
        return;
    }
    while perms.iter().filter(|&&p| p >= d.connected_threshold).count() < stimulus_threshold as usize {
        for p in perms.iter_mut() {
            *p += d.below_stimulus_inc;
        }
    }
}

/// Caps at 1 and zeroes permanences below the trim threshold.
fn trim(perms: &mut [f32], d: &Derived) {
    for p in perms.iter_mut() {
        if *p > SYN_PERM_MAX {
            *p = SYN_PERM_MAX;
        }
        if *p < d.trim_threshold {
            *p = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_input(rng: &mut Random, width: u32, on: usize) -> Vec<u32> {
        let all: Vec<u32> = (0..width).collect();
        rng.sample(&all, on)
    }

    /// Every column's initial permanences.
    fn initial_of(sp: &SpatialPooler) -> Vec<f32> {
        SpatialPooler::initial_state(sp.state.params.clone()).unwrap().3
    }

    /// Overlaps recounted from the permanences (`initial`: from `initial_of`).
    fn recount(sp: &SpatialPooler, initial: &[f32], active: &[u32]) -> Vec<u32> {
        let st = &sp.state;
        (0..st.params.column_count as usize)
            .map(|c| {
                let size = pool_size(&st.pool_start, c);
                let perms = match st.slots[c] {
                    UNTOUCHED => &initial[st.pool_start[c] as usize..][..size],
                    slot => &st.permanences[slot as usize..][..size],
                };
                pool_inputs(st.pool(c))
                    .zip(perms)
                    .filter(|&(i, &p)| active.contains(&(i as u32)) && p >= sp.derived.connected_threshold)
                    .count() as u32
            })
            .collect()
    }

    #[test]
    fn regenerated_initial_permanences_match_the_initialisation() {
        let sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let (state, _, _, initial) = SpatialPooler::initial_state(SpParams::nab(454)).unwrap();
        for column in [0, 1, 15, 16, 17, 1000, 2047] {
            let range = state.pool_start[column] as usize..state.pool_start[column + 1] as usize;
            assert_eq!(sp.initial_permanences(column), initial[range], "column {column}");
        }
        assert_eq!(initial.len(), 2048 * 363);
        assert!(initial.iter().filter(|&&p| p >= sp.derived.connected_threshold).count() > 2048 * 363 / 3);
    }

    #[test]
    fn pool_bitmap_positions_and_deltas() {
        let mut rng = Random::new(3);
        for _ in 0..50 {
            let inputs: Vec<u32> = random_input(&mut rng, 200, 120);
            let active = random_input(&mut rng, 200, 30);
            let mut pool = vec![0u64; 4];
            let mut active_bits = vec![0u64; 4];
            for &i in &inputs {
                pool[i as usize / 64] |= 1 << (i % 64);
            }
            for &i in &active {
                active_bits[i as usize / 64] |= 1 << (i % 64);
            }
            let listed: Vec<usize> = pool_inputs(&pool).collect();
            assert_eq!(listed, inputs.iter().map(|&i| i as usize).collect::<Vec<_>>());
            let mut deltas = vec![0.0; listed.len()];
            pool_deltas(&pool, &active_bits, 1.0, -1.0, &mut deltas);
            for (k, &input) in listed.iter().enumerate() {
                assert_eq!(select(&pool, k), input);
                assert_eq!(deltas[k], if active.contains(&(input as u32)) { 1.0 } else { -1.0 });
            }
        }
    }

    #[test]
    fn unsupported_configurations_are_rejected() {
        type Change = fn(&mut SpParams);
        let cases: [(Change, &str); 6] = [
            (|p| p.global_inhibition = false, "local inhibition"),
            (|p| p.boost_strength = 1.0, "boosting"),
            (|p| p.num_active_columns_per_inh_area = 0, "localAreaDensity"),
            (|p| p.potential_pct = 0.0, "potential_pct"),
            (|p| p.column_count = 70_000, "column_count"),
            (|p| p.syn_perm_active_inc = 0.5, "syn_perm_active_inc / 2"),
        ];
        for (change, expected) in cases {
            let mut params = SpParams::nab(454);
            change(&mut params);
            let err = SpatialPooler::new(params).unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn ties_go_to_the_higher_column_and_inference_does_not_learn() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let mut out = Vec::new();
        sp.compute(&[], false, &mut out);
        assert_eq!(out, (2008..2048).collect::<Vec<u32>>());
        sp.compute(&[1, 5, 99, 300], false, &mut out);
        assert_eq!(out.len(), 40);
        assert!(sp.state.permanences.is_empty(), "no column changed");
        assert_eq!((sp.iteration(), sp.state.learn_iteration), (2, 0));
        assert!(sp.state.active_duty.iter().all(|&d| d == 0.0));
    }

    #[test]
    fn incremental_overlaps_match_a_full_recount() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let initial = initial_of(&sp);
        let mut rng = Random::new(5);
        let mut out = Vec::new();
        let mut input = random_input(&mut rng, 454, 42);
        for step in 0..300 {
            // Mostly small changes (the incremental path), sometimes a new input (the recount path).
            if step % 7 == 0 {
                input = random_input(&mut rng, 454, 42);
            } else {
                let k = rng.get_uint32(input.len() as u32) as usize;
                input[k] = rng.get_uint32(454);
                input.sort_unstable();
                input.dedup();
            }
            sp.compute(&input, true, &mut out);
            assert_eq!(out.len(), 40);
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(sp.overlap.overlaps, recount(&sp, &initial, &input), "step {step}");
        }
    }

    #[test]
    fn stimulus_threshold_raises_pools_and_blocks_weak_columns() {
        let mut params = SpParams::nab(100);
        params.column_count = 64;
        params.potential_pct = 0.5;
        params.stimulus_threshold = 30;
        let mut sp = SpatialPooler::new(params).unwrap();
        let connected = |sp: &SpatialPooler| {
            let mut counts = vec![0u32; 64];
            for input in 0..100 {
                for (c, count) in counts.iter_mut().enumerate() {
                    *count += (sp.overlap.columns_of(input)[c / 64] >> (c % 64) & 1) as u32;
                }
            }
            counts
        };
        assert!(connected(&sp).iter().all(|&n| n >= 30));
        let mut out = Vec::new();
        sp.compute(&[1, 2, 3, 4, 5], true, &mut out);
        assert!(out.is_empty(), "overlaps below the stimulus threshold never win");
        let all: Vec<u32> = (0..100).collect();
        for _ in 0..20 {
            sp.compute(&all, true, &mut out);
            // 40 of 64 columns exceeds the 0.5 density cap: 32 winners.
            assert_eq!(out.len(), 32);
        }
        sp.compute(&[7], true, &mut out);
        assert!(connected(&sp).iter().all(|&n| n >= 30));
        assert_eq!(sp.overlap.overlaps, recount(&sp, &initial_of(&sp), &[7]));
    }

    #[test]
    fn columns_without_overlap_are_bumped_after_the_first_update_round() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let weak = 77;
        let size = pool_size(&sp.state.pool_start, weak);
        sp.change_column(weak, false, &vec![-1.0; size]);
        let range = sp.state.slots[weak] as usize..sp.state.slots[weak] as usize + size;
        let input: Vec<u32> = (100..142).collect();
        let mut out = Vec::new();
        for _ in 0..50 {
            sp.compute(&input, true, &mut out);
        }
        assert!(sp.state.permanences[range.clone()].iter().all(|&p| p == 0.0), "no bump before the update round");
        assert!(sp.state.min_overlap_duty > 0.0);
        sp.compute(&input, true, &mut out);
        assert!(sp.state.permanences[range.clone()].iter().all(|&p| p == sp.derived.below_stimulus_inc));
        for _ in 0..20 {
            sp.compute(&input, true, &mut out);
        }
        assert!(sp.overlap.overlaps[weak] > 0, "bumping connected the column");
        assert!(sp.state.overlap_duty[weak] > 0.0);
        assert_eq!(sp.overlap.overlaps, recount(&sp, &initial_of(&sp), &input));
    }

    #[test]
    fn serialized_state_continues_identically() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let mut rng = Random::new(9);
        let mut out = Vec::new();
        for _ in 0..60 {
            sp.compute(&random_input(&mut rng, 454, 42), true, &mut out);
        }
        let blob = bincode::serialize(&sp).unwrap();
        let mut restored: SpatialPooler = bincode::deserialize(&blob).unwrap();
        let mut restored_out = Vec::new();
        for _ in 0..60 {
            let input = random_input(&mut rng, 454, 42);
            sp.compute(&input, true, &mut out);
            restored.compute(&input, true, &mut restored_out);
            assert_eq!(out, restored_out);
        }
        for column in 0..2048 {
            assert_eq!(sp.column_permanences(column), restored.column_permanences(column));
        }
    }

    fn trained(records: usize) -> SpatialPooler {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let mut rng = Random::new(9);
        let mut out = Vec::new();
        for _ in 0..records {
            sp.compute(&random_input(&mut rng, 454, 42), true, &mut out);
        }
        sp
    }

    #[test]
    fn the_shared_initial_state_follows_the_parameters() {
        // More parameter sets than the cache holds, then the first again: each pooler behaves as its
        // own parameters say, whether its initial state was computed or taken from the cache.
        let outputs = |seed: u64| {
            let mut params = SpParams::nab(454);
            params.seed = seed;
            let mut sp = SpatialPooler::new(params).unwrap();
            let mut rng = Random::new(9);
            let mut out = Vec::new();
            (0..20)
                .map(|_| {
                    sp.compute(&random_input(&mut rng, 454, 42), true, &mut out);
                    out.clone()
                })
                .collect::<Vec<_>>()
        };
        let first = outputs(1);
        assert_eq!(outputs(1), first); // from the cache
        let others: Vec<_> = (2..=INITIAL_CACHE_SIZE as u64 + 2).map(outputs).collect();
        assert!(others.iter().all(|o| *o != first));
        assert_eq!(outputs(1), first); // computed again after its eviction
    }

    #[test]
    fn checkpoints_hold_only_the_changed_columns() {
        let fresh = SpatialPooler::new(SpParams::nab(454)).unwrap();
        let c = fresh.checkpoint();
        assert!(c.touched_columns.is_empty() && c.touched_permanences.is_empty());
        let restored = SpatialPooler::from_checkpoint(c).unwrap();
        assert!(restored.state.permanences.is_empty());

        let sp = trained(3);
        let c = sp.checkpoint();
        // Three records: 40 winners each, no bumps yet.
        assert!(c.touched_columns.len() <= 120 && c.touched_columns.len() >= 40, "{}", c.touched_columns.len());
        let pools: usize =
            c.touched_columns.iter().map(|&col| (sp.state.pool_start[col as usize + 1] - sp.state.pool_start[col as usize]) as usize).sum();
        assert_eq!(c.touched_permanences.len(), pools);
        assert_eq!(sp.state.permanences.len(), pools, "only the changed columns are held in memory");
        let restored = SpatialPooler::from_checkpoint(c).unwrap();
        for column in 0..2048 {
            assert_eq!(restored.state.slots[column] == UNTOUCHED, sp.state.slots[column] == UNTOUCHED);
            assert_eq!(restored.column_permanences(column), sp.column_permanences(column));
        }
    }

    #[test]
    fn corrupt_or_mismatched_checkpoints_are_rejected() {
        let sp = trained(5);
        let cases: [(fn(&mut SpCheckpoint), &str); 7] = [
            (|c| c.params.seed = 1957, "does not match its parameters"),
            (|c| c.touched_columns.swap(0, 1), "ascending"),
            (|c| *c.touched_columns.last_mut().unwrap() = 2048, "ascending"),
            (|c| _ = c.touched_permanences.pop(), "fewer permanences"),
            (|c| c.touched_permanences.push(0.5), "more permanences"),
            (|c| c.touched_permanences[7] = f32::NAN, "outside [0, 1]"),
            (|c| _ = c.active_duty.pop(), "duty cycle arrays"),
        ];
        for (corrupt, expected) in cases {
            let mut c = sp.checkpoint();
            corrupt(&mut c);
            let err = SpatialPooler::from_checkpoint(c).unwrap_err();
            assert!(err.contains(expected), "expected {expected:?}: {err}");
        }
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn out_of_range_input_panics_clearly() {
        let mut sp = SpatialPooler::new(SpParams::nab(454)).unwrap();
        sp.compute(&[454], true, &mut Vec::new());
    }
}
