//! Many small growable arrays of one model in one allocation. Each array ("region") holds a multiple
//! of a quantum of elements; one that outgrows its region (or uses less than all but one quantum of
//! it) moves to a region of the size it needs and leaves its old one for the next array that needs
//! that size; when a tenth of the allocation is left unused, the regions are packed again. The
//! spatial pooler keeps its changed columns' permanences this way: a few hundred arrays per model,
//! made as columns first change and resized on most updates, each its own heap block, fragmented the
//! heap more than storing them without zeros saved.

/// Where an array's elements are in the allocation.
#[derive(Clone, Copy, Debug, Default)]
struct Region {
    start: u32,
    len: u32,
    /// Room in quanta.
    quanta: u32,
}

/// Growable arrays of `T`, numbered from 0 in the order they were added.
#[derive(Clone, Debug)]
pub(crate) struct Regions<T> {
    quantum: usize,
    regions: Vec<Region>,
    elements: Vec<T>,
    /// Unused regions, by size: `free[q]` holds the starts of free regions of q quanta.
    free: Vec<Vec<u32>>,
    /// Elements the free regions hold.
    unused: usize,
}

impl<T: Copy + Default> Regions<T> {
    /// No arrays; each will hold a multiple of `quantum` elements.
    pub(crate) fn new(quantum: usize) -> Self {
        Regions { quantum, regions: Vec::new(), elements: Vec::new(), free: Vec::new(), unused: 0 }
    }

    /// Number of arrays.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.regions.len()
    }

    /// Adds an empty array; returns its number.
    pub(crate) fn add(&mut self) -> usize {
        self.regions.push(Region::default());
        self.regions.len() - 1
    }

    /// The elements of array `k`.
    #[inline]
    pub(crate) fn get(&self, k: usize) -> &[T] {
        let r = self.regions[k];
        &self.elements[r.start as usize..][..r.len as usize]
    }

    /// The elements of array `k`, to change.
    #[inline]
    pub(crate) fn get_mut(&mut self, k: usize) -> &mut [T] {
        let r = self.regions[k];
        &mut self.elements[r.start as usize..][..r.len as usize]
    }

    /// Makes array `k` `len` elements long, keeping its first ones; added elements are `T::default()`.
    pub(crate) fn resize(&mut self, k: usize, len: usize) {
        let quanta = len.div_ceil(self.quantum).max(1);
        let old = self.regions[k];
        if quanta > old.quanta as usize || quanta + 1 < old.quanta as usize {
            let start = self.take_region(quanta);
            let kept = (old.len as usize).min(len);
            self.elements.copy_within(old.start as usize..old.start as usize + kept, start as usize);
            if old.quanta > 0 {
                self.free[old.quanta as usize].push(old.start);
                self.unused += old.quanta as usize * self.quantum;
            }
            self.regions[k] = Region { start, len: kept as u32, quanta: quanta as u32 };
        }
        let r = &mut self.regions[k];
        let start = r.start as usize;
        if len > r.len as usize {
            self.elements[start + r.len as usize..start + len].fill(T::default());
        }
        r.len = len as u32;
        if self.unused > self.elements.len() / 10 {
            self.pack();
        }
    }

    /// Moves every array to the front of a new allocation, in order, each in the room it needs.
    fn pack(&mut self) {
        let quantum = self.quantum;
        let quanta = |r: &Region| (r.len as usize).div_ceil(quantum).max(1);
        let mut elements = Vec::with_capacity(self.regions.iter().map(|r| quanta(r) * quantum).sum());
        for r in self.regions.iter_mut() {
            let start = elements.len();
            elements.extend_from_slice(&self.elements[r.start as usize..][..r.len as usize]);
            elements.resize(start + quanta(r) * quantum, T::default());
            (r.start, r.quanta) = (start as u32, quanta(r) as u32);
        }
        self.elements = elements;
        self.free.iter_mut().for_each(Vec::clear);
        self.unused = 0;
    }

    /// The start of an unused region of `quanta` quanta, reused if one is free.
    fn take_region(&mut self, quanta: usize) -> u32 {
        if self.free.len() <= quanta {
            self.free.resize(quanta + 1, Vec::new());
        }
        if let Some(start) = self.free[quanta].pop() {
            self.unused -= quanta * self.quantum;
            return start;
        }
        let start = self.elements.len();
        let size = quanta * self.quantum;
        if self.elements.capacity() - start < size {
            // A 32nd at a time: the room held in advance is part of every model's memory.
            self.elements.reserve_exact(size.max(start / 32));
        }
        self.elements.resize(start + size, T::default());
        start as u32
    }

    /// Approximate heap bytes held (capacities).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.regions.capacity() * std::mem::size_of::<Region>()
            + self.elements.capacity() * std::mem::size_of::<T>()
            + self.free.iter().map(|f| f.capacity() * 4 + std::mem::size_of::<Vec<u32>>()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The allocation holds the regions in use and the free ones, and stays packed enough.
    fn check_accounting<T: Copy + Default>(r: &Regions<T>) {
        let room: usize = r.regions.iter().map(|g| g.quanta as usize * r.quantum).sum();
        assert_eq!(r.elements.len(), room + r.unused);
        assert!(r.unused <= r.elements.len() / 10);
        assert!(r.regions.iter().all(|g| g.len <= g.quanta * r.quantum as u32));
    }

    #[test]
    fn arrays_keep_their_elements_as_regions_move() {
        let mut r: Regions<u32> = Regions::new(16);
        let mut expected: Vec<Vec<u32>> = Vec::new();
        let mut rng = 7u32;
        for step in 0..20_000u32 {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            if expected.len() < 40 && rng.is_multiple_of(50) || expected.is_empty() {
                assert_eq!(r.add(), expected.len());
                expected.push(Vec::new());
            }
            let k = (rng >> 8) as usize % expected.len();
            let len = expected[k].len();
            // Mostly growth by one (forward lists, nonzero permanences), sometimes a cut.
            let new_len = if rng.is_multiple_of(7) { len / 2 } else { len + 1 };
            r.resize(k, new_len);
            expected[k].resize(new_len, 0);
            if new_len > len {
                r.get_mut(k)[len] = step;
                expected[k][len] = step;
            }
            check_accounting(&r);
        }
        assert_eq!(r.count(), expected.len());
        for (k, e) in expected.iter().enumerate() {
            assert_eq!(r.get(k), &e[..], "array {k}");
        }
    }

    #[test]
    fn a_freed_region_serves_the_next_array_of_its_size() {
        let mut r: Regions<u8> = Regions::new(4);
        for k in 0..20 {
            assert_eq!(r.add(), k);
            r.resize(k, 40);
        }
        r.resize(0, 44); // array 0 moves to 11 quanta; its 10-quanta region is free (under a tenth of all)
        let held = r.elements.len();
        let c = r.add();
        r.resize(c, 37);
        assert_eq!(r.elements.len(), held, "the new array took array 0's old region");
        r.resize(0, 3); // far smaller: array 0 moves to 1 quantum
        assert_eq!(r.get(0).len(), 3);
        check_accounting(&r);
    }
}
