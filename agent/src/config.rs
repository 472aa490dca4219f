//! The agent's configuration: the same keys on the command line and in a TOML file
//! (`--config FILE`); the command line wins.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use ecrlink_core::session::Dialect;
use serde::Deserialize;

/// Which dialect a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialectChoice {
    /// Always this dialect.
    Fixed(Dialect),
    /// Detect from the till's first byte: ENQ means Concert, STX means ČSOB.
    Auto,
}

impl fmt::Display for DialectChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialectChoice::Fixed(d) => f.write_str(d.name()),
            DialectChoice::Auto => f.write_str("auto"),
        }
    }
}

/// Where a listener listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP address (`127.0.0.1:2000`, `0.0.0.0:0` for any free port).
    Tcp(String),
    /// A serial device and its baud rate (`serial:/dev/ttyUSB0:9600`).
    Serial {
        /// Device path.
        path: String,
        /// Baud rate (8N1).
        baud: u32,
    },
}

/// One `--listen DIALECT@ADDR`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenSpec {
    /// The dialect, or auto-detection.
    pub dialect: DialectChoice,
    /// The address.
    pub endpoint: Endpoint,
}

impl FromStr for ListenSpec {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        let Some((d, addr)) = s.split_once('@') else {
            bail!("--listen takes DIALECT@ADDR (e.g. concert@127.0.0.1:2000), got {s:?}");
        };
        let dialect = match d {
            "auto" => DialectChoice::Auto,
            other => DialectChoice::Fixed(Dialect::from_name(other).with_context(|| {
                format!("unknown dialect {other:?}: use concert, csob, zvt or auto")
            })?),
        };
        let endpoint = if let Some(rest) = addr.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once(':') {
                Some((p, b)) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => {
                    (p.to_string(), b.parse().context("baud rate")?)
                }
                _ => (rest.to_string(), 9600),
            };
            if path.is_empty() {
                bail!("serial listener needs a device: serial:/dev/ttyUSB0:9600");
            }
            Endpoint::Serial { path, baud }
        } else {
            if addr.is_empty() {
                bail!("--listen {s:?}: missing address");
            }
            Endpoint::Tcp(addr.to_string())
        };
        Ok(ListenSpec { dialect, endpoint })
    }
}

impl fmt::Display for ListenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            Endpoint::Tcp(a) => write!(f, "{}@{a}", self.dialect),
            Endpoint::Serial { path, baud } => write!(f, "{}@serial:{path}:{baud}", self.dialect),
        }
    }
}

/// One `--allow` entry: an address block tills may connect from (`127.0.0.1/32`,
/// `10.0.0.0/8`, `::1/128`; a bare address is the single address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowNet {
    /// Network address.
    pub addr: std::net::IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl AllowNet {
    /// Every address, IPv4 and IPv6 (`--allow any`). (`0.0.0.0/0` is every IPv4 address
    /// only; this block is told apart by its address, which no other `/0` block has.)
    pub const ANY: AllowNet = AllowNet {
        addr: std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST),
        prefix: 0,
    };

    /// Whether `ip` lies in this block (an IPv4-mapped IPv6 address counts as IPv4;
    /// [`AllowNet::ANY`] holds every address of both families).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        if *self == AllowNet::ANY {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for AllowNet {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        if s == "any" {
            return Ok(AllowNet::ANY);
        }
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: std::net::IpAddr = a
            .parse()
            .with_context(|| format!("--allow {s:?}: expected e.g. 192.168.1.0/24 or ::1"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|&n| n <= max)
                .with_context(|| format!("--allow {s:?}: prefix must be 0-{max}"))?,
        };
        Ok(AllowNet { addr, prefix })
    }
}

/// The tills admitted when no `--allow` is given: this machine (127.0.0.0/8, ::1) and the
/// networks this machine is directly attached to (its own subnets): IPv4 from the kernel's
/// routing table `/proc/net/route` (routes without a gateway), IPv6 from the addresses in
/// `/proc/net/if_inet6` with their prefix lengths (link-local fe80::/64 included). Everything
/// else is refused; `--allow any` admits every address, said out loud.
pub fn default_allow() -> Vec<AllowNet> {
    let mut nets = vec![
        AllowNet {
            addr: std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 0)),
            prefix: 8,
        },
        AllowNet {
            addr: std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            prefix: 128,
        },
    ];
    if let Ok(table) = std::fs::read_to_string("/proc/net/route") {
        nets.extend(own_subnets(&table));
    }
    if let Ok(table) = std::fs::read_to_string("/proc/net/if_inet6") {
        for net in own_subnets_v6(&table) {
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
    }
    nets
}

/// The IPv6 networks of this machine's addresses in a `/proc/net/if_inet6` table (one line
/// per address: 32 hex digits, interface index, prefix length in hex, scope, flags, name),
/// the loopback address left out.
pub fn own_subnets_v6(table: &str) -> Vec<AllowNet> {
    let mut nets = Vec::new();
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(addr), Some(prefix)) = (f.first(), f.get(2)) else {
            continue;
        };
        let (Ok(bits), Ok(prefix)) = (
            u128::from_str_radix(addr, 16),
            u8::from_str_radix(prefix, 16),
        ) else {
            continue;
        };
        if addr.len() != 32 || prefix == 0 || prefix > 128 {
            continue;
        }
        let ip = std::net::Ipv6Addr::from(bits);
        if ip.is_loopback() {
            continue;
        }
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        let net = AllowNet {
            addr: std::net::IpAddr::V6(std::net::Ipv6Addr::from(bits & mask)),
            prefix,
        };
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    nets
}

/// The directly attached IPv4 networks in a `/proc/net/route` table (little-endian hex
/// fields: Iface, Destination, Gateway, Flags, …, Mask): routes with no gateway, not the
/// default route.
pub fn own_subnets(table: &str) -> Vec<AllowNet> {
    let mut nets = Vec::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dest), Some(gw), Some(mask)) = (f.get(1), f.get(2), f.get(7)) else {
            continue;
        };
        // The kernel prints each address as a host-order (little-endian here) hex number.
        let hex = |t: &str| u32::from_str_radix(t, 16).ok();
        let (Some(dest), Some(gw), Some(mask)) = (hex(dest), hex(gw), hex(mask)) else {
            continue;
        };
        if gw != 0 || mask == 0 {
            continue;
        }
        let net = AllowNet {
            addr: std::net::IpAddr::V4(std::net::Ipv4Addr::from(dest.to_le_bytes())),
            prefix: u8::try_from(mask.count_ones()).unwrap_or(32),
        };
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    nets
}

#[cfg(test)]
mod allow_tests {
    use super::*;

    #[test]
    fn own_subnets_are_read_from_the_routing_table() {
        let table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let nets = own_subnets(table);
        assert_eq!(nets, vec!["192.168.1.0/24".parse::<AllowNet>().unwrap()]);
    }

    #[test]
    fn own_ipv6_subnets_are_read_from_the_address_table() {
        let table = "00000000000000000000000000000001 01 80 10 80       lo\n\
20010db8000100020000000000000042 02 40 00 80     eth0\n\
fe80000000000000021122fffe334455 02 40 20 80     eth0\n\
fd000000000000000000000000000007 03 30 00 80     wg0\n\
garbage\n";
        let nets = own_subnets_v6(table);
        let want: Vec<AllowNet> = ["2001:db8:1:2::/64", "fe80::/64", "fd00::/48"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(nets, want);
        let admitted = |ip: &str| nets.iter().any(|n| n.contains(ip.parse().unwrap()));
        assert!(admitted("2001:db8:1:2::99") && admitted("fe80::1") && admitted("fd00::1:2"));
        assert!(!admitted("2001:db8:1:3::1") && !admitted("2001:db8::1") && !admitted("::1"));
    }

    #[test]
    fn by_default_only_this_machine_and_its_subnets_are_admitted() {
        let nets = default_allow();
        let admitted = |ip: &str| nets.iter().any(|n| n.contains(ip.parse().unwrap()));
        assert!(admitted("127.0.0.1") && admitted("::1"));
        // TEST-NET-3 (RFC 5737) is no machine's own subnet.
        assert!(!admitted("203.0.113.7"));
        let any: AllowNet = "any".parse().unwrap();
        assert!(
            any.contains("203.0.113.7".parse().unwrap())
                && any.contains("2001:db8::1".parse().unwrap())
        );
    }
}

impl fmt::Display for AllowNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == AllowNet::ANY {
            return f.write_str("any");
        }
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a duration with its unit: `250ms`, `5s`, `1.5s`, `2m`, `1h`; a bare `0` (for
/// "disabled") needs none. A bare number such as `10` is refused: seconds or minutes?
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let unit = unit.trim_start();
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .with_context(|| format!("duration {s:?}: expected e.g. 500ms, 30s, 1.5s, 5m, 1h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "" if n == 0.0 => 0.0,
        "" => bail!("duration {s:?}: give a unit: {num}s, {num}m, {num}ms or {num}h"),
        _ => bail!("duration {s:?}: unit must be ms, s, m or h (e.g. 10s, 5m)"),
    };
    if secs > 366.0 * 86_400.0 {
        bail!("duration {s:?}: at most a year");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Everything the agent needs to run. [`Config::default`] is a usable agent: one Concert
/// listener on 127.0.0.1:0, no bank (sales answer "bank unavailable"), no journal directory.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listeners.
    pub listen: Vec<ListenSpec>,
    /// Bank (acquirer) address, ISO 8583 over TCP; `None`: no bank.
    pub bank: Option<String>,
    /// Journal directory; `None` keeps the journal in memory only (nothing survives a restart).
    pub journal: Option<PathBuf>,
    /// Terminal id (ISO 8583 field 41, 8 characters at most).
    pub terminal_id: String,
    /// Merchant id (ISO 8583 field 42, 15 characters at most).
    pub merchant_id: String,
    /// Merchant name printed on receipts.
    pub merchant_name: String,
    /// Scripted cards (TOML); `None`: a default chip card, PIN accepted.
    pub cards: Option<PathBuf>,
    /// Delay before the default card is presented.
    pub card_delay: Duration,
    /// Idle time before sleep mode; `None`: never sleeps.
    pub sleep_after: Option<Duration>,
    /// How long a sleep lasts before the timer wakes the agent; `None`: until SIGUSR1.
    pub sleep_for: Option<Duration>,
    /// Bank echo period; zero disables the periodic echo.
    pub echo_every: Duration,
    /// Transaction limit.
    pub txn_limit: Duration,
    /// How long to wait for one bank answer before reversing.
    pub bank_timeout: Duration,
    /// First reconnect delay to the bank.
    pub backoff_initial: Duration,
    /// Largest reconnect delay (the cap of the exponential backoff, before jitter).
    pub backoff_max: Duration,
    /// When a stored reversal is first sent again after a failure; each further retry waits
    /// twice as long (with jitter), up to a minute.
    pub reversal_retry: Duration,
    /// Where receipts are printed: `none`, `stdout`, `file:PATH`, `escpos:PATH` or
    /// `tcp:HOST[:PORT]` (see [`crate::printer::spec`]).
    pub printer: String,
    /// Receipt width in columns (24, 32, 42 or 48).
    pub receipt_width: usize,
    /// Receipt language: `cs`, `en` or `fr`.
    pub receipt_lang: String,
    /// The terminal's own currency (ISO 4217 alphabetic): what an empty batch is closed in.
    pub currency: String,
    /// What tills may ask: refused operations, those that need the merchant PIN, amount
    /// limits per transaction and per day (checked by the payment application before a card
    /// is read). Default: nothing refused; refund, reversal and close totals need the merchant
    /// PIN (and, with no `merchant_pin` set, are refused); a sale or refund of at most
    /// 100 000.00, cash back of at most 1 000.00; no per-day limit.
    pub policy: ecrlink_core::terminal::Policy,
    /// Till connection dropped after this long without a byte while no request is running;
    /// zero (the default): never. A till such as the public ČSOB client keeps one connection
    /// open all day and hangs if it finds it closed; TCP keepalive
    /// ([`crate::server::TILL_KEEPALIVE`]) finds tills that are gone.
    pub idle_timeout: Duration,
    /// Largest journal file in bytes (a small disk); a transaction that might not fit is
    /// refused before anything is sent to the bank. `None`: only the disk limits it.
    pub journal_max_bytes: Option<u64>,
    /// Address blocks tills may connect from over TCP; empty: any. A connection from
    /// elsewhere is closed at once, before a byte is read.
    pub allow: Vec<AllowNet>,
    /// TLS on the bank link: trust the certificate authorities in this PEM file. `None`:
    /// plain TCP.
    pub bank_tls_ca: Option<PathBuf>,
    /// Name the bank's certificate must carry (default: the host part of `bank`).
    pub bank_tls_name: Option<String>,
    /// Mutual TLS: the terminal's client certificate chain (PEM), with `bank_tls_key`.
    pub bank_tls_cert: Option<PathBuf>,
    /// Mutual TLS: the private key (PEM) of `bank_tls_cert`.
    pub bank_tls_key: Option<PathBuf>,
    /// The terminal's MAC key file (64 hex digits, or exactly 32 raw bytes), readable by its
    /// owner only: every bank message then carries a MAC (field 64/128) and every answer must.
    pub bank_mac_key: Option<PathBuf>,
    /// Allows a bank that is not on this machine without TLS or without a MAC key (both are
    /// required otherwise).
    pub bank_insecure: bool,
    /// Journal files in a format this build does not read are moved aside
    /// (`*.incompatible-vN`) and the agent starts without them; `false` (the default): the
    /// agent refuses to start and leaves them as they are.
    pub journal_reset_incompatible: bool,
    /// The ZVT password (six digits) a ZVT till gives on registration and admin commands
    /// (end of day, reversal, refund, repeat receipt); default `000000`.
    pub zvt_password: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec![ListenSpec {
                dialect: DialectChoice::Fixed(Dialect::Concert),
                endpoint: Endpoint::Tcp("127.0.0.1:0".into()),
            }],
            bank: None,
            journal: None,
            terminal_id: "ECRLINK1".into(),
            merchant_id: "ECRLINKSHOP0001".into(),
            merchant_name: "ecrlink demo shop".into(),
            cards: None,
            card_delay: Duration::from_millis(200),
            sleep_after: None,
            sleep_for: None,
            echo_every: Duration::from_secs(60),
            txn_limit: Duration::from_secs(60),
            bank_timeout: Duration::from_secs(15),
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            reversal_retry: Duration::from_secs(5),
            printer: "none".into(),
            receipt_width: 32,
            receipt_lang: "en".into(),
            currency: "EUR".into(),
            policy: default_policy(),
            idle_timeout: Duration::ZERO,
            journal_max_bytes: None,
            allow: Vec::new(),
            bank_tls_ca: None,
            bank_tls_name: None,
            bank_tls_cert: None,
            bank_tls_key: None,
            bank_mac_key: None,
            bank_insecure: false,
            journal_reset_incompatible: false,
            zvt_password: "000000".into(),
        }
    }
}

/// The TOML file: every key optional, names as on the command line with `_` for `-`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `listen = ["concert@0.0.0.0:2000"]`
    pub listen: Option<Vec<String>>,
    /// `bank = "127.0.0.1:5000"`
    pub bank: Option<String>,
    /// `journal = "/var/lib/ecrlink"`
    pub journal: Option<PathBuf>,
    /// `terminal_id = "TERM0001"`
    pub terminal_id: Option<String>,
    /// `zvt_password = "123456"`
    pub zvt_password: Option<String>,
    /// `merchant_id = "SHOP00000000001"`
    pub merchant_id: Option<String>,
    /// `merchant_name = "My shop"`
    pub merchant_name: Option<String>,
    /// `cards = "cards.toml"`
    pub cards: Option<PathBuf>,
    /// `card_delay = "200ms"`
    pub card_delay: Option<String>,
    /// `sleep_after = "10m"`
    pub sleep_after: Option<String>,
    /// `sleep_for = "30s"`
    pub sleep_for: Option<String>,
    /// `echo_every = "60s"`
    pub echo_every: Option<String>,
    /// `txn_limit = "60s"`
    pub txn_limit: Option<String>,
    /// `bank_timeout = "15s"`
    pub bank_timeout: Option<String>,
    /// `backoff_initial = "200ms"`
    pub backoff_initial: Option<String>,
    /// `backoff_max = "10s"`
    pub backoff_max: Option<String>,
    /// `reversal_retry = "5s"`
    pub reversal_retry: Option<String>,
    /// `printer = "stdout"`
    pub printer: Option<String>,
    /// `receipt_width = 32`
    pub receipt_width: Option<usize>,
    /// `receipt_lang = "cs"`
    pub receipt_lang: Option<String>,
    /// `currency = "CZK"`
    pub currency: Option<String>,
    /// `idle_timeout = "5m"`
    pub idle_timeout: Option<String>,
    /// `journal_max_bytes = 1048576`
    pub journal_max_bytes: Option<u64>,
    /// `allow = ["192.168.1.0/24"]`
    pub allow: Option<Vec<String>>,
    /// `bank_tls_ca = "/etc/ecrlink/bank-ca.pem"`
    pub bank_tls_ca: Option<PathBuf>,
    /// `bank_tls_name = "acquirer.example"`
    pub bank_tls_name: Option<String>,
    /// `bank_tls_cert = "/etc/ecrlink/terminal.pem"`
    pub bank_tls_cert: Option<PathBuf>,
    /// `bank_tls_key = "/etc/ecrlink/terminal.key"`
    pub bank_tls_key: Option<PathBuf>,
    /// `bank_mac_key = "/etc/ecrlink/mac.key"`
    pub bank_mac_key: Option<PathBuf>,
    /// `bank_insecure = true`
    pub bank_insecure: Option<bool>,
    /// The `[policy]` table: what tills may ask ([`FilePolicy`]). Not applied by
    /// [`FileConfig::apply`]: its amounts need the final currency, so the command line applies
    /// it with [`FilePolicy::apply`] once the currency is known.
    pub policy: Option<FilePolicy>,
}

/// The agent's default policy: [`ecrlink_core::terminal::Policy::default`] with refund,
/// reversal and close totals needing the merchant PIN.
pub fn default_policy() -> ecrlink_core::terminal::Policy {
    ecrlink_core::terminal::Policy {
        confirm: ecrlink_core::terminal::KindSet::MERCHANT_DEFAULT,
        ..ecrlink_core::terminal::Policy::default()
    }
}

/// A request kind by its name in the options and the config file: `sale`, `cashback`,
/// `refund`, `reversal`, `close-totals`.
pub fn parse_kind(name: &str) -> anyhow::Result<ecrlink_core::txn::RequestKind> {
    use ecrlink_core::txn::RequestKind as K;
    Ok(match name.trim() {
        "sale" => K::Sale,
        "cashback" => K::SaleWithCashback,
        "refund" => K::Refund,
        "reversal" => K::Reversal,
        "close-totals" | "close_totals" => K::CloseTotals,
        other => bail!(
            "{other:?} is not a request kind (sale, cashback, refund, reversal, close-totals)"
        ),
    })
}

/// An amount limit: an amount in the currency's units (`5000`, `"5000.00"`) or `"none"`.
pub fn parse_limit(
    text: &str,
    currency: ecrlink_core::txn::Currency,
) -> anyhow::Result<Option<u64>> {
    if text == "none" {
        return Ok(None);
    }
    let m = ecrlink_core::txn::Money::parse_decimal(text, currency).map_err(|e| {
        anyhow::anyhow!("{text:?}: {e} (an amount such as 5000 or 5000.00, or none)")
    })?;
    Ok(Some(m.minor()))
}

/// The `[policy]` table of the config file; every key optional, the command line wins:
///
/// ```toml
/// [policy]
/// refuse = ["cashback"]                           # requests tills may not start at all
/// confirm = ["refund", "reversal", "close-totals"] # need the merchant PIN ([] : none)
/// merchant_pin_hash = "pbkdf2-sha256$20000$…$…"   # from `ecrlink-agent hash-pin`
/// confirm_tries = 3                               # wrong PINs in a row that lock…
/// confirm_lock = "5m"                             # …the operation for this long
/// max_sale = "100000"      # per transaction, in the currency's units, or "none"
/// max_cashback = "1000"
/// max_refund = "100000"
/// max_sale_day = "500000"  # per business day and currency, or "none" (the default)
/// max_cashback_day = "5000"
/// max_refund_day = "2000"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePolicy {
    /// Requests tills may not start.
    pub refuse: Option<toml::Spanned<Vec<String>>>,
    /// Requests that need the merchant PIN.
    pub confirm: Option<toml::Spanned<Vec<String>>>,
    /// The merchant PIN's hash.
    pub merchant_pin_hash: Option<toml::Spanned<String>>,
    /// Wrong PINs in a row that lock the operation.
    pub confirm_tries: Option<toml::Spanned<u8>>,
    /// How long the lock lasts.
    pub confirm_lock: Option<toml::Spanned<String>>,
    /// Largest sale.
    pub max_sale: Option<toml::Spanned<toml::Value>>,
    /// Largest cash back.
    pub max_cashback: Option<toml::Spanned<toml::Value>>,
    /// Largest refund.
    pub max_refund: Option<toml::Spanned<toml::Value>>,
    /// Largest sum of sales per day.
    pub max_sale_day: Option<toml::Spanned<toml::Value>>,
    /// Largest sum of cash back per day.
    pub max_cashback_day: Option<toml::Spanned<toml::Value>>,
    /// Largest sum of refunds per day.
    pub max_refund_day: Option<toml::Spanned<toml::Value>>,
}

/// Line and column (from 1) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(1, |l| l.chars().count() + 1);
    (line, column)
}

impl FilePolicy {
    /// Applies the table over `policy`, amounts in `currency`. `text` and `path` are the
    /// file's, for errors that name the line and column (`config agent.toml:7:14: …`).
    pub fn apply(
        &self,
        policy: &mut ecrlink_core::terminal::Policy,
        currency: ecrlink_core::txn::Currency,
        text: &str,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        use ecrlink_core::terminal::{KindSet, PinHash};
        let at = |span: std::ops::Range<usize>, key: &str, e: anyhow::Error| {
            let (l, c) = line_column(text, span.start);
            anyhow::anyhow!("config {}:{l}:{c}: policy.{key}: {e:#}", path.display())
        };
        let kinds = |v: &toml::Spanned<Vec<String>>, key: &str| -> anyhow::Result<KindSet> {
            let mut set = KindSet::EMPTY;
            for k in v.get_ref() {
                set = set.with(parse_kind(k).map_err(|e| at(v.span(), key, e))?);
            }
            Ok(set)
        };
        if let Some(v) = &self.refuse {
            policy.refused = kinds(v, "refuse")?;
        }
        if let Some(v) = &self.confirm {
            policy.confirm = kinds(v, "confirm")?;
        }
        if let Some(v) = &self.merchant_pin_hash {
            let h = PinHash::parse(v.get_ref()).map_err(|e| {
                at(
                    v.span(),
                    "merchant_pin_hash",
                    anyhow::anyhow!("{e} (make one with `ecrlink-agent hash-pin`)"),
                )
            })?;
            policy.merchant_pin = Some(h);
        }
        if let Some(v) = &self.confirm_tries {
            if *v.get_ref() == 0 {
                return Err(at(v.span(), "confirm_tries", anyhow::anyhow!("at least 1")));
            }
            policy.confirm_tries = *v.get_ref();
        }
        if let Some(v) = &self.confirm_lock {
            policy.confirm_lock =
                parse_duration(v.get_ref()).map_err(|e| at(v.span(), "confirm_lock", e))?;
        }
        let limit = |v: &Option<toml::Spanned<toml::Value>>,
                     key: &str,
                     dst: &mut Option<u64>|
         -> anyhow::Result<()> {
            let Some(v) = v else {
                return Ok(());
            };
            let text = match v.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) if *i > 0 => i.to_string(),
                other => {
                    return Err(at(
                        v.span(),
                        key,
                        anyhow::anyhow!(
                            "{other}: an amount such as 5000 or \"5000.00\", or \"none\""
                        ),
                    ));
                }
            };
            *dst = parse_limit(&text, currency).map_err(|e| at(v.span(), key, e))?;
            Ok(())
        };
        limit(&self.max_sale, "max_sale", &mut policy.max_sale)?;
        limit(&self.max_cashback, "max_cashback", &mut policy.max_cashback)?;
        limit(&self.max_refund, "max_refund", &mut policy.max_refund)?;
        limit(&self.max_sale_day, "max_sale_day", &mut policy.max_sale_day)?;
        limit(
            &self.max_cashback_day,
            "max_cashback_day",
            &mut policy.max_cashback_day,
        )?;
        limit(
            &self.max_refund_day,
            "max_refund_day",
            &mut policy.max_refund_day,
        )?;
        Ok(())
    }
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        Ok(Self::load_text(path)?.0)
    }

    /// Reads and parses a TOML file; the file's text too (for errors that name a line).
    pub fn load_text(path: &std::path::Path) -> anyhow::Result<(Self, String)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let f =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        Ok((f, text))
    }

    /// Applies the file's keys over `cfg`.
    pub fn apply(self, cfg: &mut Config) -> anyhow::Result<()> {
        if let Some(l) = self.listen {
            cfg.listen = l.iter().map(|s| s.parse()).collect::<anyhow::Result<_>>()?;
        }
        set(&mut cfg.bank, self.bank.map(Some));
        set(&mut cfg.journal, self.journal.map(Some));
        set(&mut cfg.terminal_id, self.terminal_id);
        set(&mut cfg.merchant_id, self.merchant_id);
        set(&mut cfg.zvt_password, self.zvt_password);
        set(&mut cfg.merchant_name, self.merchant_name);
        set(&mut cfg.cards, self.cards.map(Some));
        let d = |v: Option<String>| v.map(|s| parse_duration(&s)).transpose();
        set(&mut cfg.card_delay, d(self.card_delay)?);
        set(&mut cfg.sleep_after, d(self.sleep_after)?.map(Some));
        set(&mut cfg.sleep_for, d(self.sleep_for)?.map(Some));
        set(&mut cfg.echo_every, d(self.echo_every)?);
        set(&mut cfg.txn_limit, d(self.txn_limit)?);
        set(&mut cfg.bank_timeout, d(self.bank_timeout)?);
        set(&mut cfg.backoff_initial, d(self.backoff_initial)?);
        set(&mut cfg.backoff_max, d(self.backoff_max)?);
        set(&mut cfg.reversal_retry, d(self.reversal_retry)?);
        set(&mut cfg.idle_timeout, d(self.idle_timeout)?);
        set(&mut cfg.printer, self.printer);
        set(&mut cfg.receipt_width, self.receipt_width);
        set(&mut cfg.receipt_lang, self.receipt_lang);
        set(&mut cfg.currency, self.currency);
        set(&mut cfg.journal_max_bytes, self.journal_max_bytes.map(Some));
        set(&mut cfg.bank_tls_ca, self.bank_tls_ca.map(Some));
        set(&mut cfg.bank_tls_name, self.bank_tls_name.map(Some));
        set(&mut cfg.bank_tls_cert, self.bank_tls_cert.map(Some));
        set(&mut cfg.bank_tls_key, self.bank_tls_key.map(Some));
        set(&mut cfg.bank_mac_key, self.bank_mac_key.map(Some));
        set(&mut cfg.bank_insecure, self.bank_insecure);
        if let Some(a) = self.allow {
            cfg.allow = a.iter().map(|s| s.parse()).collect::<anyhow::Result<_>>()?;
        }
        Ok(())
    }
}

fn set<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

impl Config {
    /// Checks values that would only fail later (terminal id, widths, durations).
    pub fn validate(&self) -> anyhow::Result<()> {
        ecrlink_core::txn::TerminalId::new(&self.terminal_id)
            .map_err(|e| anyhow::anyhow!("terminal id {:?}: {e}", self.terminal_id))?;
        if self.zvt_password.len() != 6 || !self.zvt_password.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "ZVT password must be six digits (e.g. 123456), got {:?}",
                self.zvt_password
            );
        }
        if self.merchant_id.is_empty() || self.merchant_id.len() > 15 {
            bail!("merchant id must be 1-15 characters");
        }
        if ![24, 32, 42, 48].contains(&self.receipt_width) {
            bail!("receipt width must be 24, 32, 42 or 48");
        }
        if ecrlink_core::txn::Currency::from_alpha(&self.currency).is_none() {
            anyhow::bail!(
                "currency {:?} is not an ISO 4217 code this terminal knows (e.g. CZK, EUR)",
                self.currency
            );
        }
        if ecrlink_core::receipt::Lang::from_code(&self.receipt_lang).is_none() {
            bail!("receipt language must be cs, en or fr");
        }
        if self.listen.is_empty() {
            bail!("no listener: give at least one --listen DIALECT@ADDR");
        }
        if self.txn_limit.is_zero() || self.bank_timeout.is_zero() {
            bail!("transaction limit and bank timeout must be above zero");
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            bail!("backoff: initial must be above zero and at most the maximum");
        }
        crate::bank::key::check_link(self)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_specs_parse() {
        let s: ListenSpec = "concert@127.0.0.1:2000".parse().unwrap();
        assert_eq!(s.dialect, DialectChoice::Fixed(Dialect::Concert));
        assert_eq!(s.endpoint, Endpoint::Tcp("127.0.0.1:2000".into()));
        let s: ListenSpec = "auto@[::1]:0".parse().unwrap();
        assert_eq!(s.dialect, DialectChoice::Auto);
        let s: ListenSpec = "concert@serial:/dev/ttyUSB0:19200".parse().unwrap();
        assert_eq!(
            s.endpoint,
            Endpoint::Serial {
                path: "/dev/ttyUSB0".into(),
                baud: 19200
            }
        );
        let s: ListenSpec = "csob@serial:/dev/ttyS1".parse().unwrap();
        assert_eq!(
            s.endpoint,
            Endpoint::Serial {
                path: "/dev/ttyS1".into(),
                baud: 9600
            }
        );
        assert!("gpe@1.2.3.4:5".parse::<ListenSpec>().is_err());
        assert!("zvt@1.2.3.4:5".parse::<ListenSpec>().is_ok());
        assert!("127.0.0.1:5".parse::<ListenSpec>().is_err());
        assert!("csob@".parse::<ListenSpec>().is_err());
    }

    #[test]
    fn allow_lists_parse_and_match() {
        let net: AllowNet = "192.168.1.0/24".parse().unwrap();
        assert!(net.contains("192.168.1.77".parse().unwrap()));
        assert!(!net.contains("192.168.2.1".parse().unwrap()));
        assert!(
            net.contains("::ffff:192.168.1.9".parse().unwrap()),
            "mapped IPv4"
        );
        let one: AllowNet = "127.0.0.1".parse().unwrap();
        assert_eq!(one.prefix, 32);
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let any: AllowNet = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        assert!(
            !any.contains("::1".parse().unwrap()),
            "no IPv6 in an IPv4 block"
        );
        let v6: AllowNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::1/129", "example.com", "10.0.0.0/x"] {
            assert!(bad.parse::<AllowNet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        // Seconds or minutes? A bare number says neither.
        let e = parse_duration("10").unwrap_err().to_string();
        assert!(e.contains("give a unit: 10s, 10m"), "{e}");
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn the_policy_table_applies_and_its_errors_name_line_and_column() {
        use ecrlink_core::terminal::KindSet;
        use ecrlink_core::txn::{Currency, RequestKind};
        let text = "currency = \"CZK\"\n[policy]\nrefuse = [\"cashback\"]\nconfirm = []\n\
                    max_sale = 5000\nmax_refund_day = \"12.50\"\nmax_cashback = \"none\"\n\
                    confirm_tries = 5\nconfirm_lock = \"1m\"\n";
        let f: FileConfig = toml::from_str(text).unwrap();
        let mut p = default_policy();
        let path = std::path::Path::new("agent.toml");
        f.policy
            .unwrap()
            .apply(&mut p, Currency::CZK, text, path)
            .unwrap();
        assert_eq!(
            p.refused,
            KindSet::EMPTY.with(RequestKind::SaleWithCashback)
        );
        assert_eq!(p.confirm, KindSet::EMPTY);
        assert_eq!(
            (p.max_sale, p.max_refund_day, p.max_cashback),
            (Some(500_000), Some(1_250), None)
        );
        assert_eq!(
            (p.confirm_tries, p.confirm_lock),
            (5, Duration::from_secs(60))
        );
        // The agent's default: refund, reversal and close totals need the PIN, none is set.
        let d = default_policy();
        assert_eq!(d.confirm, KindSet::MERCHANT_DEFAULT);
        assert!(d.merchant_pin.is_none());
        for (text, want) in [
            (
                "[policy]\nmax_sale = -5\n",
                "agent.toml:2:12: policy.max_sale",
            ),
            (
                "[policy]\nrefuse = [\"sale\", \"nap\"]\n",
                "agent.toml:2:10: policy.refuse",
            ),
            (
                "[policy]\nconfirm_tries = 0\n",
                "agent.toml:2:17: policy.confirm_tries",
            ),
            (
                "[policy]\nmerchant_pin_hash = \"pbkdf2-sha256$0$00$00\"\n",
                "agent.toml:2:21: policy.merchant_pin_hash: iterations",
            ),
        ] {
            let f: FileConfig = toml::from_str(text).unwrap();
            let e = f
                .policy
                .unwrap()
                .apply(&mut default_policy(), Currency::CZK, text, path)
                .unwrap_err();
            assert!(format!("{e:#}").contains(want), "{text}: {e:#}");
        }
    }

    #[test]
    fn file_keys_apply() {
        let f: FileConfig = toml::from_str(
            "listen = [\"csob@127.0.0.1:0\"]\nbank = \"127.0.0.1:9\"\nsleep_after = \"10s\"\nterminal_id = \"T1\"\n",
        )
        .unwrap();
        let mut c = Config::default();
        f.apply(&mut c).unwrap();
        assert_eq!(c.listen[0].dialect, DialectChoice::Fixed(Dialect::Csob));
        assert_eq!(c.bank.as_deref(), Some("127.0.0.1:9"));
        assert_eq!(c.sleep_after, Some(Duration::from_secs(10)));
        assert_eq!(c.terminal_id, "T1");
        c.validate().unwrap();
        assert!(toml::from_str::<FileConfig>("bogus = 1").is_err());
    }
}

#[cfg(test)]
mod zvt_tests {
    use super::*;

    #[test]
    fn zvt_listener_and_password() {
        let s: ListenSpec = "zvt@127.0.0.1:20007".parse().unwrap();
        assert_eq!(s.dialect, DialectChoice::Fixed(Dialect::Zvt));
        let mut c = Config {
            zvt_password: "12345".into(),
            ..Config::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("six digits"));
        c.zvt_password = "123456".into();
        c.validate().unwrap();
    }
}
