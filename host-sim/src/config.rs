//! The till's configuration file: the shop's terminals and which one this machine or user gets,
//! as ERP installs do it.
//!
//! ```toml
//! # How a till picks its terminal: "single", "by-computer" or "by-user".
//! selection = "by-computer"
//! # Optional: the terminal for "single", and for the others when no rule matches.
//! default = "counter-1"
//! # Optional: where session logs go (else ~/PointOfSale), and the default currency.
//! log_dir = "/var/log/pos"
//! currency = "CZK"
//!
//! [[terminal]]
//! alias = "counter-1"
//! address = "192.168.1.50:2050"     # HOST:PORT, or a serial device such as /dev/ttyUSB0 or COM3
//! dialect = "csob"                  # or "concert"
//! computers = ["POS-1"]             # by-computer: exact, case-sensitive computer names
//! users = ["alice"]                 # by-user: user names (case-sensitive)
//! ```
//!
//! The computer name is the remote-desktop client's when there is one (`CLIENTNAME`, as
//! Windows sets it in an RDP session: the till that sits at the counter is the client, not the
//! server the ERP runs on), else `COMPUTERNAME`, else the host name.

use std::path::{Path, PathBuf};

/// A working `terminals.toml`: two terminals picked by computer name, a default for the others.
/// `ecrlink-sim terminals` prints it when there is no config file; the README shows it too.
pub const SAMPLE_CONFIG: &str = r#"# ecrlink-sim terminals.toml: the shop's terminals and which till uses which.
# How a till picks its terminal: "single", "by-computer" or "by-user".
selection = "by-computer"
# The terminal for "single", and for the others when no rule matches (optional).
default = "counter-1"
# Optional: default currency of amounts, and where session logs go (else ~/PointOfSale).
currency = "CZK"
# log_dir = "/var/log/pos"

[[terminal]]
alias = "counter-1"
address = "192.168.1.50:2050"   # HOST:PORT, or a serial device: /dev/ttyUSB0, COM3, serial:PATH
dialect = "csob"                # "csob", "concert" or "zvt"
computers = ["POS-1"]           # by-computer: exact, case-sensitive names (RDP: the client's)
users = ["alice"]               # by-user: user names
# terminal_id = "12345678"      # ČSOB terminal id to put in requests, if the terminal wants one

[[terminal]]
alias = "counter-2"
address = "/dev/ttyUSB0"
dialect = "concert"
computers = ["POS-2"]
users = ["bob"]
"#;

use ecrlink_core::session::Dialect;
use serde::Deserialize;

/// How a till picks its terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// One terminal for everybody: `default`, else the first one.
    Single,
    /// By the computer name (case-sensitive); the remote-desktop client's name wins.
    ByComputer,
    /// By the user name.
    ByUser,
}

impl Selection {
    /// The name used in the file.
    pub fn name(self) -> &'static str {
        match self {
            Selection::Single => "single",
            Selection::ByComputer => "by-computer",
            Selection::ByUser => "by-user",
        }
    }
}

/// One terminal of the shop.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalEntry {
    /// Name the staff know it by.
    pub alias: String,
    /// `HOST:PORT` or a serial device.
    pub address: String,
    /// `concert` or `csob`.
    pub dialect: String,
    /// Computers that use it (by-computer).
    #[serde(default)]
    pub computers: Vec<String>,
    /// Users that use it (by-user).
    #[serde(default)]
    pub users: Vec<String>,
    /// ČSOB terminal id to put in requests (8 characters), if the terminal wants one.
    #[serde(default)]
    pub terminal_id: Option<String>,
}

impl TerminalEntry {
    /// The dialect, checked.
    pub fn dialect(&self) -> Result<Dialect, ConfigError> {
        Dialect::from_name(&self.dialect).ok_or_else(|| ConfigError::Invalid {
            what: format!(
                "terminal '{}': unknown dialect '{}' (concert, csob or zvt)",
                self.alias, self.dialect
            ),
        })
    }
}

/// The configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How a till picks its terminal.
    pub selection: Selection,
    /// Alias of the terminal for `single`, and the fallback of the other selections.
    #[serde(default)]
    pub default: Option<String>,
    /// Folder of the session logs.
    #[serde(default)]
    pub log_dir: Option<PathBuf>,
    /// Default currency of amounts (ISO 4217 alphabetic).
    #[serde(default)]
    pub currency: Option<String>,
    /// The terminals.
    #[serde(default, rename = "terminal")]
    pub terminals: Vec<TerminalEntry>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or not our format.
    #[error("bad config {path}{}: {message}", at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Line and column (from 1) of the fault, when known.
        at: Option<(usize, usize)>,
        /// The parser's message.
        message: String,
    },
    /// The content is inconsistent.
    #[error("bad config: {what}")]
    Invalid {
        /// What is wrong.
        what: String,
    },
    /// No terminal applies to this computer or user.
    #[error("no terminal configured for {who}")]
    NoMatch {
        /// The computer or user.
        who: String,
    },
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

impl Config {
    /// Parses and checks the text of a configuration file.
    /// Errors name the file, line and column: `bad config shop.toml:4:11: …`.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            at: e.span().map(|s| line_column(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        config.check().map_err(|e| match e {
            ConfigError::Invalid { what } => ConfigError::Parse {
                path: path.to_path_buf(),
                at: config.locate(text, &what),
                message: what,
            },
            other => other,
        })?;
        Ok(config)
    }

    /// Where in `text` the value an [`ConfigError::Invalid`] message quotes (`'…'`) stands:
    /// its first quoted occurrence after the named terminal's alias, else anywhere.
    fn locate(&self, text: &str, what: &str) -> Option<(usize, usize)> {
        let quoted: Vec<&str> = what.split('\'').skip(1).step_by(2).collect();
        let (alias, value) = match quoted.as_slice() {
            [alias, value, ..] if what.starts_with("terminal '") => (Some(*alias), *value),
            [value, ..] => (None, *value),
            [] => return None,
        };
        let from = alias
            .and_then(|a| text.find(&format!("\"{a}\"")))
            .unwrap_or(0);
        let needle = format!("\"{value}\"");
        let pos = text
            .get(from..)
            .and_then(|t| t.find(&needle))
            .map(|p| p + from)
            .or_else(|| text.find(&needle))?;
        Some(line_column(text, pos))
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.terminals.is_empty() {
            return Err(ConfigError::Invalid {
                what: "no [[terminal]] entries".into(),
            });
        }
        for (i, t) in self.terminals.iter().enumerate() {
            t.dialect()?;
            crate::till::Target::parse_checked(&t.address).map_err(|e| ConfigError::Invalid {
                what: format!("terminal '{}': {e}", t.alias),
            })?;
            if self
                .terminals
                .iter()
                .skip(i + 1)
                .any(|u| u.alias == t.alias)
            {
                return Err(ConfigError::Invalid {
                    what: format!("alias '{}' used twice", t.alias),
                });
            }
        }
        if let Some(d) = &self.default {
            if self.by_alias(d).is_none() {
                return Err(ConfigError::Invalid {
                    what: format!("default '{d}' is not a terminal alias"),
                });
            }
        }
        Ok(())
    }

    /// The terminal with alias `alias`.
    pub fn by_alias(&self, alias: &str) -> Option<&TerminalEntry> {
        self.terminals.iter().find(|t| t.alias == alias)
    }

    /// The terminal this computer/user gets, and why.
    pub fn select(&self, who: &Identity) -> Result<(&TerminalEntry, String), ConfigError> {
        let fallback = |who: String| -> Result<(&TerminalEntry, String), ConfigError> {
            match self.default.as_deref().and_then(|d| self.by_alias(d)) {
                Some(t) => Ok((t, format!("default (no rule for {who})"))),
                None => Err(ConfigError::NoMatch { who }),
            }
        };
        match self.selection {
            Selection::Single => {
                let t = self
                    .default
                    .as_deref()
                    .and_then(|d| self.by_alias(d))
                    .or(self.terminals.first())
                    .ok_or_else(|| ConfigError::Invalid {
                        what: "no terminals".into(),
                    })?;
                Ok((t, "single".into()))
            }
            Selection::ByComputer => {
                let Some(name) = &who.computer else {
                    return fallback("an unknown computer name".into());
                };
                match self
                    .terminals
                    .iter()
                    .find(|t| t.computers.iter().any(|c| c == &name.name))
                {
                    Some(t) => Ok((t, format!("computer '{}' ({})", name.name, name.source))),
                    None => fallback(format!("computer '{}'", name.name)),
                }
            }
            Selection::ByUser => {
                let Some(user) = &who.user else {
                    return fallback("an unknown user".into());
                };
                match self
                    .terminals
                    .iter()
                    .find(|t| t.users.iter().any(|u| u == user))
                {
                    Some(t) => Ok((t, format!("user '{user}'"))),
                    None => fallback(format!("user '{user}'")),
                }
            }
        }
    }
}

/// The computer name and where it came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ComputerName {
    /// The name, as given (case kept).
    pub name: String,
    /// `CLIENTNAME` (remote-desktop client), `COMPUTERNAME` or `hostname`.
    pub source: &'static str,
}

/// Who is running the till: computer and user name.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The computer name, if known.
    pub computer: Option<ComputerName>,
    /// The user name, if known.
    pub user: Option<String>,
}

impl Identity {
    /// Works the identity out from environment variables read through `var` and the host name
    /// given by `hostname`.
    pub fn detect_with(
        var: impl Fn(&str) -> Option<String>,
        hostname: impl FnOnce() -> Option<String>,
    ) -> Self {
        let non_empty = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        // Windows sets CLIENTNAME to "Console" in a local session: that is no client.
        let computer = non_empty("CLIENTNAME")
            .filter(|c| c != "Console")
            .map(|name| ComputerName {
                name,
                source: "CLIENTNAME",
            })
            .or_else(|| {
                non_empty("COMPUTERNAME").map(|name| ComputerName {
                    name,
                    source: "COMPUTERNAME",
                })
            })
            .or_else(|| {
                hostname()
                    .map(|h| h.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .map(|name| ComputerName {
                        name,
                        source: "hostname",
                    })
            });
        let user = non_empty("USER")
            .or_else(|| non_empty("USERNAME"))
            .or_else(|| non_empty("LOGNAME"));
        Identity { computer, user }
    }

    /// The identity of this process.
    pub fn detect() -> Self {
        Identity::detect_with(|name| std::env::var(name).ok(), system_hostname)
    }
}

/// The host name from the system, without libc: `/proc` on Linux, `/etc/hostname` elsewhere
/// on Unix.
fn system_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The user's home folder (`HOME`, or `USERPROFILE` on Windows).
pub fn home_dir() -> Option<PathBuf> {
    ["HOME", "USERPROFILE"]
        .iter()
        .filter_map(std::env::var_os)
        .find(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The default configuration file: `ECRLINK_CONFIG`, else `terminals.toml` in the `ecrlink`
/// folder of the user's config dir (`%APPDATA%` on Windows, `~/Library/Application Support` on
/// macOS, `$XDG_CONFIG_HOME` or `~/.config` elsewhere).
pub fn default_config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ECRLINK_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let base = if cfg!(windows) {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        home_dir().map(|h| h.join("Library").join("Application Support"))
    } else {
        std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| home_dir().map(|h| h.join(".config")))
    };
    base.map(|b| b.join("ecrlink").join("terminals.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = r#"
selection = "by-computer"
default = "back"

[[terminal]]
alias = "front"
address = "10.0.0.5:2050"
dialect = "csob"
computers = ["POS-1", "Kasa2"]
users = ["alice"]

[[terminal]]
alias = "back"
address = "/dev/ttyUSB0"
dialect = "concert"
users = ["bob"]
"#;

    fn id(computer: Option<(&str, &'static str)>, user: Option<&str>) -> Identity {
        Identity {
            computer: computer.map(|(n, s)| ComputerName {
                name: n.into(),
                source: s,
            }),
            user: user.map(Into::into),
        }
    }

    fn shop(selection: &str, default: bool) -> Config {
        let mut text = SHOP.replace("by-computer", selection);
        if !default {
            text = text.replace("default = \"back\"", "");
        }
        Config::parse(&text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn by_computer_is_case_sensitive() {
        let c = shop("by-computer", false);
        let (t, why) = c.select(&id(Some(("POS-1", "hostname")), None)).unwrap();
        assert_eq!(t.alias, "front");
        assert!(why.contains("POS-1"), "{why}");
        assert!(matches!(
            c.select(&id(Some(("pos-1", "hostname")), None)),
            Err(ConfigError::NoMatch { .. })
        ));
        let c = shop("by-computer", true);
        let (t, why) = c.select(&id(Some(("pos-1", "hostname")), None)).unwrap();
        assert_eq!(t.alias, "back");
        assert!(why.starts_with("default"), "{why}");
    }

    #[test]
    fn by_user() {
        let c = shop("by-user", false);
        assert_eq!(
            c.select(&id(None, Some("bob"))).unwrap().0.alias,
            "back".to_string()
        );
        assert_eq!(c.select(&id(None, Some("alice"))).unwrap().0.alias, "front");
        assert!(c.select(&id(None, Some("Alice"))).is_err());
        assert!(c.select(&id(None, None)).is_err());
    }

    #[test]
    fn single_takes_default_or_first() {
        assert_eq!(
            shop("single", true)
                .select(&id(None, None))
                .unwrap()
                .0
                .alias,
            "back"
        );
        assert_eq!(
            shop("single", false)
                .select(&id(None, None))
                .unwrap()
                .0
                .alias,
            "front"
        );
    }

    #[test]
    fn remote_desktop_client_name_wins() {
        let env = |pairs: Vec<(&'static str, &'static str)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let who = Identity::detect_with(
            env(vec![("CLIENTNAME", "Kasa2"), ("COMPUTERNAME", "TS-SERVER")]),
            || Some("server.local\n".into()),
        );
        assert_eq!(who.computer.as_ref().unwrap().name, "Kasa2");
        assert_eq!(who.computer.as_ref().unwrap().source, "CLIENTNAME");
        let c = shop("by-computer", false);
        assert_eq!(c.select(&who).unwrap().0.alias, "front");

        let who = Identity::detect_with(
            env(vec![("CLIENTNAME", "Console"), ("COMPUTERNAME", "POS-1")]),
            || None,
        );
        assert_eq!(who.computer.unwrap().name, "POS-1");
        let who =
            Identity::detect_with(env(vec![("USERNAME", "bob")]), || Some(" till-7 \n".into()));
        assert_eq!(who.computer.as_ref().unwrap().name, "till-7");
        assert_eq!(who.computer.unwrap().source, "hostname");
        assert_eq!(who.user.as_deref(), Some("bob"));
    }

    #[test]
    fn bad_files_are_reported() {
        let p = Path::new("x.toml");
        assert!(matches!(
            Config::parse("selection = \"by-guess\"", p),
            Err(ConfigError::Parse { .. })
        ));
        // Checks after parsing name the file too (and the line, when a value is to blame).
        assert!(matches!(
            Config::parse("selection = \"single\"", p),
            Err(ConfigError::Parse { at: None, .. })
        ));
        let dup = "selection = \"single\"\n[[terminal]]\nalias=\"a\"\naddress=\"x:1\"\ndialect=\"csob\"\n[[terminal]]\nalias=\"a\"\naddress=\"x:2\"\ndialect=\"csob\"\n";
        assert!(matches!(
            Config::parse(dup, p),
            Err(ConfigError::Parse { .. })
        ));
        let zvt =
            "selection = \"single\"\n[[terminal]]\nalias=\"a\"\naddress=\"x:1\"\ndialect=\"zvt\"\n";
        assert!(Config::parse(zvt, p).is_ok(), "zvt is a dialect");
        let gpe =
            "selection = \"single\"\n[[terminal]]\nalias=\"a\"\naddress=\"x:1\"\ndialect=\"gpe\"\n";
        let e = Config::parse(gpe, p).unwrap_err().to_string();
        assert!(e.contains("gpe") && e.contains("zvt"), "{e}");
    }
}
