//! Synapse storage: each segment's synapses in one block of exactly its size, split into parallel
//! arrays: 16-bit source cells and bit-packed permanence indexes, 5 bits each while the permanence
//! table has at most 32 values (23 with NAB's parameters): 2.6 bytes a synapse. Blocks of one size
//! form a size class, stored end to end; a segment whose synapse count changes moves to the class of
//! its new size, and the last block of its old class moves into the block it left, so classes have
//! no gaps and no block holds unused room (fixed blocks of the largest size held a fifth more than
//! the synapses in NAB's model). A write of an index too large for the width repacks every class
//! wider first (8, then 16 bits).

use super::connections::Synapse;

/// Permanence index widths in bits, narrowest first.
const INDEX_BITS: [u32; 3] = [5, 8, 16];
/// Bytes after a class's last block, so that every index is read and written as a 4-byte word.
const PADDING: usize = 3;

/// Where a write left things: the written segment's block (none for no synapses) and, if the pool
/// moved another segment's synapses to fill the block given up, that segment and its new block.
#[must_use]
pub(super) struct Placement {
    pub block: Option<u32>,
    pub moved: Option<(u32, u32)>,
}

/// Bit-packed permanence indexes of `bits` bits each, in blocks of `stride` bytes: the indexes of one
/// block start at a byte boundary (a block wastes less than a byte).
#[derive(Clone, Copy, Debug)]
struct Packing {
    bits: u32,
    stride: usize,
}

impl Packing {
    fn new(bits: u32, size: usize) -> Self {
        Packing { bits, stride: (bits as usize * size).div_ceil(8) }
    }

    /// The `n` indexes of the block starting at byte `base` of `bytes`, in order.
    #[inline]
    fn indexes(self, bytes: &[u8], base: usize, n: usize) -> impl Iterator<Item = u16> + '_ {
        let (mut acc, mut held, mut at) = (0u64, 0u32, base);
        let mask = (1u64 << self.bits) - 1;
        (0..n).map(move |_| {
            if held < self.bits {
                // Reads at most PADDING bytes past the block's end.
                acc |= (u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as u64) << held;
                (held, at) = (held + 32, at + 4);
            }
            let index = (acc & mask) as u16;
            (acc, held) = (acc >> self.bits, held - self.bits);
            index
        })
    }

    /// Writes `indexes` as the block starting at byte `base` of `bytes`.
    fn put(self, bytes: &mut [u8], base: usize, indexes: impl Iterator<Item = u16>) {
        let block = &mut bytes[base..base + self.stride];
        let (mut acc, mut held, mut at) = (0u64, 0u32, 0);
        for index in indexes {
            acc |= (index as u64) << held;
            held += self.bits;
            if held >= 32 {
                block[at..at + 4].copy_from_slice(&(acc as u32).to_le_bytes());
                (acc, held, at) = (acc >> 32, held - 32, at + 4);
            }
        }
        let rest = held.div_ceil(8) as usize;
        block[at..at + rest].copy_from_slice(&acc.to_le_bytes()[..rest]);
    }
}

/// The blocks of one size, end to end in one array per field (grown by a 64th at a time: the room a
/// class holds in advance is part of every model's memory).
#[derive(Clone, Debug)]
struct SizeClass {
    size: usize,
    sources: Vec<u16>,
    /// The blocks' permanence indexes (`packing`), then PADDING bytes.
    perms: Vec<u8>,
    packing: Packing,
    /// Per block in use (blocks 0..owners.len()): the segment it belongs to.
    owners: Vec<u32>,
}

impl SizeClass {
    fn new(size: usize, bits: u32) -> Self {
        SizeClass {
            size,
            sources: Vec::new(),
            perms: vec![0; PADDING],
            packing: Packing::new(bits, size),
            owners: Vec::new(),
        }
    }

    /// The range of `block` in `sources`.
    #[inline]
    fn span(&self, block: usize) -> std::ops::Range<usize> {
        block * self.size..(block + 1) * self.size
    }

    /// Where `block`'s permanence indexes start in `perms`.
    #[inline]
    fn perm_base(&self, block: usize) -> usize {
        block * self.packing.stride
    }

    /// Sizes the arrays for the blocks in use.
    fn fit_arrays(&mut self) {
        let blocks = self.owners.len();
        self.sources.resize(blocks * self.size, 0);
        self.perms.resize(blocks * self.packing.stride + PADDING, 0);
    }

    /// A block for segment `owner` (its contents are to be written).
    fn allocate(&mut self, owner: u32) -> u32 {
        let block = self.owners.len();
        if self.owners.len() == self.owners.capacity() {
            let more = block / 64 + 2;
            self.owners.reserve_exact(more);
            self.sources.reserve_exact(more * self.size);
            self.perms.reserve_exact(more * self.packing.stride);
        }
        self.owners.push(owner);
        self.fit_arrays();
        block as u32
    }

    /// Frees `block` by moving the last block into it; returns the moved block's segment, if any.
    fn free(&mut self, block: usize) -> Option<u32> {
        let last = self.owners.len() - 1;
        let moved = (block != last).then(|| {
            let (from, to) = (self.span(last), self.span(block).start);
            self.sources.copy_within(from, to);
            let (from, to) = (self.perm_base(last), self.perm_base(block));
            self.perms.copy_within(from..from + self.packing.stride, to);
            self.owners[block] = self.owners[last];
            self.owners[block]
        });
        self.owners.pop();
        self.fit_arrays();
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
        self.perms.shrink_to(keep * self.packing.stride + PADDING);
    }

    /// Repacks the permanence indexes `bits` wide.
    fn repack(&mut self, bits: u32) {
        let (old, new) = (self.packing, Packing::new(bits, self.size));
        let mut perms = vec![0; self.owners.len() * new.stride + PADDING];
        for block in 0..self.owners.len() {
            let base = self.perm_base(block);
            new.put(&mut perms, block * new.stride, old.indexes(&self.perms, base, self.size));
        }
        (self.perms, self.packing) = (perms, new);
    }

    fn memory_bytes(&self) -> usize {
        self.sources.capacity() * 2 + self.perms.capacity() + self.owners.capacity() * 4
    }
}

/// A segment's synapses are found by its synapse count n and its block in class n, which the
/// segment keeps (`Segment::link`).
#[derive(Clone, Debug)]
pub(super) struct SynapsePool {
    max_synapses: usize,
    /// `classes[n - 1]` holds the blocks of n synapses (created when first needed).
    classes: Vec<SizeClass>,
    /// Width of the permanence indexes (one of INDEX_BITS).
    bits: u32,
}

impl SynapsePool {
    pub fn new(max_synapses: usize) -> Self {
        SynapsePool { max_synapses, classes: Vec::new(), bits: INDEX_BITS[0] }
    }

    /// The most synapses a segment may have.
    #[inline]
    pub fn max_synapses(&self) -> usize {
        self.max_synapses
    }

    /// Largest permanence index storable at the current width.
    #[cfg(test)]
    pub fn max_perm_index(&self) -> usize {
        (1 << self.bits) - 1
    }

    /// Repacks every class wide enough for permanence index `index`.
    #[inline]
    fn widen_for(&mut self, index: u16) {
        if (index as usize) >> self.bits != 0 {
            let bits = INDEX_BITS.into_iter().find(|&b| (index as usize) >> b == 0).expect("16 bits hold every index");
            self.bits = bits;
            for class in &mut self.classes {
                class.repack(bits);
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
        let (sources, perms) = match n {
            0 => (&[][..], Packing::new(0, 0).indexes(&[], 0, 0)),
            _ => {
                let class = &self.classes[n - 1];
                let base = class.perm_base(block as usize);
                (&class.sources[class.span(block as usize)], class.packing.indexes(&class.perms, base, n))
            }
        };
        sources.iter().zip(perms).map(|(&src, perm)| Synapse { src, perm })
    }

    /// Number of the `n` synapses in `block` of class n with `keep(source, permanence index)`.
    #[inline]
    pub fn count(&self, n: usize, block: u32, keep: impl Fn(u16, u16) -> bool) -> usize {
        self.synapses(n, block).filter(|s| keep(s.src, s.perm)).count()
    }

    /// Replaces the `old_n` synapses of segment `owner` (in `old_block` of class old_n) with `synapses`.
    pub fn write(&mut self, owner: u32, old_n: usize, old_block: u32, synapses: &[Synapse]) -> Placement {
        self.widen_for(synapses.iter().fold(0, |all, s| all | s.perm));
        let placement = self.place(owner, old_n, old_block, synapses.len());
        let Some(block) = placement.block else { return placement };
        let class = &mut self.classes[synapses.len() - 1];
        let span = class.span(block as usize);
        for (d, s) in class.sources[span].iter_mut().zip(synapses) {
            *d = s.src;
        }
        let base = class.perm_base(block as usize);
        class.packing.put(&mut class.perms, base, synapses.iter().map(|s| s.perm));
        placement
    }

    /// Replaces the `old_n` synapses of segment `owner` (in `old_block` of class old_n) with synapses
    /// from `sources` (ascending cells), all with permanence index `perm`.
    pub fn write_uniform(&mut self, owner: u32, old_n: usize, old_block: u32, sources: &[u32], perm: u16) -> Placement {
        self.widen_for(perm);
        let placement = self.place(owner, old_n, old_block, sources.len());
        let Some(block) = placement.block else { return placement };
        let class = &mut self.classes[sources.len() - 1];
        let span = class.span(block as usize);
        for (d, &s) in class.sources[span].iter_mut().zip(sources) {
            *d = s as u16;
        }
        let base = class.perm_base(block as usize);
        class.packing.put(&mut class.perms, base, std::iter::repeat_n(perm, sources.len()));
        placement
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.classes.iter().map(SizeClass::memory_bytes).sum::<usize>()
            + self.classes.capacity() * std::mem::size_of::<SizeClass>()
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
            self.classes.push(SizeClass::new(size, self.bits));
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
    fn indexes_round_trip_at_every_width() {
        let mut p = SynapsePool::new(32);
        // Blocks of 1 to 5 synapses with every 5-bit index, several blocks to a class.
        let narrow: Vec<(usize, Vec<Synapse>)> = (0..40u16)
            .map(|k| (k as usize, (0..k % 5 + 1).map(|j| syn(k * 7 + j, (k * 3 + j * 11) % 32)).collect()))
            .collect();
        let mut blocks = vec![0u32; narrow.len() + 2];
        for (owner, syns) in &narrow {
            record(&mut blocks, *owner as u32, p.write(*owner as u32, 0, 0, syns));
        }
        assert_eq!(p.max_perm_index(), 31);
        let held = |p: &SynapsePool, blocks: &[u32]| {
            narrow.iter().all(|(o, syns)| p.synapses(syns.len(), blocks[*o]).eq(syns.iter().copied()))
        };
        assert!(held(&p, &blocks));
        let eight = [syn(7, 3), syn(65535, 255)];
        record(&mut blocks, 40, p.write(40, 0, 0, &eight));
        assert_eq!(p.max_perm_index(), 255, "index 255 widens to 8 bits");
        assert!(held(&p, &blocks), "widening keeps stored indexes");
        let wide = [syn(1, 300), syn(2, 4), syn(9, 65000)];
        record(&mut blocks, 41, p.write(41, 0, 0, &wide));
        assert_eq!(p.max_perm_index(), u16::MAX as usize);
        assert!(held(&p, &blocks));
        assert!(p.synapses(2, blocks[40]).eq(eight));
        assert!(p.synapses(3, blocks[41]).eq(wide));
        assert_eq!(p.sources(3, blocks[41]), &[1, 2, 9]);
        assert_eq!(p.count(3, blocks[41], |_, perm| perm > 255), 2);
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
