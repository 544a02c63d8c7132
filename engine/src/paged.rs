//! `Paged`: a long array of small values that is mostly zero while a model is young (one value per
//! cell of the TM, say), held in pages of `PAGE` values that are allocated when one of their values
//! is first set. Reads of unallocated pages give zero.

/// Values per page (one column of NAB's TM).
const PAGE: usize = 32;

#[derive(Clone, Debug, Default)]
pub(crate) struct Paged<T> {
    /// Per page: 1 + its position in `slab` (in pages), 0 = not allocated.
    pages: Vec<u32>,
    slab: Vec<T>,
    /// The array's length: as created, or 1 + the highest index set, whichever is larger.
    len: usize,
}

impl<T: Copy + Default> Paged<T> {
    /// An array of `len` zeros.
    pub fn with_len(len: usize) -> Self {
        Paged { pages: Vec::new(), slab: Vec::new(), len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn get(&self, i: usize) -> T {
        match self.pages.get(i / PAGE) {
            Some(&p) if p > 0 => self.slab[(p as usize - 1) * PAGE + i % PAGE],
            _ => T::default(),
        }
    }

    /// Sets value `i`, growing the array if `i` is past its end.
    pub fn set(&mut self, i: usize, value: T) {
        let page = i / PAGE;
        if page >= self.pages.len() {
            self.pages.resize(page + 1, 0);
        }
        if self.pages[page] == 0 {
            if self.slab.len() == self.slab.capacity() {
                self.slab.reserve_exact(self.slab.len() / 8 + PAGE);
            }
            self.slab.resize(self.slab.len() + PAGE, T::default());
            self.pages[page] = (self.slab.len() / PAGE) as u32;
        }
        self.slab[(self.pages[page] as usize - 1) * PAGE + i % PAGE] = value;
        self.len = self.len.max(i + 1);
    }

    pub fn heap_bytes(&self) -> usize {
        self.pages.capacity() * 4 + self.slab.capacity() * std::mem::size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_pages_of_values_set_are_held() {
        let mut a: Paged<u32> = Paged::with_len(10);
        a.set(65_535, 7);
        a.set(40, 3);
        a.set(33, 1);
        assert_eq!([a.get(65_535), a.get(40), a.get(33), a.get(32), a.get(64), a.get(70_000)], [7, 3, 1, 0, 0, 0]);
        assert_eq!(a.len(), 65_536);
        assert!(a.heap_bytes() < 16 * 1024, "{} bytes for two pages", a.heap_bytes());
        let b: Paged<u8> = Paged::with_len(100);
        assert_eq!((b.len(), b.get(99), b.heap_bytes()), (100, 0, 0));
    }
}
