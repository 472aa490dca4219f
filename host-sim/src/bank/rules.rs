//! What the simulated bank answers: a list of rules, the first that matches a message wins;
//! no match approves. A rules file is TOML:
//!
//! ```toml
//! [[rule]]
//! amount_ends_with = "51"   # minor units end in these digits: 12.51 → "51"
//! decline = "51"            # answer with this field 39 code
//!
//! [[rule]]
//! pan_prefix = "5413"       # or pan = "5413330089020011"
//! decline = "05"
//!
//! [[rule]]
//! amount = 4242             # exact amount in minor units
//! delay = "3s"              # answer late
//!
//! [[rule]]
//! mti = "0200"              # 0200 (default), 0400, 0500, 0800 or "any"
//! amount = 777
//! drop = true               # approve in the ledger but never send the answer
//! times = 1                 # only the first N matching messages (default: all)
//!
//! [[rule]]
//! amount = 666
//! close = true              # close the connection instead of answering
//!
//! [[rule]]
//! amount = 999
//! offline = "5s"            # close every connection and refuse new ones for 5 s
//! ```
//! With no rules file the bank uses [`Rules::default`]: an amount ending in .51 is declined
//! with code 51 (insufficient funds); everything else is approved.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The facts of a message a rule can match on.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// Message type, e.g. "0200".
    pub mti: &'a str,
    /// Amount in minor units (field 4).
    pub amount: Option<u64>,
    /// Full PAN (field 2), only ever compared, never stored.
    pub pan: Option<&'a str>,
}

/// What to do with a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// Answer with this response code instead of "00".
    pub decline: Option<String>,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Do not answer (the bank still acts on the message).
    pub drop: bool,
    /// Close the connection without answering (the bank does not act on the message).
    pub close: bool,
    /// Go offline for this long (the bank does not act on the message).
    pub offline: Option<Duration>,
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    mti: Option<String>,
    amount: Option<u64>,
    amount_ends_with: Option<String>,
    pan: Option<String>,
    pan_prefix: Option<String>,
    times: Option<u32>,
    used: u32,
    action: Action,
}

impl Rule {
    fn matches(&self, f: &Facts<'_>) -> bool {
        let mti_ok = match self.mti.as_deref() {
            Some("any") => true,
            Some(m) => m == f.mti,
            None => f.mti == "0200",
        };
        let times_ok = self.times.is_none_or(|t| self.used < t);
        let amount_ok = self.amount.is_none_or(|a| f.amount == Some(a));
        let ends_ok = self
            .amount_ends_with
            .as_deref()
            .is_none_or(|e| f.amount.is_some_and(|a| format!("{a:02}").ends_with(e)));
        let pan_ok = self.pan.as_deref().is_none_or(|p| f.pan == Some(p));
        let prefix_ok = self
            .pan_prefix
            .as_deref()
            .is_none_or(|p| f.pan.is_some_and(|x| x.starts_with(p)));
        mti_ok && times_ok && amount_ok && ends_ok && pan_ok && prefix_ok
    }
}

/// The rule list.
#[derive(Clone, Debug)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Default for Rules {
    /// An amount ending in .51 is declined with 51; everything else approved.
    fn default() -> Self {
        Rules {
            rules: vec![Rule {
                mti: None,
                amount: None,
                amount_ends_with: Some("51".into()),
                pan: None,
                pan_prefix: None,
                times: None,
                used: 0,
                action: Action {
                    decline: Some("51".into()),
                    ..Action::default()
                },
            }],
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    mti: Option<String>,
    amount: Option<u64>,
    amount_ends_with: Option<String>,
    pan: Option<String>,
    pan_prefix: Option<String>,
    times: Option<u32>,
    decline: Option<String>,
    delay: Option<String>,
    #[serde(default)]
    drop: bool,
    #[serde(default)]
    close: bool,
    offline: Option<String>,
}

fn duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().with_context(|| format!("duration {s:?}"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(60 * n),
        _ => bail!("duration {s:?}: unit must be ms, s or m"),
    })
}

impl Rules {
    /// Approve everything.
    pub fn approve_all() -> Self {
        Rules { rules: Vec::new() }
    }

    /// Parses a rules file's text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: RulesFile = toml::from_str(text)?;
        let mut rules = Vec::new();
        for (i, e) in file.rule.into_iter().enumerate() {
            let ctx = || format!("rule #{}", i + 1);
            if let Some(c) = &e.decline {
                if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    bail!("{}: decline code must be 2 characters, got {c:?}", ctx());
                }
            }
            if let Some(m) = &e.mti {
                if !["0200", "0400", "0500", "0800", "any"].contains(&m.as_str()) {
                    bail!("{}: mti must be 0200, 0400, 0500, 0800 or any", ctx());
                }
            }
            if let Some(s) = &e.amount_ends_with {
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                    bail!("{}: amount_ends_with takes digits", ctx());
                }
            }
            rules.push(Rule {
                mti: e.mti,
                amount: e.amount,
                amount_ends_with: e.amount_ends_with,
                pan: e.pan,
                pan_prefix: e.pan_prefix,
                times: e.times,
                used: 0,
                action: Action {
                    decline: e.decline,
                    delay: e
                        .delay
                        .as_deref()
                        .map(duration)
                        .transpose()
                        .with_context(ctx)?,
                    drop: e.drop,
                    close: e.close,
                    offline: e
                        .offline
                        .as_deref()
                        .map(duration)
                        .transpose()
                        .with_context(ctx)?,
                },
            });
        }
        Ok(Rules { rules })
    }

    /// Loads a rules file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading rules {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("rules {}", path.display()))
    }

    /// The action for a message (counting the use of a limited rule).
    pub fn decide(&mut self, facts: &Facts<'_>) -> Action {
        for r in &mut self.rules {
            if r.matches(facts) {
                r.used += 1;
                return r.action.clone();
            }
        }
        Action::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(amount: u64) -> Facts<'static> {
        Facts {
            mti: "0200",
            amount: Some(amount),
            pan: Some("4761739001010119"),
        }
    }

    #[test]
    fn default_declines_51() {
        let mut r = Rules::default();
        assert_eq!(r.decide(&sale(1251)).decline.as_deref(), Some("51"));
        assert_eq!(r.decide(&sale(1250)), Action::default());
        assert_eq!(r.decide(&sale(51)).decline.as_deref(), Some("51"));
        // A reversal of such an amount is not declined.
        let f = Facts {
            mti: "0400",
            ..sale(1251)
        };
        assert_eq!(r.decide(&f), Action::default());
    }

    #[test]
    fn file_rules_match_in_order_and_count() {
        let mut r = Rules::parse(
            r#"
            [[rule]]
            pan_prefix = "4761"
            amount = 100
            drop = true
            times = 1
            [[rule]]
            pan = "4761739001010119"
            decline = "05"
            [[rule]]
            mti = "any"
            delay = "20ms"
            "#,
        )
        .unwrap();
        assert!(r.decide(&sale(100)).drop);
        assert_eq!(r.decide(&sale(100)).decline.as_deref(), Some("05"));
        let echo = Facts {
            mti: "0800",
            amount: None,
            pan: None,
        };
        assert_eq!(r.decide(&echo).delay, Some(Duration::from_millis(20)));
        assert!(Rules::parse("[[rule]]\ndecline = \"5\"\n").is_err());
        assert!(Rules::parse("[[rule]]\nmti = \"0300\"\n").is_err());
        assert!(Rules::parse("[[rule]]\nbogus = 1\n").is_err());
    }
}
