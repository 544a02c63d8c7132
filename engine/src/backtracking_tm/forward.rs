//! Forward lists of the backtracking TM: for every source cell, the segments holding a synapse
//! from it. The lists of all cells of a column share one array, grouped by cell, so a bursting
//! column is read as one contiguous run; the array starts with each cell's group end, so the
//! per-cell overhead is a single offset, and only columns that feed a segment hold an array (a
//! young model's few hundred of 2048): the others cost a 16-bit array number. Segment ids
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
    /// The column's array in `ForwardLists::arrays`.
    array: u32,
    start: u32,
    end: u32,
}

impl ListRange {
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    #[inline]
    pub fn get<'a, T: SegmentId>(&self, lists: &'a ForwardLists<T>) -> &'a [T] {
        &lists.arrays[self.array as usize][self.start as usize..self.end as usize]
    }
}

#[derive(Clone, Debug)]
pub(super) struct ForwardLists<T> {
    cells_per_column: u32,
    /// Per column, its array in `arrays`, or 0 (an array that stays empty) until a cell of the
    /// column first feeds a segment.
    array_of: Vec<u16>,
    /// The columns' arrays: a head of one entry per cell, the end of the cell's group in this array
    /// (the group starts where the previous cell's ends, or right after the head for the column's
    /// first cell), followed by the segment ids, grouped by source cell in cell order (unordered
    /// within a group).
    arrays: Vec<Vec<T>>,
}

impl<T: SegmentId> ForwardLists<T> {
    /// Columns are numbered by 16 bits (a TM has at most MAX_CELLS cells, at least 2 a column).
    pub fn new(n_columns: usize, cells_per_column: u32) -> Self {
        debug_assert!(n_columns < u16::MAX as usize);
        ForwardLists { cells_per_column, array_of: vec![0; n_columns], arrays: vec![Vec::new()] }
    }

    /// The array of `column` (empty if it has none).
    #[inline]
    fn column(&self, column: usize) -> &Vec<T> {
        &self.arrays[self.array_of[column] as usize]
    }

    /// The same lists with segment ids of another type (which must hold them).
    fn convert<U: SegmentId>(&self) -> ForwardLists<U> {
        let arrays = self.arrays.iter().map(|a| a.iter().map(|&x| U::from_u32(x.index() as u32)).collect()).collect();
        ForwardLists { cells_per_column: self.cells_per_column, array_of: self.array_of.clone(), arrays }
    }

    /// Builds the lists from scratch; `for_each_edge` must report every (source cell, segment)
    /// pair, the same way, each time it is called (it is called twice).
    pub fn build(n_columns: usize, cells_per_column: u32, for_each_edge: impl Fn(&mut dyn FnMut(u32, u32))) -> Self {
        let cpc = cells_per_column as usize;
        let mut next = vec![0u32; n_columns * cpc];
        for_each_edge(&mut |src, _| next[src as usize] += 1);
        let mut lists = ForwardLists::new(n_columns, cells_per_column);
        for col in 0..n_columns {
            let cells = col * cpc..(col + 1) * cpc;
            if next[cells.clone()].iter().all(|&n| n == 0) {
                continue;
            }
            let mut list = Vec::new();
            let mut end = cpc as u32;
            for cell in cells {
                let count = next[cell];
                next[cell] = end;
                end += count;
                list.push(T::from_u32(end));
            }
            list.resize(end as usize, T::from_u32(0));
            lists.array_of[col] = lists.arrays.len() as u16;
            lists.arrays.push(list);
        }
        for_each_edge(&mut |src, seg| {
            let slot = &mut next[src as usize];
            let array = lists.array_of[src as usize / cpc] as usize;
            lists.arrays[array][*slot as usize] = T::from_u32(seg);
            *slot += 1;
        });
        lists
    }

    /// The range of `cell`'s group in its column's array (empty for a column without a head).
    #[inline]
    fn group(&self, cell: u32) -> ListRange {
        let (column, k) = (cell / self.cells_per_column, (cell % self.cells_per_column) as usize);
        let array = self.array_of[column as usize] as u32;
        let list = &self.arrays[array as usize];
        if list.is_empty() {
            return ListRange { array, start: 0, end: 0 };
        }
        let start = if k == 0 { self.cells_per_column } else { list[k - 1].index() as u32 };
        ListRange { array, start, end: list[k].index() as u32 }
    }

    /// The segments fed by `cell`.
    #[cfg(test)]
    pub fn of(&self, cell: u32) -> &[T] {
        self.group(cell).get(self)
    }

    /// The list ranges of the sorted `cells`, whole columns merged into one range.
    pub fn lists_of(&self, cells: &[u32], out: &mut Vec<ListRange>) {
        out.clear();
        let cpc = self.cells_per_column as usize;
        let mut i = 0;
        while i < cells.len() {
            let cell = cells[i];
            let column = cell / self.cells_per_column;
            if cell.is_multiple_of(self.cells_per_column)
                && i + cpc <= cells.len()
                && cells[i + cpc - 1] == cell + cpc as u32 - 1
            {
                let array = self.array_of[column as usize] as u32;
                if let Some(&end) = self.arrays[array as usize].get(cpc - 1) {
                    out.push(ListRange { array, start: cpc as u32, end: end.index() as u32 });
                }
                i += cpc;
            } else {
                out.push(self.group(cell));
                i += 1;
            }
        }
    }

    /// Records that segment `seg` has a synapse from `cell`.
    pub fn add(&mut self, cell: u32, seg: T) {
        let cpc = self.cells_per_column as usize;
        let k = cell as usize % cpc;
        let column = cell as usize / cpc;
        if self.array_of[column] == 0 {
            self.array_of[column] = self.arrays.len() as u16;
            self.arrays.push(Vec::new());
        }
        let list = &mut self.arrays[self.array_of[column] as usize];
        if list.is_empty() {
            list.reserve_exact(cpc + 4);
            list.resize(cpc, T::from_u32(cpc as u32));
        }
        if list.len() == list.capacity() {
            list.reserve_exact((list.len() / 64).max(2));
        }
        list.push(seg);
        // The free slot travels from the column's end down to the end of `cell`'s group: each
        // later group gives its first element to the slot after its end.
        let mut hole = list.len() - 1;
        for g in (k + 1..cpc).rev() {
            let start = list[g - 1].index();
            list[hole] = list[start];
            list[g] = list[g].next();
            hole = start;
        }
        list[hole] = seg;
        list[k] = list[k].next();
    }

    /// Removes one record of segment `seg` from `cell`'s list (none if absent).
    pub fn remove(&mut self, cell: u32, seg: T) {
        let cpc = self.cells_per_column as usize;
        let k = cell as usize % cpc;
        let ListRange { start, end, .. } = self.group(cell);
        let (start, end) = (start as usize, end as usize);
        // A column without an array has the empty array 0 and an empty range: nothing is changed.
        let list = &mut self.arrays[self.array_of[cell as usize / cpc] as usize];
        let Some(pos) = list[start..end].iter().position(|&s| s == seg) else {
            return;
        };
        // Fill the gap with the group's last element, then let each later group move its last
        // element into the gap before it.
        list[start + pos] = list[end - 1];
        list[k] = list[k].previous();
        let mut hole = end - 1;
        for g in k + 1..cpc {
            let last = list[g].index() - 1;
            list[hole] = list[last];
            list[g] = list[g].previous();
            hole = last;
        }
        list.truncate(hole);
        if list.capacity() > list.len() + list.len() / 32 + 8 {
            // Give back the room of a column that has shrunk (segments and synapses come and go).
            list.shrink_to(list.len() + list.len() / 64 + 2);
        }
    }

    pub fn cells_per_column(&self) -> u32 {
        self.cells_per_column
    }

    /// Length of the longest column array.
    fn longest(&self) -> usize {
        self.arrays.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.array_of.capacity() * 2
            + self.arrays.capacity() * size_of::<Vec<T>>()
            + self.arrays.iter().map(|c| c.capacity() * size_of::<T>()).sum::<usize>()
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
        if n_segments <= Self::NARROW_MAX as usize + 1 && wide.longest() <= Self::NARROW_MAX as usize {
            Forward::Narrow(wide.convert())
        } else {
            Forward::Wide(wide)
        }
    }

    /// Records that segment `seg` has a synapse from `cell`, widening the lists first if needed.
    pub fn add(&mut self, cell: u32, seg: u32) {
        let full =
            |f: &ForwardLists<u16>| f.column((cell / f.cells_per_column) as usize).len() >= Self::NARROW_MAX as usize;
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
            *self = Forward::Wide(f.convert());
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
        // Column 1's array: a head of 4 group ends, then its entries; 65,535 in all still fits u16.
        let fitting = u16::MAX as u32 - 4;
        let mut f = Forward::new(2, 4);
        for seg in 0..fitting {
            f.add(5 + seg % 2, seg);
        }
        f.add(0, 3);
        assert!(matches!(f, Forward::Narrow(_)), "column 1's array holds 65,535 values, column 0's five");
        f.add(7, 9);
        let Forward::Wide(w) = &f else { panic!("a 65,536-value array needs u32 offsets") };
        assert_eq!(w.of(5).len() + w.of(6).len(), fitting as usize);
        assert_eq!((w.of(7), w.of(0)), (&[9u32][..], &[3u32][..]));
        let rebuilt = Forward::build(2, 4, 65_536, |visit| (0..fitting + 1).for_each(|s| visit(5, s)));
        assert!(matches!(rebuilt, Forward::Wide(_)), "a built array of 65,536 values is wide too");
        let rebuilt = Forward::build(2, 4, 65_536, |visit| (0..fitting).for_each(|s| visit(5, s)));
        assert!(matches!(rebuilt, Forward::Narrow(_)));
    }

    /// Bytes held by the arrays' entries (heads included).
    fn entry_bytes(f: &ForwardLists<u16>) -> usize {
        f.arrays.iter().map(|a| a.capacity() * 2).sum()
    }

    #[test]
    fn a_column_that_shrinks_gives_back_its_room() {
        let mut f: ForwardLists<u16> = ForwardLists::new(2, 4);
        for seg in 0..2000 {
            f.add(seg as u32 % 4, seg);
        }
        let grown = entry_bytes(&f);
        assert!(grown <= (4 + 2000 + 2000 / 64 + 2) * 2, "{grown} bytes held for 2,000 entries");
        for seg in 0..1800 {
            f.remove(seg as u32 % 4, seg);
        }
        let kept = entry_bytes(&f);
        assert!(kept <= (4 + 200 + 200 / 32 + 8) * 2, "{kept} bytes held for 200 entries");
        assert_eq!(sorted(f.of(1)), (1800..2000).filter(|s| s % 4 == 1).collect::<Vec<_>>());
    }

    #[test]
    fn columns_that_feed_nothing_hold_nothing() {
        let mut f: ForwardLists<u16> = ForwardLists::new(1000, 32);
        assert_eq!(f.memory_bytes(), 1000 * 2 + std::mem::size_of::<Vec<u16>>(), "an array number a column");
        f.add(40, 1);
        f.add(41, 2);
        assert_eq!(entry_bytes(&f), (32 + 4) * 2, "one column's head and room for 4 entries");
        assert_eq!(f.arrays.len(), 2, "column 1's array beside the empty one");
        f.remove(40, 1);
        f.remove(41, 2);
        f.remove(100, 3);
        let mut ranges = Vec::new();
        f.lists_of(&(0..64).collect::<Vec<_>>(), &mut ranges);
        assert!(ranges.iter().all(|r| r.get(&f).is_empty()) && ranges.len() == 1, "only column 1 has a head");
        assert_eq!(f.arrays.len(), 2);
    }
}
