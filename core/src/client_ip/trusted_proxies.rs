use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use super::{ConfigError, canonical};

/// The networks whose forwarding headers are believed.
///
/// Parsed from a list of CIDRs or bare addresses separated by commas or white space, as
/// found in a `TRUSTED_PROXIES` environment variable. Empty means no proxy is trusted
/// and the peer address is always the client.
///
/// ```
/// use portcullis_core::client_ip::TrustedProxies;
///
/// let proxies: TrustedProxies = "10.0.0.0/8, 192.0.2.10 2001:db8::/32".parse().unwrap();
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(proxies.contains("192.0.2.10".parse().unwrap()));
/// assert!(!proxies.contains("192.0.2.11".parse().unwrap()));
/// assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Arc<[IpNet]>,
}

impl TrustedProxies {
    /// Trust no proxy: the peer is always the client.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trust these networks.
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            networks: networks.into_iter().map(|net| net.trunc()).collect(),
        }
    }

    /// Trust loopback only (`127.0.0.0/8`, `::1`): a proxy on the same host.
    pub fn loopback() -> Self {
        Self::new(["127.0.0.0/8", "::1/128"].map(|net| net.parse().expect("valid literal")))
    }

    /// Trust loopback and private networks (RFC 1918, RFC 4193 unique-local,
    /// link-local): a load balancer inside your own network. Only right when no
    /// untrusted host can reach the service from those ranges.
    pub fn private_networks() -> Self {
        Self::new(
            [
                "127.0.0.0/8",
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "169.254.0.0/16",
                "::1/128",
                "fc00::/7",
                "fe80::/10",
            ]
            .map(|net| net.parse().expect("valid literal")),
        )
    }

    /// Parses a comma- or space-separated list of CIDRs and addresses.
    pub fn parse(list: &str) -> Result<Self, ConfigError> {
        list.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|entry| !entry.is_empty())
            .map(parse_network)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// Whether `ip` lies in a trusted network (IPv4-mapped IPv6 counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[IpNet] {
        &self.networks
    }
}

fn parse_network(entry: &str) -> Result<IpNet, ConfigError> {
    entry
        .parse::<IpNet>()
        .or_else(|error| entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| error))
        .map(|net| match net.addr() {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && net.prefix_len() >= 96 => {
                IpNet::new(canonical(net.addr()), net.prefix_len() - 96).unwrap_or(net)
            }
            _ => net,
        })
        .map_err(|source| ConfigError::InvalidCidr {
            value: entry.to_owned(),
            source,
        })
}

impl FromStr for TrustedProxies {
    type Err = ConfigError;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        Self::parse(list)
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.networks.iter()).finish()
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    /// Accepts a string list (`"10.0.0.0/8, ::1"`) or an array of strings.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            List(String),
            Array(Vec<String>),
        }
        let joined = match Form::deserialize(deserializer)? {
            Form::List(list) => list,
            Form::Array(entries) => entries.join(","),
        };
        Self::parse(&joined).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_addresses_are_single_host_networks() {
        let proxies = TrustedProxies::parse("192.0.2.1 ::1").unwrap();
        assert!(proxies.contains("192.0.2.1".parse().unwrap()));
        assert!(!proxies.contains("192.0.2.2".parse().unwrap()));
        assert!(proxies.contains("::1".parse().unwrap()));
    }

    #[test]
    fn mapped_ipv6_peers_match_ipv4_networks() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        assert!(proxies.contains("::ffff:10.9.8.7".parse().unwrap()));
        let mapped = TrustedProxies::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains("10.3.2.1".parse().unwrap()));
    }

    #[test]
    fn host_bits_are_truncated() {
        let proxies = TrustedProxies::parse("10.1.2.3/8").unwrap();
        assert_eq!(proxies.networks()[0].to_string(), "10.0.0.0/8");
    }

    #[test]
    fn errors_name_the_bad_entry() {
        let error = TrustedProxies::parse("10.0.0.0/8,not-an-ip").unwrap_err();
        assert!(error.to_string().contains("`not-an-ip`"), "{error}");
    }

    #[test]
    fn empty_list_trusts_nobody() {
        let proxies = TrustedProxies::parse(" , ").unwrap();
        assert!(proxies.is_empty());
        assert!(!proxies.contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn deserializes_from_string_or_array() {
        let from_string: TrustedProxies = serde_json::from_str(r#""10.0.0.0/8, ::1""#).unwrap();
        let from_array: TrustedProxies = serde_json::from_str(r#"["10.0.0.0/8", "::1"]"#).unwrap();
        assert_eq!(from_string, from_array);
        assert!(serde_json::from_str::<TrustedProxies>(r#""nope""#).is_err());
    }
}
