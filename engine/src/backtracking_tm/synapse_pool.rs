//! Synapse storage: each segment's synapses in one block of exactly its size, split into parallel
//! arrays: 16-bit source cells and 8-bit permanence indexes, 3 bytes per synapse. Blocks of one size
//! form a size class; a segment whose synapse count changes moves to the class of its new size, and
//! the last block of its old class moves into the block it left, so classes have no gaps and no
//! block holds unused room (fixed blocks of the largest size held a fifth more than the synapses in
//! NAB's model). Should a TM ever need more
//! than 256 distinct permanences, every class gains a byte array holding the high bytes of the
//! indexes (`widen`) and indexes become 16-bit.

use super::chunked::{BlockPool, Chunked};
use super::connections::Synapse;

/// The blocks of one size.
#[derive(Clone, Debug)]
struct SizeClass {
    sources: BlockPool<u16>,
    perm_lo: BlockPool<u8>,
    perm_hi: Option<BlockPool<u8>>,
    /// Blocks in use: 0..len.
    len: usize,
    /// Per block in use: the segment it belongs to.
    owners: Chunked<u32>,
}

impl SizeClass {
    fn new(size: usize, wide: bool) -> Self {
        SizeClass {
            sources: BlockPool::new(size),
            perm_lo: BlockPool::new(size),
            perm_hi: wide.then(|| BlockPool::new(size)),
            len: 0,
            owners: Chunked::default(),
        }
    }

    /// A block for segment `owner`.
    fn allocate(&mut self, owner: u32) -> u32 {
        let block = self.len;
        self.len += 1;
        self.sources.ensure(self.len);
        self.perm_lo.ensure(self.len);
        if let Some(hi) = &mut self.perm_hi {
            hi.ensure(self.len);
        }
        if block < self.owners.len() {
            self.owners[block] = owner;
        } else {
            self.owners.push(owner);
        }
        block as u32
    }

    /// Frees `block` by moving the last block into it; returns the moved block's segment, if any.
    fn free(&mut self, block: usize) -> Option<u32> {
        self.len -= 1;
        let last = self.len;
        let moved = (block != last).then(|| {
            self.sources.copy_block(last, block);
            self.perm_lo.copy_block(last, block);
            if let Some(hi) = &mut self.perm_hi {
                hi.copy_block(last, block);
            }
            self.owners[block] = self.owners[last];
            self.owners[block]
        });
        self.sources.shrink(self.len);
        self.perm_lo.shrink(self.len);
        if let Some(hi) = &mut self.perm_hi {
            hi.shrink(self.len);
        }
        moved
    }

    fn memory_bytes(&self) -> usize {
        self.sources.memory_bytes()
            + self.perm_lo.memory_bytes()
            + self.perm_hi.as_ref().map_or(0, |h| h.memory_bytes())
            + self.owners.memory_bytes()
    }
}

#[derive(Clone, Debug)]
pub(super) struct SynapsePool {
    max_synapses: usize,
    /// `classes[n - 1]` holds the blocks of n synapses (created when first needed).
    classes: Vec<SizeClass>,
    /// Per segment id: its block in the class of its synapse count (meaningless while it has none).
    blocks: Chunked<u32>,
    wide: bool,
}

impl SynapsePool {
    pub fn new(max_synapses: usize) -> Self {
        SynapsePool { max_synapses, classes: Vec::new(), blocks: Chunked::default(), wide: false }
    }

    /// The most synapses a segment may have.
    #[inline]
    pub fn max_synapses(&self) -> usize {
        self.max_synapses
    }

    /// Largest permanence index storable without `widen`.
    pub fn max_perm_index(&self) -> usize {
        if self.wide {
            u16::MAX as usize
        } else {
            u8::MAX as usize
        }
    }

    /// Makes segment ids 0..n available (each with no synapses until written).
    pub fn ensure(&mut self, n: usize) {
        while self.blocks.len() < n {
            self.blocks.push(0);
        }
    }

    /// Switches to 16-bit permanence indexes (existing ones keep their values).
    pub fn widen(&mut self) {
        if !self.wide {
            self.wide = true;
            for (size, class) in (1..).zip(&mut self.classes) {
                let mut hi = BlockPool::new(size);
                hi.ensure(class.len);
                class.perm_hi = Some(hi);
            }
        }
    }

    /// The `n` sources of segment `id`, which has `n` synapses.
    #[inline]
    pub fn sources(&self, id: usize, n: usize) -> &[u16] {
        match n {
            0 => &[],
            _ => self.classes[n - 1].sources.get(self.blocks[id] as usize),
        }
    }

    /// The `n` synapses of segment `id`, which has `n` synapses.
    #[inline]
    pub fn synapses(&self, id: usize, n: usize) -> impl Iterator<Item = Synapse> + '_ {
        let (src, lo, hi) = self.parts(id, n);
        (0..n).map(move |k| Synapse { src: src[k], perm: lo[k] as u16 | hi.map_or(0, |h| (h[k] as u16) << 8) })
    }

    /// Number of the `n` synapses of segment `id` with `keep(source, permanence index)`.
    #[inline]
    pub fn count(&self, id: usize, n: usize, keep: impl Fn(u16, u16) -> bool) -> usize {
        match self.parts(id, n) {
            (src, lo, None) => src.iter().zip(lo).filter(|(&s, &p)| keep(s, p as u16)).count(),
            (src, lo, Some(hi)) => (0..n).filter(|&k| keep(src[k], lo[k] as u16 | (hi[k] as u16) << 8)).count(),
        }
    }

    /// Replaces the `old_n` synapses of segment `id` with `synapses`.
    pub fn write(&mut self, id: usize, old_n: usize, synapses: &[Synapse]) {
        debug_assert!(synapses.iter().all(|s| s.perm as usize <= self.max_perm_index()));
        let Some((class, block)) = self.place(id, old_n, synapses.len()) else { return };
        for (d, s) in class.sources.get_mut(block).iter_mut().zip(synapses) {
            *d = s.src;
        }
        for (d, s) in class.perm_lo.get_mut(block).iter_mut().zip(synapses) {
            *d = s.perm as u8;
        }
        if let Some(hi) = &mut class.perm_hi {
            for (d, s) in hi.get_mut(block).iter_mut().zip(synapses) {
                *d = (s.perm >> 8) as u8;
            }
        }
    }

    /// Replaces the `old_n` synapses of segment `id` with synapses from `sources` (ascending cells),
    /// all with permanence index `perm`.
    pub fn write_uniform(&mut self, id: usize, old_n: usize, sources: &[u32], perm: u16) {
        let Some((class, block)) = self.place(id, old_n, sources.len()) else { return };
        for (d, &s) in class.sources.get_mut(block).iter_mut().zip(sources) {
            *d = s as u16;
        }
        class.perm_lo.get_mut(block).fill(perm as u8);
        if let Some(hi) = &mut class.perm_hi {
            hi.get_mut(block).fill((perm >> 8) as u8);
        }
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.classes.iter().map(SizeClass::memory_bytes).sum::<usize>()
            + self.classes.capacity() * std::mem::size_of::<SizeClass>()
            + self.blocks.memory_bytes()
    }

    /// Sources, low and high permanence bytes of the `n` synapses of segment `id`.
    #[inline]
    fn parts(&self, id: usize, n: usize) -> (&[u16], &[u8], Option<&[u8]>) {
        if n == 0 {
            return (&[], &[], None);
        }
        let (class, block) = (&self.classes[n - 1], self.blocks[id] as usize);
        (class.sources.get(block), class.perm_lo.get(block), class.perm_hi.as_ref().map(|h| h.get(block)))
    }

    /// Gives segment `id` a block for `new_n` synapses (keeping its block if `old_n` is the same,
    /// freeing it otherwise) and returns its class and block (none for no synapses).
    fn place(&mut self, id: usize, old_n: usize, new_n: usize) -> Option<(&mut SizeClass, usize)> {
        assert!(new_n <= self.max_synapses, "{new_n} synapses on a segment, at most {}", self.max_synapses);
        if old_n != new_n {
            if old_n > 0 {
                let block = self.blocks[id];
                if let Some(moved) = self.classes[old_n - 1].free(block as usize) {
                    self.blocks[moved as usize] = block;
                }
            }
            if new_n > 0 {
                while self.classes.len() < new_n {
                    let size = self.classes.len() + 1;
                    self.classes.push(SizeClass::new(size, self.wide));
                }
                self.blocks[id] = self.classes[new_n - 1].allocate(id as u32);
            }
        }
        let block = self.blocks[id] as usize;
        Some((self.classes.get_mut(new_n.checked_sub(1)?)?, block))
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
        p.write(2, 0, &syns);
        assert_eq!(p.synapses(2, 2).collect::<Vec<_>>(), syns);
        assert_eq!(p.max_perm_index(), 255);
        p.widen();
        assert_eq!(p.synapses(2, 2).collect::<Vec<_>>(), syns, "widening keeps stored indexes");
        let wide = [Synapse { src: 1, perm: 300 }, Synapse { src: 2, perm: 4 }, Synapse { src: 9, perm: 65000 }];
        p.write(1, 0, &wide);
        assert_eq!(p.synapses(1, 3).collect::<Vec<_>>(), wide);
        assert_eq!(p.sources(1, 3), &[1, 2, 9]);
        assert_eq!(p.count(1, 3, |_, perm| perm > 255), 2);
    }

    #[test]
    fn segments_keep_their_synapses_as_others_grow_shrink_and_empty() {
        let syn = |src: u16, perm: u16| Synapse { src, perm };
        let mut p = SynapsePool::new(4);
        p.ensure(3);
        p.write_uniform(0, 0, &[1, 2], 5);
        p.write(1, 0, &[syn(3, 1), syn(4, 2)]);
        p.write(0, 2, &[syn(1, 6), syn(2, 6), syn(8, 5)]); // grows: moves to the class of 3
        p.write_uniform(2, 0, &[9, 10], 7); // takes the block segment 0 left, as segment 1 moved into it
        assert_eq!(p.synapses(0, 3).collect::<Vec<_>>(), [syn(1, 6), syn(2, 6), syn(8, 5)]);
        assert_eq!(p.synapses(1, 2).collect::<Vec<_>>(), [syn(3, 1), syn(4, 2)]);
        assert_eq!(p.sources(2, 2), &[9, 10]);
        let held = p.memory_bytes();
        p.write(1, 2, &[]); // empties: segment 2's block moves into the one it leaves
        p.write(1, 0, &[syn(5, 0), syn(6, 0)]);
        assert_eq!(p.memory_bytes(), held, "a freed block is reused");
        assert_eq!(p.sources(1, 2), &[5, 6]);
        assert_eq!(p.sources(2, 2), &[9, 10]);
        assert_eq!(p.sources(1, 0), &[] as &[u16]);
    }
}
