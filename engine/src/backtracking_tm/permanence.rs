//! Interned synapse permanences. The float32 updates `min(p + inc, max)` and `min(p + -dec, max)`
//! starting from the initial permanence produce few distinct values in practice (23 with NAB's
//! parameters), so a synapse stores a 16-bit index into a table of the values met so far, and
//! learning follows transitions cached per value. Exact: the table holds the very float32 results
//! of the same arithmetic. When the table nears its capacity (possible only with unusual,
//! non-commensurate steps over very long runs), the owner compacts it to the values in use.

use std::collections::HashMap;

/// Transition target meaning "permanence fell to <= 0: delete the synapse".
pub(super) const DELETED: u16 = u16::MAX;
/// Transition not computed yet.
const UNKNOWN: u16 = u16::MAX - 1;
/// Most values a table holds (indexes below the two reserved markers).
pub(super) const CAPACITY: usize = UNKNOWN as usize;

/// The permanences met so far, in order of first appearance, with cached learning transitions.
#[derive(Clone, Debug)]
pub(super) struct PermanenceTable {
    values: Vec<f32>,
    /// Index reached by an increment (capped at the maximum), or UNKNOWN.
    up: Vec<u16>,
    /// Index reached by a decrement, DELETED, or UNKNOWN.
    down: Vec<u16>,
    index: HashMap<u32, u16>,
    /// initial, increment, decrement, max, connected.
    params: [f32; 5],
}

impl PermanenceTable {
    /// A table holding only the initial permanence (index 0).
    pub fn new(params: [f32; 5]) -> Self {
        Self::with_values(params, &[params[0]]).expect("one finite value")
    }

    /// A table holding `values` (index order); the first must be the initial permanence and all
    /// must be distinct and finite.
    pub fn with_values(params: [f32; 5], values: &[f32]) -> Result<Self, String> {
        if values.first().map(|v| v.to_bits()) != Some(params[0].to_bits()) || values.len() > CAPACITY {
            return Err("permanence table must start with the initial permanence".into());
        }
        let mut table =
            PermanenceTable { values: Vec::new(), up: Vec::new(), down: Vec::new(), index: HashMap::new(), params };
        for &v in values {
            if !v.is_finite() || table.index.contains_key(&v.to_bits()) {
                return Err("permanence table values must be finite and distinct".into());
            }
            table.intern(v);
        }
        Ok(table)
    }

    /// The numbers the table's arithmetic uses: initial, increment, decrement, max, connected.
    pub fn params(&self) -> [f32; 5] {
        self.params
    }

    /// The values, by index.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    #[inline]
    pub fn value(&self, i: u16) -> f32 {
        self.values[i as usize]
    }

    /// Index of the initial permanence.
    #[inline]
    pub fn initial(&self) -> u16 {
        0
    }

    /// Whether the permanence at index `i` is >= the connected permanence.
    #[inline]
    pub fn is_connected(&self, i: u16) -> bool {
        self.values[i as usize] >= self.params[4]
    }

    /// Index after an increment (capped at the maximum).
    #[inline]
    pub fn up(&mut self, i: u16) -> u16 {
        let next = self.up[i as usize];
        if next != UNKNOWN {
            return next;
        }
        let next = self.intern((self.values[i as usize] + self.params[1]).min(self.params[3]));
        self.up[i as usize] = next;
        next
    }

    /// Index after a decrement, or DELETED when the permanence falls to <= 0.
    #[inline]
    pub fn down(&mut self, i: u16) -> u16 {
        let next = self.down[i as usize];
        if next != UNKNOWN {
            return next;
        }
        let v = (self.values[i as usize] + -self.params[2]).min(self.params[3]);
        let next = if v <= 0.0 { DELETED } else { self.intern(v) };
        self.down[i as usize] = next;
        next
    }

    fn intern(&mut self, v: f32) -> u16 {
        if let Some(&i) = self.index.get(&v.to_bits()) {
            return i;
        }
        assert!(self.values.len() < CAPACITY, "permanence table overflow (the owner compacts it before)");
        let i = self.values.len() as u16;
        self.values.push(v);
        self.up.push(UNKNOWN);
        self.down.push(UNKNOWN);
        self.index.insert(v.to_bits(), i);
        i
    }

    /// Approximate heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.values.capacity() * 4 + (self.up.capacity() + self.down.capacity()) * 2 + self.index.capacity() * 12
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_float32_arithmetic_exactly() {
        let mut t = PermanenceTable::new([0.21, 0.1, 0.1, 1.0, 0.5]);
        let mut i = t.initial();
        let mut v = 0.21f32;
        for _ in 0..12 {
            i = t.up(i);
            v = (v + 0.1f32).min(1.0);
            assert_eq!(t.value(i).to_bits(), v.to_bits());
        }
        assert_eq!(t.value(i), 1.0);
        loop {
            v = (v + -0.1f32).min(1.0);
            i = t.down(i);
            if v <= 0.0 {
                break;
            }
            assert_eq!(t.value(i).to_bits(), v.to_bits());
            assert_eq!(t.is_connected(i), v >= 0.5);
        }
        assert_eq!(i, DELETED);
        // The walk met 0.21, 0.31, ..., 0.91, 1.0 (9 values) and 0.9, 0.8, ..., 0.1, ~0 (9 more).
        assert_eq!(t.len(), 18);
        let again = PermanenceTable::with_values(t.params(), t.values()).unwrap();
        assert_eq!(again.values(), t.values());
    }

    #[test]
    fn bad_value_lists_are_rejected() {
        let p = [0.21, 0.1, 0.1, 1.0, 0.5];
        assert!(PermanenceTable::with_values(p, &[0.3, 0.21]).is_err(), "initial not first");
        assert!(PermanenceTable::with_values(p, &[0.21, 0.3, 0.3]).is_err(), "duplicate");
        assert!(PermanenceTable::with_values(p, &[0.21, f32::NAN]).is_err(), "NaN");
    }
}
