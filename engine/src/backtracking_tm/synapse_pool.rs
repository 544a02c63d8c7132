//! Synapse storage: each segment's synapses in one block of exactly its size, split into parallel
//! arrays: 16-bit source cells and 8-bit permanence indexes, 3 bytes per synapse. Blocks of one size
//! form a size class, stored end to end; a segment whose synapse count changes moves to the class of
//! its new size, and the last block of its old class moves into the block it left, so classes have
//! no gaps and no block holds unused room (fixed blocks of the largest size held a fifth more than
//! the synapses in NAB's model). Should a TM ever need more than 256 distinct permanences, every
//! class gains a byte array holding the high bytes of the indexes (`widen`) and indexes become 16-bit.

use super::connections::Synapse;

/// Where a write left things: the written segment's block (none for no synapses) and, if the pool
/// moved another segment's synapses to fill the block given up, that segment and its new block.
#[must_use]
pub(super) struct Placement {
    pub block: Option<u32>,
    pub moved: Option<(u32, u32)>,
}

/// The blocks of one size, end to end in one array per field (grown by a 64th at a time: the room a
/// class holds in advance is part of every model's memory).
#[derive(Clone, Debug)]
struct SizeClass {
    size: usize,
    sources: Vec<u16>,
    perm_lo: Vec<u8>,
    perm_hi: Option<Vec<u8>>,
    /// Per block in use (blocks 0..owners.len()): the segment it belongs to.
    owners: Vec<u32>,
}

impl SizeClass {
    fn new(size: usize, wide: bool) -> Self {
        SizeClass { size, sources: Vec::new(), perm_lo: Vec::new(), perm_hi: wide.then(Vec::new), owners: Vec::new() }
    }

    /// The range of `block` in the arrays.
    #[inline]
    fn span(&self, block: usize) -> std::ops::Range<usize> {
        block * self.size..(block + 1) * self.size
    }

    /// A block for segment `owner` (its contents are to be written).
    fn allocate(&mut self, owner: u32) -> u32 {
        let block = self.owners.len();
        if self.owners.len() == self.owners.capacity() {
            let more = block / 64 + 2;
            self.owners.reserve_exact(more);
            self.sources.reserve_exact(more * self.size);
            self.perm_lo.reserve_exact(more * self.size);
            if let Some(hi) = &mut self.perm_hi {
                hi.reserve_exact(more * self.size);
            }
        }
        self.owners.push(owner);
        let end = self.owners.len() * self.size;
        self.sources.resize(end, 0);
        self.perm_lo.resize(end, 0);
        if let Some(hi) = &mut self.perm_hi {
            hi.resize(end, 0);
        }
        block as u32
    }

    /// Frees `block` by moving the last block into it; returns the moved block's segment, if any.
    fn free(&mut self, block: usize) -> Option<u32> {
        let last = self.owners.len() - 1;
        let moved = (block != last).then(|| {
            let (from, to) = (self.span(last), self.span(block).start);
            self.sources.copy_within(from.clone(), to);
            self.perm_lo.copy_within(from.clone(), to);
            if let Some(hi) = &mut self.perm_hi {
                hi.copy_within(from, to);
            }
            self.owners[block] = self.owners[last];
            self.owners[block]
        });
        self.owners.pop();
        let end = self.owners.len() * self.size;
        self.sources.truncate(end);
        self.perm_lo.truncate(end);
        if let Some(hi) = &mut self.perm_hi {
            hi.truncate(end);
        }
        if self.owners.capacity() > self.owners.len() + self.owners.len() / 32 + 4 {
            self.shrink();
        }
        moved
    }

    /// Gives back the room of a class that has shrunk by a 32nd since it last grew or shrank.
    fn shrink(&mut self) {
        let keep = self.owners.len() + self.owners.len() / 64 + 2;
        self.owners.shrink_to(keep);
        self.sources.shrink_to(keep * self.size);
        self.perm_lo.shrink_to(keep * self.size);
        if let Some(hi) = &mut self.perm_hi {
            hi.shrink_to(keep * self.size);
        }
    }

    fn memory_bytes(&self) -> usize {
        self.sources.capacity() * 2
            + self.perm_lo.capacity()
            + self.perm_hi.as_ref().map_or(0, Vec::capacity)
            + self.owners.capacity() * 4
    }
}

/// A segment's synapses are found by its synapse count n and its block in class n, which the
/// segment keeps (`Segment::link`).
#[derive(Clone, Debug)]
pub(super) struct SynapsePool {
    max_synapses: usize,
    /// `classes[n - 1]` holds the blocks of n synapses (created when first needed).
    classes: Vec<SizeClass>,
    wide: bool,
}

impl SynapsePool {
    pub fn new(max_synapses: usize) -> Self {
        SynapsePool { max_synapses, classes: Vec::new(), wide: false }
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

    /// Switches to 16-bit permanence indexes (existing ones keep their values).
    pub fn widen(&mut self) {
        if !self.wide {
            self.wide = true;
            for class in &mut self.classes {
                class.perm_hi = Some(vec![0; class.perm_lo.len()]);
            }
        }
    }

    /// The sources of the `n` synapses in `block` of class n.
    #[inline]
    pub fn sources(&self, n: usize, block: u32) -> &[u16] {
        match n {
            0 => &[],
            _ => {
                let class = &self.classes[n - 1];
                &class.sources[class.span(block as usize)]
            }
        }
    }

    /// The `n` synapses in `block` of class n.
    #[inline]
    pub fn synapses(&self, n: usize, block: u32) -> impl Iterator<Item = Synapse> + '_ {
        let (src, lo, hi) = self.parts(n, block);
        (0..n).map(move |k| Synapse { src: src[k], perm: lo[k] as u16 | hi.map_or(0, |h| (h[k] as u16) << 8) })
    }

    /// Number of the `n` synapses in `block` of class n with `keep(source, permanence index)`.
    #[inline]
    pub fn count(&self, n: usize, block: u32, keep: impl Fn(u16, u16) -> bool) -> usize {
        match self.parts(n, block) {
            (src, lo, None) => src.iter().zip(lo).filter(|(&s, &p)| keep(s, p as u16)).count(),
            (src, lo, Some(hi)) => (0..n).filter(|&k| keep(src[k], lo[k] as u16 | (hi[k] as u16) << 8)).count(),
        }
    }

    /// Replaces the `old_n` synapses of segment `owner` (in `old_block` of class old_n) with `synapses`.
    pub fn write(&mut self, owner: u32, old_n: usize, old_block: u32, synapses: &[Synapse]) -> Placement {
        debug_assert!(synapses.iter().all(|s| s.perm as usize <= self.max_perm_index()));
        let placement = self.place(owner, old_n, old_block, synapses.len());
        let Some(block) = placement.block else { return placement };
        let class = &mut self.classes[synapses.len() - 1];
        let span = class.span(block as usize);
        for (d, s) in class.sources[span.clone()].iter_mut().zip(synapses) {
            *d = s.src;
        }
        for (d, s) in class.perm_lo[span.clone()].iter_mut().zip(synapses) {
            *d = s.perm as u8;
        }
        if let Some(hi) = &mut class.perm_hi {
            for (d, s) in hi[span].iter_mut().zip(synapses) {
                *d = (s.perm >> 8) as u8;
            }
        }
        placement
    }

    /// Replaces the `old_n` synapses of segment `owner` (in `old_block` of class old_n) with synapses
    /// from `sources` (ascending cells), all with permanence index `perm`.
    pub fn write_uniform(&mut self, owner: u32, old_n: usize, old_block: u32, sources: &[u32], perm: u16) -> Placement {
        let placement = self.place(owner, old_n, old_block, sources.len());
        let Some(block) = placement.block else { return placement };
        let class = &mut self.classes[sources.len() - 1];
        let span = class.span(block as usize);
        for (d, &s) in class.sources[span.clone()].iter_mut().zip(sources) {
            *d = s as u16;
        }
        class.perm_lo[span.clone()].fill(perm as u8);
        if let Some(hi) = &mut class.perm_hi {
            hi[span].fill((perm >> 8) as u8);
        }
        placement
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.classes.iter().map(SizeClass::memory_bytes).sum::<usize>()
            + self.classes.capacity() * std::mem::size_of::<SizeClass>()
    }

    /// Sources, low and high permanence bytes of the `n` synapses in `block` of class n.
    #[inline]
    fn parts(&self, n: usize, block: u32) -> (&[u16], &[u8], Option<&[u8]>) {
        if n == 0 {
            return (&[], &[], None);
        }
        let class = &self.classes[n - 1];
        let span = class.span(block as usize);
        (&class.sources[span.clone()], &class.perm_lo[span.clone()], class.perm_hi.as_ref().map(|h| &h[span]))
    }

    /// Gives segment `owner` a block for `new_n` synapses: keeps `old_block` if `old_n` is the same,
    /// else frees it (moving its class's last block into it) and takes one in class new_n.
    fn place(&mut self, owner: u32, old_n: usize, old_block: u32, new_n: usize) -> Placement {
        assert!(new_n <= self.max_synapses, "{new_n} synapses on a segment, at most {}", self.max_synapses);
        if old_n == new_n {
            return Placement { block: (new_n > 0).then_some(old_block), moved: None };
        }
        let moved = match old_n {
            0 => None,
            _ => self.classes[old_n - 1].free(old_block as usize).map(|segment| (segment, old_block)),
        };
        if new_n == 0 {
            return Placement { block: None, moved };
        }
        while self.classes.len() < new_n {
            let size = self.classes.len() + 1;
            self.classes.push(SizeClass::new(size, self.wide));
        }
        Placement { block: Some(self.classes[new_n - 1].allocate(owner)), moved }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(src: u16, perm: u16) -> Synapse {
        Synapse { src, perm }
    }

    #[test]
    fn narrow_and_widened_indexes_round_trip() {
        let mut p = SynapsePool::new(4);
        let syns = [syn(7, 3), syn(65535, 255)];
        let a = p.write(2, 0, 0, &syns).block.unwrap();
        assert_eq!(p.synapses(2, a).collect::<Vec<_>>(), syns);
        assert_eq!(p.max_perm_index(), 255);
        p.widen();
        assert_eq!(p.synapses(2, a).collect::<Vec<_>>(), syns, "widening keeps stored indexes");
        let wide = [syn(1, 300), syn(2, 4), syn(9, 65000)];
        let b = p.write(1, 0, 0, &wide).block.unwrap();
        assert_eq!(p.synapses(3, b).collect::<Vec<_>>(), wide);
        assert_eq!(p.sources(3, b), &[1, 2, 9]);
        assert_eq!(p.count(3, b, |_, perm| perm > 255), 2);
    }

    /// Records a write in `blocks` (each segment's block) as `Connections` does.
    fn record(blocks: &mut [u32], owner: u32, placement: Placement) {
        if let Some((moved, to)) = placement.moved {
            blocks[moved as usize] = to;
        }
        if let Some(block) = placement.block {
            blocks[owner as usize] = block;
        }
    }

    #[test]
    fn segments_keep_their_synapses_as_others_grow_shrink_and_empty() {
        let mut p = SynapsePool::new(4);
        let mut blocks = [0u32; 3];
        record(&mut blocks, 0, p.write_uniform(0, 0, 0, &[1, 2], 5));
        record(&mut blocks, 1, p.write(1, 0, 0, &[syn(3, 1), syn(4, 2)]));
        // Segment 0 grows to 3: segment 1, the last block of size 2, moves into the block 0 leaves.
        let grown = p.write(0, 2, blocks[0], &[syn(1, 6), syn(2, 6), syn(8, 5)]);
        assert_eq!(grown.moved, Some((1, 0)));
        record(&mut blocks, 0, grown);
        record(&mut blocks, 2, p.write_uniform(2, 0, 0, &[9, 10], 7));
        assert_eq!(p.synapses(3, blocks[0]).collect::<Vec<_>>(), [syn(1, 6), syn(2, 6), syn(8, 5)]);
        assert_eq!(p.synapses(2, blocks[1]).collect::<Vec<_>>(), [syn(3, 1), syn(4, 2)]);
        assert_eq!(p.sources(2, blocks[2]), &[9, 10]);
        let held = p.memory_bytes();
        // Segment 1 empties: segment 2's block, now the last, moves into the one it leaves.
        let emptied = p.write(1, 2, blocks[1], &[]);
        assert_eq!((emptied.block, emptied.moved), (None, Some((2, blocks[1]))));
        record(&mut blocks, 1, emptied);
        record(&mut blocks, 1, p.write(1, 0, 0, &[syn(5, 0), syn(6, 0)]));
        assert_eq!(p.memory_bytes(), held, "a freed block's room is reused");
        assert_eq!(p.sources(2, blocks[1]), &[5, 6]);
        assert_eq!(p.sources(2, blocks[2]), &[9, 10]);
        assert_eq!(p.sources(0, 0), &[] as &[u16]);
    }
}
