//! Synapse storage: one fixed-size block per segment (block `id` belongs to segment `id`), split
//! into parallel arrays: 16-bit source cells and 8-bit permanence indexes, 3 bytes per synapse.
//! Should a TM ever need more than 256 distinct permanences, a second byte array holding the high
//! bytes of the indexes is added (`widen`) and indexes become 16-bit.

use super::chunked::BlockPool;
use super::connections::Synapse;

#[derive(Clone, Debug)]
pub(super) struct SynapsePool {
    sources: BlockPool<u16>,
    perm_lo: BlockPool<u8>,
    perm_hi: Option<BlockPool<u8>>,
}

impl SynapsePool {
    pub fn new(block: usize) -> Self {
        SynapsePool { sources: BlockPool::new(block), perm_lo: BlockPool::new(block), perm_hi: None }
    }

    /// Synapses per block (the maximum per segment).
    #[inline]
    pub fn block(&self) -> usize {
        self.sources.block()
    }

    /// Largest permanence index storable without `widen`.
    pub fn max_perm_index(&self) -> usize {
        if self.perm_hi.is_some() {
            u16::MAX as usize
        } else {
            u8::MAX as usize
        }
    }

    /// Makes blocks 0..n available.
    pub fn ensure(&mut self, n: usize) {
        self.sources.ensure(n);
        self.perm_lo.ensure(n);
        if let Some(hi) = &mut self.perm_hi {
            hi.ensure(n);
        }
    }

    /// Switches to 16-bit permanence indexes (existing ones keep their values).
    pub fn widen(&mut self, n_blocks: usize) {
        if self.perm_hi.is_none() {
            let mut hi = BlockPool::new(self.block());
            hi.ensure(n_blocks);
            self.perm_hi = Some(hi);
        }
    }

    /// The first `n` sources of block `id`.
    #[inline]
    pub fn sources(&self, id: usize, n: usize) -> &[u16] {
        &self.sources.get(id)[..n]
    }

    /// The first `n` synapses of block `id`.
    #[inline]
    pub fn synapses(&self, id: usize, n: usize) -> impl Iterator<Item = Synapse> + '_ {
        let src = &self.sources.get(id)[..n];
        let lo = &self.perm_lo.get(id)[..n];
        let hi = self.perm_hi.as_ref().map(|h| &h.get(id)[..n]);
        (0..n).map(move |k| Synapse { src: src[k], perm: lo[k] as u16 | hi.map_or(0, |h| (h[k] as u16) << 8) })
    }

    /// Number of the first `n` synapses of block `id` with `keep(source, permanence index)`.
    #[inline]
    pub fn count(&self, id: usize, n: usize, keep: impl Fn(u16, u16) -> bool) -> usize {
        let src = &self.sources.get(id)[..n];
        let lo = &self.perm_lo.get(id)[..n];
        match &self.perm_hi {
            None => src.iter().zip(lo).filter(|(&s, &p)| keep(s, p as u16)).count(),
            Some(h) => {
                let hi = &h.get(id)[..n];
                (0..n).filter(|&k| keep(src[k], lo[k] as u16 | (hi[k] as u16) << 8)).count()
            }
        }
    }

    /// Stores `synapses` at the start of block `id`.
    pub fn write(&mut self, id: usize, synapses: &[Synapse]) {
        debug_assert!(synapses.iter().all(|s| s.perm as usize <= self.max_perm_index()));
        for (d, s) in self.sources.get_mut(id).iter_mut().zip(synapses) {
            *d = s.src;
        }
        for (d, s) in self.perm_lo.get_mut(id).iter_mut().zip(synapses) {
            *d = s.perm as u8;
        }
        if let Some(hi) = &mut self.perm_hi {
            for (d, s) in hi.get_mut(id).iter_mut().zip(synapses) {
                *d = (s.perm >> 8) as u8;
            }
        }
    }

    /// Stores synapses from `sources` (ascending cells), all with permanence index `perm`, at the
    /// start of block `id`.
    pub fn write_uniform(&mut self, id: usize, sources: &[u32], perm: u16) {
        for (d, &s) in self.sources.get_mut(id).iter_mut().zip(sources) {
            *d = s as u16;
        }
        self.perm_lo.get_mut(id)[..sources.len()].fill(perm as u8);
        if let Some(hi) = &mut self.perm_hi {
            hi.get_mut(id)[..sources.len()].fill((perm >> 8) as u8);
        }
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.sources.memory_bytes()
            + self.perm_lo.memory_bytes()
            + self.perm_hi.as_ref().map_or(0, |h| h.memory_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_and_widened_indexes_round_trip() {
        let mut p = SynapsePool::new(4);
        p.ensure(3);
        let syns = [Synapse { src: 7, perm: 3 }, Synapse { src: 65535, perm: 255 }];
        p.write(2, &syns);
        assert_eq!(p.synapses(2, 2).collect::<Vec<_>>(), syns);
        assert_eq!(p.max_perm_index(), 255);
        p.widen(3);
        assert_eq!(p.synapses(2, 2).collect::<Vec<_>>(), syns, "widening keeps stored indexes");
        let wide = [Synapse { src: 1, perm: 300 }, Synapse { src: 2, perm: 4 }, Synapse { src: 9, perm: 65000 }];
        p.write(1, &wide);
        assert_eq!(p.synapses(1, 3).collect::<Vec<_>>(), wide);
        assert_eq!(p.sources(1, 3), &[1, 2, 9]);
        assert_eq!(p.count(1, 3, |_, perm| perm > 255), 2);
    }
}
