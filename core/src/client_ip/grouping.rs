use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Deserialize;

use super::{ConfigError, canonical};

/// Folds addresses to their network prefix, so all addresses of one subscriber count
/// as one.
///
/// An IPv6 subscriber is usually handed a `/48`–`/64` and can rotate through billions of
/// addresses in it; keying on the full address would let it walk around a limit. The
/// default keeps IPv4 addresses whole and groups IPv6 to `/56`.
///
/// ```
/// use portcullis_core::client_ip::IpGrouping;
///
/// let grouping = IpGrouping::default();
/// assert_eq!(grouping.group("2001:db8:aa:bb12::1".parse().unwrap()).to_string(), "2001:db8:aa:bb00::");
/// assert_eq!(grouping.group("203.0.113.9".parse().unwrap()).to_string(), "203.0.113.9");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "GroupingConfig")]
pub struct IpGrouping {
    ipv4_prefix: u8,
    ipv6_prefix: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupingConfig {
    #[serde(default = "default_ipv4_prefix")]
    ipv4_prefix: u8,
    #[serde(default = "default_ipv6_prefix")]
    ipv6_prefix: u8,
}

fn default_ipv4_prefix() -> u8 {
    32
}

fn default_ipv6_prefix() -> u8 {
    56
}

impl TryFrom<GroupingConfig> for IpGrouping {
    type Error = ConfigError;

    fn try_from(config: GroupingConfig) -> Result<Self, Self::Error> {
        Self::new(config.ipv4_prefix, config.ipv6_prefix)
    }
}

impl Default for IpGrouping {
    fn default() -> Self {
        Self {
            ipv4_prefix: default_ipv4_prefix(),
            ipv6_prefix: default_ipv6_prefix(),
        }
    }
}

impl IpGrouping {
    /// Groups IPv4 to `ipv4_prefix` bits (≤ 32) and IPv6 to `ipv6_prefix` bits (≤ 128).
    ///
    /// ```
    /// use portcullis_core::client_ip::IpGrouping;
    /// assert!(IpGrouping::new(24, 64).is_ok());
    /// assert!(IpGrouping::new(33, 64).is_err());
    /// ```
    pub fn new(ipv4_prefix: u8, ipv6_prefix: u8) -> Result<Self, ConfigError> {
        if ipv4_prefix > 32 {
            return Err(ConfigError::PrefixTooLong {
                family: "IPv4",
                prefix: ipv4_prefix,
                max: 32,
            });
        }
        if ipv6_prefix > 128 {
            return Err(ConfigError::PrefixTooLong {
                family: "IPv6",
                prefix: ipv6_prefix,
                max: 128,
            });
        }
        Ok(Self {
            ipv4_prefix,
            ipv6_prefix,
        })
    }

    /// Every address as itself.
    pub fn none() -> Self {
        Self {
            ipv4_prefix: 32,
            ipv6_prefix: 128,
        }
    }

    /// The IPv6 prefix length.
    pub fn ipv6_prefix(&self) -> u8 {
        self.ipv6_prefix
    }

    /// The IPv4 prefix length.
    pub fn ipv4_prefix(&self) -> u8 {
        self.ipv4_prefix
    }

    /// The network address `ip` belongs to (IPv4-mapped IPv6 is treated as IPv4).
    pub fn group(&self, ip: IpAddr) -> IpAddr {
        match canonical(ip) {
            IpAddr::V4(v4) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.ipv4_prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_in_one_slash56_share_a_group() {
        let grouping = IpGrouping::default();
        assert_eq!(
            grouping.group(ip("2001:db8:0:1ff::1")),
            grouping.group(ip("2001:db8:0:100:ffff::9"))
        );
        assert_ne!(
            grouping.group(ip("2001:db8:0:1ff::1")),
            grouping.group(ip("2001:db8:0:200::1"))
        );
    }

    #[test]
    fn zero_and_full_prefixes() {
        let all = IpGrouping::new(0, 0).unwrap();
        assert_eq!(all.group(ip("203.0.113.9")), ip("0.0.0.0"));
        assert_eq!(all.group(ip("2001:db8::1")), ip("::"));
        let none = IpGrouping::none();
        assert_eq!(none.group(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn ipv4_prefix_applies_to_mapped_addresses() {
        let grouping = IpGrouping::new(24, 56).unwrap();
        assert_eq!(grouping.group(ip("::ffff:203.0.113.9")), ip("203.0.113.0"));
    }

    #[test]
    fn deserializes_with_defaults_and_validation() {
        let grouping: IpGrouping = serde_json::from_str(r#"{"ipv6_prefix": 64}"#).unwrap();
        assert_eq!((grouping.ipv4_prefix(), grouping.ipv6_prefix()), (32, 64));
        assert!(serde_json::from_str::<IpGrouping>(r#"{"ipv6_prefix": 129}"#).is_err());
    }
}
