//! Growable storage in fixed-size chunks (`Chunked`). Growing never moves or frees existing storage,
//! so a long-lived, steadily growing table leaves no trail of freed copies in the heap (which a
//! contiguous vector growing by small steps would, inflating the process's resident memory).

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
}
