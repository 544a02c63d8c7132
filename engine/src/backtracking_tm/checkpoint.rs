//! Compact saved form of the TM's connections. Serde sees a few numbers and one byte string laid
//! out in three homogeneous sections, so it is small as it stands and deflates well:
//! 1. per segment (slab order): cell, slot, synapse count, positive activations, two reserved zeros
//!    (older versions wrote Cells4's unused totalActivations and lastActiveIteration there), the
//!    duty-cycle cache and the free-stack link, integers as LEB128 varints;
//! 2. synapse sources, per segment ascending, as varint gaps;
//! 3. synapse permanences as indexes into the permanence table (one byte each while the table has
//!    at most 256 values, else two).
//!
//! Followed by the free-stack tops of the cells that have one. Slot counts and forward lists are
//! derived on load, after validation.

use serde::{Deserialize, Serialize, Serializer};

use super::chunked::Chunked;
use super::connections::{Connections, Segment, Synapse, MAX_CELLS, NONE};
use super::permanence::PermanenceTable;
use super::synapse_pool::SynapsePool;

#[derive(Serialize, Deserialize)]
struct SavedConnections {
    cells_per_column: u32,
    n_cells: u32,
    /// Synapses per segment block (the maximum per segment).
    block: u32,
    /// initial, increment, decrement, max and connected permanence.
    perm_params: [f32; 5],
    /// The permanence table's values (float32 bits), to check that indexes mean the same on load.
    perm_values: Vec<u32>,
    n_segments: u32,
    data: Vec<u8>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the sections of `data` in order; every read fails cleanly on truncated input.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

const TRUNCATED: &str = "truncated TM connections data";

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.data.get(self.pos).ok_or(TRUNCATED)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u32, String> {
        let mut v = 0u64;
        for shift in (0..35).step_by(7) {
            let b = self.byte()?;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| "varint overflow in TM connections data".into());
            }
        }
        Err("varint too long in TM connections data".into())
    }

    fn u32_le(&mut self) -> Result<u32, String> {
        let bytes = self.data.get(self.pos..self.pos + 4).ok_or(TRUNCATED)?;
        self.pos += 4;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }
}

/// Connections to save, with whether the TM still counts positive activations, which decides
/// what each segment's counter is (see `Segment::counter`); the counterpart of `LoadedConnections`.
pub(super) struct ConnectionsToSave<'a> {
    pub conn: &'a Connections,
    pub counting: bool,
}

impl Serialize for ConnectionsToSave<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ConnectionsToSave { conn: c, counting } = *self;
        let wide = c.perms.values().len() > 256;
        let mut data = Vec::with_capacity(c.segments.len() * 16 + c.num_synapses() * 4);
        for seg in c.segments.iter() {
            put_varint(&mut data, seg.cell());
            data.push(seg.slot);
            data.push(seg.n_synapses);
            // Cells4's positive activations and duty-cycle iteration: the segment keeps the one in
            // use (see `Segment::counter`), the other is written as 0.
            let (positive, cached_at) = if counting { (seg.counter, 0) } else { (0, seg.counter) };
            put_varint(&mut data, positive);
            // Reserved (Cells4's totalActivations and lastActiveIteration, not kept): written as 0.
            put_varint(&mut data, 0);
            put_varint(&mut data, 0);
            put_varint(&mut data, cached_at);
            data.extend_from_slice(&seg.duty_cycle.to_bits().to_le_bytes());
            let next_free = if seg.is_live() { NONE } else { seg.link() };
            put_varint(&mut data, next_free.wrapping_add(1));
        }
        for id in 0..c.segments.len() as u32 {
            let mut prev = 0u32;
            for &src in c.sources(id) {
                put_varint(&mut data, src as u32 - prev);
                prev = src as u32;
            }
        }
        for id in 0..c.segments.len() as u32 {
            for syn in c.synapses(id) {
                if wide {
                    data.extend_from_slice(&syn.perm.to_le_bytes());
                } else {
                    data.push(syn.perm as u8);
                }
            }
        }
        put_varint(&mut data, c.free_top.len() as u32);
        let mut prev = 0u32;
        for (&cell, &top) in &c.free_top {
            put_varint(&mut data, cell - prev);
            put_varint(&mut data, top);
            prev = cell;
        }
        SavedConnections {
            cells_per_column: c.forward.cells_per_column(),
            n_cells: c.slot_count.len() as u32,
            block: c.max_synapses() as u32,
            perm_params: c.perms.params(),
            perm_values: c.perms.values().iter().map(|v| v.to_bits()).collect(),
            n_segments: c.segments.len() as u32,
            data,
        }
        .serialize(serializer)
    }
}

/// Saved connections as loaded, before decoding: which segment counter they continue with depends
/// on the TM's learning iteration (see `Segment::counter`).
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct LoadedConnections(SavedConnections);

impl LoadedConnections {
    /// Validates and decodes; `counting` says whether the TM still counts positive activations.
    pub fn decode<E: serde::de::Error>(self, counting: bool) -> Result<Connections, E> {
        decode(self.0, counting).map_err(E::custom)
    }
}

fn decode(saved: SavedConnections, counting: bool) -> Result<Connections, String> {
    let SavedConnections { cells_per_column: cpc, n_cells, block, perm_params: pp, perm_values, n_segments, data } =
        saved;
    let (n_cells, block) = (n_cells as usize, block as usize);
    if cpc == 0 || n_cells % cpc as usize != 0 || n_cells > MAX_CELLS || !(1..=255).contains(&block) {
        return Err("inconsistent cell counts in saved TM connections".into());
    }
    if !pp.iter().all(|v| v.is_finite()) {
        return Err("non-finite permanence parameters in saved TM connections".into());
    }
    let values: Vec<f32> = perm_values.iter().map(|&b| f32::from_bits(b)).collect();
    let perms = PermanenceTable::with_values(pp, &values).map_err(|e| format!("saved TM connections: {e}"))?;
    let wide = perms.values().len() > 256;
    let n_segments = n_segments as usize;
    if n_segments > data.len() {
        return Err(TRUNCATED.into());
    }
    if n_segments >= n_cells * 256 {
        return Err("too many segments in saved TM connections".into());
    }
    let mut r = Reader { data: &data, pos: 0 };
    let mut segments = Chunked::default();
    let mut sizes = Vec::with_capacity(n_segments);
    let mut slot_count = vec![0u8; n_cells];
    let mut slot_max = vec![0u8; n_cells];
    let link_ok = |l: u32| l == NONE || (l as usize) < n_segments;
    for _ in 0..n_segments {
        let cell = r.varint()?;
        let slot = r.byte()?;
        sizes.push(r.byte()? as usize);
        let positive_activations = r.varint()?;
        let _reserved = (r.varint()?, r.varint()?);
        let duty_cycle_iteration = r.varint()?;
        let duty_cycle = f32::from_bits(r.u32_le()?);
        let mut seg = Segment::saved(cell, slot, positive_activations, duty_cycle_iteration, duty_cycle, counting);
        let link = r.varint()?.wrapping_sub(1);
        if link_ok(link) {
            seg.set_link(link);
        }
        if cell as usize >= n_cells || !link_ok(link) || sizes.last() > Some(&block) {
            return Err("bad segment in saved TM connections".into());
        }
        let count = &mut slot_count[cell as usize];
        *count = count.checked_add(1).ok_or("too many segments on one cell in saved TM connections")?;
        slot_max[cell as usize] = slot_max[cell as usize].max(slot);
        segments.push(seg);
    }
    if (0..n_cells).any(|c| slot_count[c] > 0 && slot_max[c] != slot_count[c] - 1) {
        return Err("bad segment slots in saved TM connections".into());
    }
    let mut sources: Vec<Vec<u16>> = Vec::with_capacity(n_segments);
    for &n in &sizes {
        let mut srcs = Vec::with_capacity(n);
        let mut prev = 0u32;
        for k in 0..n {
            let gap = r.varint()?;
            let src = prev.checked_add(gap).filter(|&s| (s as usize) < n_cells && (k == 0 || gap > 0));
            let src = src.ok_or("bad synapse source in saved TM connections")?;
            srcs.push(src as u16);
            prev = src;
        }
        sources.push(srcs);
    }
    let mut pool = SynapsePool::new(block);
    let mut synapses = Vec::with_capacity(block);
    for (id, (seg, srcs)) in segments.iter_mut().zip(sources).enumerate() {
        synapses.clear();
        for src in srcs {
            let perm = if wide { (r.byte()? as u16) | (r.byte()? as u16) << 8 } else { r.byte()? as u16 };
            if perm as usize >= perms.values().len() {
                return Err("bad permanence index in saved TM connections".into());
            }
            synapses.push(Synapse { src, perm });
        }
        if let Some(block) = pool.write(id as u32, 0, NONE, &synapses).block {
            seg.set_link(block);
        }
        seg.n_connected = synapses.iter().filter(|s| perms.is_connected(s.perm)).count() as u8;
        seg.n_synapses = synapses.len() as u8;
    }
    let mut free_top = std::collections::BTreeMap::new();
    let n_free = r.varint()? as usize;
    let mut cell = 0usize;
    for k in 0..n_free {
        let gap = r.varint()? as usize;
        cell += gap;
        let top = r.varint()?;
        let released_here = |t: usize| segments[t].cell() as usize == cell && !segments[t].is_live();
        if cell >= n_cells || (k > 0 && gap == 0) || top as usize >= n_segments || !released_here(top as usize) {
            return Err("bad free-slot link in saved TM connections".into());
        }
        free_top.insert(cell as u32, top);
    }
    if r.pos != data.len() {
        return Err("trailing bytes in saved TM connections".into());
    }
    Ok(Connections::from_parts(segments, pool, slot_count, free_top, perms, cpc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backtracking_tm::connections::Plasticity;

    fn plasticity() -> Plasticity {
        Plasticity { initial: 0.21, increment: 0.1, decrement: 0.1, max: 1.0, connected: 0.3, max_synapses: 4 }
    }

    fn save(c: &Connections) -> Vec<u8> {
        bincode::serialize(&ConnectionsToSave { conn: c, counting: true }).unwrap()
    }

    fn load(blob: &[u8]) -> Result<Connections, String> {
        decode(bincode::deserialize(blob).unwrap(), true)
    }

    fn sample() -> Connections {
        let mut c = Connections::new(2, 8, &plasticity()).unwrap();
        let a = c.create_segment(3, &[1, 9, 12], 1);
        c.create_segment(3, &[2], 1);
        c.release_segment(a);
        let s = c.create_segment(9, &[3, 4, 15], 2);
        c.adapt_segment(s, &[3], &plasticity(), 3, &mut Default::default());
        c
    }

    #[test]
    fn saved_connections_round_trip() {
        let c = sample();
        let blob = save(&c);
        let back = load(&blob).unwrap();
        assert_eq!((back.num_segments(), back.num_synapses()), (2, 4));
        assert_eq!(back.slot_count(3), 2);
        assert!(back.synapses(2).eq(c.synapses(2)));
        assert_eq!(back.segments[2].n_connected, 1, "0.31 is connected, 0.11 twice is not");
        let (mut act, mut found) = (Default::default(), Vec::new());
        back.propagate(&[3, 4], 2, &mut act, &mut found);
        assert_eq!(found, vec![(2, 2)]);
        assert_eq!(save(&back), blob);
    }

    #[test]
    fn inconsistent_saved_connections_are_rejected() {
        let blob = save(&sample());
        let saved = || -> SavedConnections { bincode::deserialize(&blob).unwrap() };
        let mut s = saved();
        s.n_cells = 17;
        assert!(decode(s, true).is_err(), "cells not a multiple of cells_per_column");
        let mut s = saved();
        s.perm_values[0] = 0.5f32.to_bits();
        let e = decode(s, true).unwrap_err();
        assert!(e.contains("initial permanence"), "{e}");
        let mut s = saved();
        s.data.pop();
        assert!(decode(s, true).is_err(), "truncated");
        let mut s = saved();
        s.data.push(0);
        assert!(decode(s, true).unwrap_err().contains("trailing"));
        let mut s = saved();
        s.data[0] = 16; // first segment on cell 16 of 16
        assert!(decode(s, true).unwrap_err().contains("bad segment"));
        let mut s = saved();
        let n = s.data.len();
        s.data[n - 1] = 7; // free-stack top pointing past the 3 segments
        assert!(decode(s, true).unwrap_err().contains("free-slot"));
    }
}
