//! Forward lists of the backtracking TM: for every source cell, the segments holding a synapse
//! from it. The lists of all cells of a column share one array, grouped by cell, so a bursting
//! column is read as one contiguous run and the per-cell overhead is a single offset. Segment ids
//! and offsets are stored as u16 while every id and every column's array length fits
//! (`Forward::Narrow`), as u32 beyond (`Forward::Wide`).

use std::fmt::Debug;

/// The unsigned integer type forward lists store segment ids and group ends in.
pub(super) trait SegmentId: Copy + Debug + PartialEq {
    fn from_u32(id: u32) -> Self;
    fn index(self) -> usize;

    /// `self + 1` (a group end growing).
    #[inline]
    fn next(self) -> Self {
        Self::from_u32(self.index() as u32 + 1)
    }

    /// `self - 1` (a group end shrinking).
    #[inline]
    fn previous(self) -> Self {
        Self::from_u32(self.index() as u32 - 1)
    }
}

impl SegmentId for u16 {
    #[inline]
    fn from_u32(id: u32) -> Self {
        debug_assert!(id <= u16::MAX as u32);
        id as u16
    }

    #[inline]
    fn index(self) -> usize {
        self as usize
    }
}

impl SegmentId for u32 {
    #[inline]
    fn from_u32(id: u32) -> Self {
        id
    }

    #[inline]
    fn index(self) -> usize {
        self as usize
    }
}

/// A run of one column's array: the lists of one cell or of a whole column.
#[derive(Clone, Copy, Debug)]
pub(super) struct ListRange {
    column: u32,
    start: u32,
    end: u32,
}

impl ListRange {
    #[inline]
    pub fn get<'a, T: SegmentId>(&self, lists: &'a ForwardLists<T>) -> &'a [T] {
        &lists.columns[self.column as usize][self.start as usize..self.end as usize]
    }
}

#[derive(Clone, Debug)]
pub(super) struct ForwardLists<T> {
    cells_per_column: u32,
    /// Per column: segment ids, grouped by source cell in cell order (unordered within a group).
    columns: Vec<Vec<T>>,
    /// Per cell: end of its group in its column's array (the group starts where the previous
    /// cell's ends, or at 0 for the column's first cell).
    ends: Vec<T>,
}

impl<T: SegmentId> ForwardLists<T> {
    pub fn new(n_columns: usize, cells_per_column: u32) -> Self {
        ForwardLists {
            cells_per_column,
            columns: vec![Vec::new(); n_columns],
            ends: vec![T::from_u32(0); n_columns * cells_per_column as usize],
        }
    }

    /// Builds the lists from scratch; `for_each_edge` must report every (source cell, segment)
    /// pair, the same way, each time it is called (it is called twice).
    pub fn build(n_columns: usize, cells_per_column: u32, for_each_edge: impl Fn(&mut dyn FnMut(u32, u32))) -> Self {
        let cpc = cells_per_column as usize;
        let mut ends = vec![0u32; n_columns * cpc];
        for_each_edge(&mut |src, _| ends[src as usize] += 1);
        let mut next = vec![0u32; n_columns * cpc];
        let mut columns = Vec::with_capacity(n_columns);
        for col in 0..n_columns {
            let mut end = 0;
            for cell in col * cpc..(col + 1) * cpc {
                next[cell] = end;
                end += ends[cell];
                ends[cell] = end;
            }
            columns.push(vec![T::from_u32(0); end as usize]);
        }
        for_each_edge(&mut |src, seg| {
            let slot = &mut next[src as usize];
            columns[src as usize / cpc][*slot as usize] = T::from_u32(seg);
            *slot += 1;
        });
        ForwardLists { cells_per_column, columns, ends: ends.into_iter().map(T::from_u32).collect() }
    }

    /// The segments fed by `cell`.
    #[cfg(test)]
    pub fn of(&self, cell: u32) -> &[T] {
        let col = cell / self.cells_per_column;
        let start = if cell.is_multiple_of(self.cells_per_column) { 0 } else { self.ends[cell as usize - 1].index() };
        &self.columns[col as usize][start..self.ends[cell as usize].index()]
    }

    /// The list ranges of the sorted `cells`, whole columns merged into one range.
    pub fn lists_of(&self, cells: &[u32], out: &mut Vec<ListRange>) {
        out.clear();
        let cpc = self.cells_per_column as usize;
        let mut i = 0;
        while i < cells.len() {
            let cell = cells[i];
            let col = cell / self.cells_per_column;
            let first = cell.is_multiple_of(self.cells_per_column);
            if first && i + cpc <= cells.len() && cells[i + cpc - 1] == cell + cpc as u32 - 1 {
                let end = self.ends[cell as usize + cpc - 1].index() as u32;
                out.push(ListRange { column: col, start: 0, end });
                i += cpc;
            } else {
                let start = if first { 0 } else { self.ends[cell as usize - 1].index() as u32 };
                out.push(ListRange { column: col, start, end: self.ends[cell as usize].index() as u32 });
                i += 1;
            }
        }
    }

    /// Records that segment `seg` has a synapse from `cell`.
    pub fn add(&mut self, cell: u32, seg: T) {
        let cpc = self.cells_per_column;
        let base = (cell - cell % cpc) as usize;
        let list = &mut self.columns[(cell / cpc) as usize];
        if list.len() == list.capacity() {
            list.reserve_exact((list.len() / 8).max(4));
        }
        list.push(seg);
        // The free slot travels from the column's end down to the end of `cell`'s group: each
        // later group gives its first element to the slot after its end.
        let mut hole = list.len() - 1;
        for g in (cell as usize + 1..base + cpc as usize).rev() {
            let start = self.ends[g - 1].index();
            list[hole] = list[start];
            self.ends[g] = self.ends[g].next();
            hole = start;
        }
        list[hole] = seg;
        self.ends[cell as usize] = self.ends[cell as usize].next();
    }

    /// Removes one record of segment `seg` from `cell`'s list (none if absent).
    pub fn remove(&mut self, cell: u32, seg: T) {
        let cpc = self.cells_per_column;
        let base = (cell - cell % cpc) as usize;
        let start = if cell as usize == base { 0 } else { self.ends[cell as usize - 1].index() };
        let end = self.ends[cell as usize].index();
        let list = &mut self.columns[(cell / cpc) as usize];
        let Some(pos) = list[start..end].iter().position(|&s| s == seg) else {
            return;
        };
        // Fill the gap with the group's last element, then let each later group move its last
        // element into the gap before it.
        list[start + pos] = list[end - 1];
        self.ends[cell as usize] = self.ends[cell as usize].previous();
        let mut hole = end - 1;
        for g in cell as usize + 1..base + cpc as usize {
            let last = self.ends[g].index() - 1;
            list[hole] = list[last];
            self.ends[g] = self.ends[g].previous();
            hole = last;
        }
        list.truncate(hole);
    }

    pub fn cells_per_column(&self) -> u32 {
        self.cells_per_column
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.columns.capacity() * size_of::<Vec<T>>()
            + self.columns.iter().map(|c| c.capacity() * size_of::<T>()).sum::<usize>()
            + self.ends.capacity() * size_of::<T>()
    }
}

/// Forward lists with the narrowest segment-id type that holds every id.
#[derive(Clone, Debug)]
pub(super) enum Forward {
    Narrow(ForwardLists<u16>),
    Wide(ForwardLists<u32>),
}

impl Forward {
    /// Largest segment id, and longest column array, the narrow form holds.
    const NARROW_MAX: u32 = u16::MAX as u32;

    pub fn new(n_columns: usize, cells_per_column: u32) -> Self {
        Forward::Narrow(ForwardLists::new(n_columns, cells_per_column))
    }

    /// Builds lists for segment ids below `n_segments` (see `ForwardLists::build`), narrow if they fit.
    pub fn build(
        n_columns: usize,
        cells_per_column: u32,
        n_segments: usize,
        for_each_edge: impl Fn(&mut dyn FnMut(u32, u32)),
    ) -> Self {
        let wide: ForwardLists<u32> = ForwardLists::build(n_columns, cells_per_column, for_each_edge);
        let longest = wide.columns.iter().map(Vec::len).max().unwrap_or(0);
        if n_segments <= Self::NARROW_MAX as usize + 1 && longest <= Self::NARROW_MAX as usize {
            let narrow = |v: &[u32]| v.iter().map(|&x| x as u16).collect();
            let columns = wide.columns.iter().map(|c| narrow(c)).collect();
            Forward::Narrow(ForwardLists { cells_per_column, columns, ends: narrow(&wide.ends) })
        } else {
            Forward::Wide(wide)
        }
    }

    /// Records that segment `seg` has a synapse from `cell`, widening the lists first if needed.
    pub fn add(&mut self, cell: u32, seg: u32) {
        let full = |f: &ForwardLists<u16>| f.columns[(cell / f.cells_per_column) as usize].len() >= u16::MAX as usize;
        if matches!(self, Forward::Narrow(f) if seg > Self::NARROW_MAX || full(f)) {
            self.widen();
        }
        match self {
            Forward::Narrow(f) => f.add(cell, seg as u16),
            Forward::Wide(f) => f.add(cell, seg),
        }
    }

    /// Removes one record of segment `seg` from `cell`'s list (none if absent).
    pub fn remove(&mut self, cell: u32, seg: u32) {
        match self {
            Forward::Narrow(f) if seg <= Self::NARROW_MAX => f.remove(cell, seg as u16),
            Forward::Narrow(_) => {}
            Forward::Wide(f) => f.remove(cell, seg),
        }
    }

    fn widen(&mut self) {
        if let Forward::Narrow(f) = self {
            let columns = f.columns.iter().map(|c| c.iter().map(|&s| s as u32).collect()).collect();
            let ends = f.ends.iter().map(|&e| e as u32).collect();
            *self = Forward::Wide(ForwardLists { cells_per_column: f.cells_per_column, columns, ends });
        }
    }

    pub fn cells_per_column(&self) -> u32 {
        match self {
            Forward::Narrow(f) => f.cells_per_column(),
            Forward::Wide(f) => f.cells_per_column(),
        }
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Forward::Narrow(f) => f.memory_bytes(),
            Forward::Wide(f) => f.memory_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted<T: SegmentId>(s: &[T]) -> Vec<u32> {
        let mut v: Vec<u32> = s.iter().map(|x| x.index() as u32).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn groups_stay_separate_under_adds_and_removes() {
        let mut f: ForwardLists<u32> = ForwardLists::new(2, 4);
        for (cell, seg) in [(1, 10), (3, 30), (0, 1), (1, 11), (2, 20), (3, 31), (5, 50), (1, 12)] {
            f.add(cell, seg);
        }
        assert_eq!(sorted(f.of(0)), vec![1]);
        assert_eq!(sorted(f.of(1)), vec![10, 11, 12]);
        assert_eq!(sorted(f.of(2)), vec![20]);
        assert_eq!(sorted(f.of(3)), vec![30, 31]);
        assert_eq!(sorted(f.of(5)), vec![50]);
        assert!(f.of(4).is_empty());
        f.remove(1, 11);
        f.remove(0, 1);
        f.remove(3, 99);
        assert!(f.of(0).is_empty());
        assert_eq!(sorted(f.of(1)), vec![10, 12]);
        assert_eq!(sorted(f.of(2)), vec![20]);
        assert_eq!(sorted(f.of(3)), vec![30, 31]);
        f.remove(3, 30);
        f.remove(3, 31);
        f.remove(2, 20);
        f.remove(1, 10);
        f.remove(1, 12);
        assert!((0..4).all(|c| f.of(c).is_empty()));
        assert_eq!(sorted(f.of(5)), vec![50]);
        f.add(4, 40);
        f.add(6, 60);
        f.add(7, 70);
        let mut ranges = Vec::new();
        f.lists_of(&[4, 5, 6, 7], &mut ranges);
        assert_eq!(ranges.len(), 1, "a whole column is one range");
        assert_eq!(sorted(ranges[0].get(&f)), vec![40, 50, 60, 70]);
        f.lists_of(&[1, 5, 7], &mut ranges);
        let got: Vec<Vec<u32>> = ranges.iter().map(|r| sorted(r.get(&f))).collect();
        assert_eq!(got, vec![vec![], vec![50], vec![70]]);
        let edges = [(4u32, 40u32), (5, 50), (6, 60), (7, 70), (2, 7)];
        let rebuilt: ForwardLists<u32> =
            ForwardLists::build(2, 4, |visit| edges.iter().for_each(|&(c, s)| visit(c, s)));
        assert!((0..8).all(|c| sorted(rebuilt.of(c)) == sorted(f.of(c)) || c == 2));
        assert_eq!(rebuilt.of(2), &[7]);
    }

    #[test]
    fn ids_beyond_u16_widen_the_lists() {
        let mut f = Forward::new(2, 4);
        f.add(1, 10);
        f.add(5, 65_535);
        assert!(matches!(f, Forward::Narrow(_)));
        f.add(1, 70_000);
        let Forward::Wide(w) = &f else { panic!("id 70000 needs u32 lists") };
        assert_eq!(sorted(w.of(1)), vec![10, 70_000]);
        assert_eq!(sorted(w.of(5)), vec![65_535]);
        f.remove(1, 10);
        let Forward::Wide(w) = &f else { unreachable!() };
        assert_eq!(sorted(w.of(1)), vec![70_000]);
    }

    #[test]
    fn a_column_array_beyond_u16_offsets_widens_the_lists() {
        let mut f = Forward::new(2, 4);
        for seg in 0..u16::MAX as u32 {
            f.add(5 + seg % 2, seg);
        }
        f.add(0, 3);
        assert!(matches!(f, Forward::Narrow(_)), "column 1 holds 65,535 entries, column 0 one");
        f.add(7, 9);
        let Forward::Wide(w) = &f else { panic!("65,536 entries in column 1 need u32 offsets") };
        assert_eq!(w.of(5).len() + w.of(6).len(), u16::MAX as usize);
        assert_eq!((w.of(7), w.of(0)), (&[9u32][..], &[3u32][..]));
        let rebuilt = Forward::build(2, 4, 65_536, |visit| (0..65_536).for_each(|s| visit(5, s)));
        assert!(matches!(rebuilt, Forward::Wide(_)), "a built array of 65,536 entries is wide too");
    }
}
