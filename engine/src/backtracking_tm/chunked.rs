//! Growable storage in fixed-size chunks: an array (`Chunked`) and an array of equal-sized blocks
//! (`BlockPool`). Growing never moves or frees existing storage, so long-lived, steadily growing
//! tables leave no trail of freed copies in the heap (which a contiguous vector growing by small
//! steps would, inflating the process's resident memory).

use std::ops::{Index, IndexMut};

/// Elements per chunk (a power of two).
const CHUNK: usize = 512;
const SHIFT: u32 = CHUNK.trailing_zeros();

#[derive(Clone, Debug)]
pub(super) struct Chunked<T> {
    /// Every chunk but the last is full; each has capacity CHUNK.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, x: T) {
        if self.len.is_multiple_of(CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk with room").push(x);
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.chunks.iter_mut().flatten()
    }

    /// Heap bytes of the element storage.
    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * std::mem::size_of::<T>() + self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut c = Chunked::default();
        for x in iter {
            c.push(x);
        }
        c
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        assert!(i < self.len, "index {i} out of range for {} elements", self.len);
        // SAFETY: i < len, and chunk i >> SHIFT holds elements up to len.
        unsafe { self.chunks.get_unchecked(i >> SHIFT).get_unchecked(i & (CHUNK - 1)) }
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len, "index {i} out of range for {} elements", self.len);
        // SAFETY: as in `index`.
        unsafe { self.chunks.get_unchecked_mut(i >> SHIFT).get_unchecked_mut(i & (CHUNK - 1)) }
    }
}

/// Blocks of `block` elements, block `i` at a fixed place once allocated.
#[derive(Clone, Debug)]
pub(super) struct BlockPool<T> {
    chunks: Vec<Box<[T]>>,
    block: usize,
}

impl<T: Copy + Default> BlockPool<T> {
    pub fn new(block: usize) -> Self {
        BlockPool { chunks: Vec::new(), block }
    }

    /// Elements per block.
    #[inline]
    pub fn block(&self) -> usize {
        self.block
    }

    /// Makes blocks 0..n available (new ones filled with the default value).
    pub fn ensure(&mut self, n: usize) {
        while self.chunks.len() * CHUNK < n {
            self.chunks.push(vec![T::default(); CHUNK * self.block].into_boxed_slice());
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[T] {
        let start = (i & (CHUNK - 1)) * self.block;
        &self.chunks[i >> SHIFT][start..start + self.block]
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut [T] {
        let start = (i & (CHUNK - 1)) * self.block;
        &mut self.chunks[i >> SHIFT][start..start + self.block]
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * CHUNK * self.block * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Box<[T]>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_across_chunks_without_moving_elements() {
        let mut c: Chunked<u32> = (0..CHUNK as u32).collect();
        let first = &c[0] as *const u32;
        for i in CHUNK as u32..3 * CHUNK as u32 + 5 {
            c.push(i);
        }
        assert_eq!(&c[0] as *const u32, first, "growth does not move stored elements");
        assert_eq!(c.len(), 3 * CHUNK + 5);
        assert!((0..c.len()).all(|i| c[i] == i as u32));
        c[CHUNK + 1] = 7;
        assert_eq!(c.iter().nth(CHUNK + 1), Some(&7));
        assert_eq!(c.iter_mut().count(), c.len());
    }

    #[test]
    fn blocks_are_separate_and_stay_put() {
        let mut p: BlockPool<u16> = BlockPool::new(3);
        p.ensure(CHUNK + 1);
        p.get_mut(CHUNK).copy_from_slice(&[1, 2, 3]);
        p.get_mut(CHUNK - 1)[2] = 9;
        let at = p.get(CHUNK).as_ptr();
        p.ensure(5 * CHUNK);
        assert_eq!(p.get(CHUNK), &[1, 2, 3]);
        assert_eq!(p.get(CHUNK).as_ptr(), at);
        assert_eq!(p.get(CHUNK - 1), &[0, 0, 9]);
    }
}
