//! Drawing an index by relative weight, for the generators of the population and the events.

/// Cumulative weight table for drawing an index with a uniform random number.
#[derive(Debug)]
pub(crate) struct WeightedIndex {
    cumulative: Vec<u32>,
}

impl WeightedIndex {
    /// Builds the table from weights; at least one weight must be positive.
    pub fn new(weights: impl IntoIterator<Item = u32>) -> Self {
        let mut sum = 0u32;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                sum += w;
                sum
            })
            .collect();
        Self { cumulative }
    }

    /// Draws an index.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return 0;
        }
        let x = rng.u32(0..total);
        self.cumulative.partition_point(|&c| c <= x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_index_respects_weights() {
        let table = WeightedIndex::new([0, 3, 1]);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut counts = [0usize; 3];
        for _ in 0..4000 {
            counts[table.draw(&mut rng)] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > counts[2] * 2, "{counts:?}");
    }
}
