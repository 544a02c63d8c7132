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

/// Blocks per chunk of a `BlockPool` (a power of two): small, as a TM holds a pool per block size.
const BLOCKS_PER_CHUNK: usize = 32;
const BLOCK_SHIFT: u32 = BLOCKS_PER_CHUNK.trailing_zeros();

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

    /// Makes blocks 0..n available (new ones filled with the default value).
    pub fn ensure(&mut self, n: usize) {
        while self.chunks.len() * BLOCKS_PER_CHUNK < n {
            self.chunks.push(vec![T::default(); BLOCKS_PER_CHUNK * self.block].into_boxed_slice());
        }
    }

    /// Frees the chunks past those holding blocks 0..n but one, kept spare so that a pool hovering at
    /// a chunk boundary does not allocate and free a chunk on every step.
    pub fn shrink(&mut self, n: usize) {
        self.chunks.truncate(n.div_ceil(BLOCKS_PER_CHUNK) + 1);
    }

    /// Copies block `from` over block `to`.
    pub fn copy_block(&mut self, from: usize, to: usize) {
        let size = self.block;
        let (from_chunk, from_start) = (from >> BLOCK_SHIFT, (from & (BLOCKS_PER_CHUNK - 1)) * size);
        let (to_chunk, to_start) = (to >> BLOCK_SHIFT, (to & (BLOCKS_PER_CHUNK - 1)) * size);
        let (source, target) = match from_chunk.cmp(&to_chunk) {
            std::cmp::Ordering::Equal => {
                self.chunks[to_chunk].copy_within(from_start..from_start + size, to_start);
                return;
            }
            std::cmp::Ordering::Less => {
                let (low, high) = self.chunks.split_at_mut(to_chunk);
                (&low[from_chunk], &mut high[0])
            }
            std::cmp::Ordering::Greater => {
                let (low, high) = self.chunks.split_at_mut(from_chunk);
                (&high[0], &mut low[to_chunk])
            }
        };
        target[to_start..to_start + size].copy_from_slice(&source[from_start..from_start + size]);
    }

    #[inline]
    pub fn get(&self, i: usize) -> &[T] {
        let start = (i & (BLOCKS_PER_CHUNK - 1)) * self.block;
        &self.chunks[i >> BLOCK_SHIFT][start..start + self.block]
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut [T] {
        let start = (i & (BLOCKS_PER_CHUNK - 1)) * self.block;
        &mut self.chunks[i >> BLOCK_SHIFT][start..start + self.block]
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.chunks.len() * BLOCKS_PER_CHUNK * self.block * std::mem::size_of::<T>()
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
        p.ensure(BLOCKS_PER_CHUNK + 1);
        p.get_mut(BLOCKS_PER_CHUNK).copy_from_slice(&[1, 2, 3]);
        p.get_mut(BLOCKS_PER_CHUNK - 1)[2] = 9;
        let at = p.get(BLOCKS_PER_CHUNK).as_ptr();
        p.ensure(5 * BLOCKS_PER_CHUNK);
        assert_eq!(p.get(BLOCKS_PER_CHUNK), &[1, 2, 3]);
        assert_eq!(p.get(BLOCKS_PER_CHUNK).as_ptr(), at);
        assert_eq!(p.get(BLOCKS_PER_CHUNK - 1), &[0, 0, 9]);
        p.copy_block(BLOCKS_PER_CHUNK, 1);
        p.copy_block(BLOCKS_PER_CHUNK - 1, 3 * BLOCKS_PER_CHUNK);
        p.copy_block(1, 2);
        assert_eq!([p.get(1), p.get(2), p.get(3 * BLOCKS_PER_CHUNK)], [&[1, 2, 3], &[1, 2, 3], &[0, 0, 9]]);
        let held = p.memory_bytes();
        p.shrink(BLOCKS_PER_CHUNK + 1);
        assert_eq!(p.memory_bytes(), held - 2 * BLOCKS_PER_CHUNK * 3 * 2, "two of five chunks freed, one kept spare");
        assert_eq!(p.get(BLOCKS_PER_CHUNK), &[1, 2, 3]);
    }
}
