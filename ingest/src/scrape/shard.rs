//! Splitting targets between scraper replicas without coordination: `tianshu scrape
//! --shard i/N` scrapes the targets whose hash is `i` modulo `N`. Every replica reads the
//! same configuration and discovers the same targets, so each target has exactly one
//! owner; a replica that dies is replaced by starting another with the same `i/N` (and,
//! to keep what it had queued, the same queue directory).
//!
//! The hash is the target's identity ([`super::target::TargetSpec::hash`]: its labels
//! after relabelling and its URL), mixed so that its low bits spread evenly.

use std::fmt;
use std::str::FromStr;

/// This replica's share of the targets. Invariant: `index < count`, `count >= 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Every target: a single scraper.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shards (0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether this replica scrapes the target with identity `target_hash`.
    pub fn owns(&self, target_hash: u64) -> bool {
        self.count == 1 || mix(target_hash) % self.count == self.index
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `i/N`, e.g. `0/3`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid shard {s:?}: want INDEX/COUNT, e.g. 0/3"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("invalid shard {s:?}: want INDEX/COUNT, e.g. 0/3"))
        };
        Shard::new(parse(i)?, parse(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// SplitMix64's finaliser: FNV-1a's low bits follow the input's last bytes closely
/// (targets differing only in a port number), which a plain modulo would inherit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_what_cannot_be() {
        assert_eq!("1/3".parse::<Shard>(), Shard::new(1, 3));
        assert_eq!("0/1".parse::<Shard>(), Ok(Shard::ALL));
        assert!("3/3".parse::<Shard>().unwrap_err().contains("out of range"));
        assert!("0/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("a/2".parse::<Shard>().is_err());
        assert_eq!(Shard::new(2, 5).unwrap().to_string(), "2/5");
    }

    #[test]
    fn every_target_has_exactly_one_owner_and_owners_share_evenly() {
        let n = 4;
        let shards: Vec<Shard> = (0..n).map(|i| Shard::new(i, n).unwrap()).collect();
        let mut per_shard = vec![0u32; n as usize];
        // Hashes that differ only in their last bits, like targets differing by port.
        for h in 0..4000u64 {
            let owners: Vec<usize> = (0..n as usize).filter(|&i| shards[i].owns(h)).collect();
            assert_eq!(owners.len(), 1, "hash {h} owned by {owners:?}");
            per_shard[owners[0]] += 1;
        }
        for c in per_shard {
            assert!((800..1200).contains(&c), "uneven split: {c} of 4000");
        }
        assert!((0..100).all(|h| Shard::ALL.owns(h)));
    }
}
