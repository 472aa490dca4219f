//! What the simulated bank answers: a list of rules; every message is checked against each
//! rule, and the first rule that fires decides; no rule firing approves (code 00). The file
//! format is [`RULES_HELP`] (also printed by `ecrlink-sim bank --help`).
//!
//! With no rules file the bank uses [`Rules::default`]: an amount ending in .51 is declined
//! with code 51 (insufficient funds); everything else is approved.

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The rules file format, with an example that parses (a unit test checks it): printed by
/// `ecrlink-sim bank --help`.
pub const RULES_HELP: &str = r#"RULES FILE (--rules FILE, TOML)
A list of [[rule]] tables. Every message is checked against every rule in order; the first
rule whose conditions hold (and whose nth/times allow it) decides what the bank does. No rule:
approve (00). Unknown keys are errors. Without --rules: amounts ending in .51 get 51.

Conditions (all given must hold):
  mti = "0200"            0200 (default), 0400 (reversal), 0500 (close), 0800 (echo) or "any"
  amount = 1250           exact amount, minor units (12.50)
  amount_ends_with = "51" the amount's minor units end with these digits
  amount_min = 10000      amount >= this (minor units); amount_max = N: amount <= N
  pan = "4761739001010119"   the card number; pan_prefix = "476173": its first digits (BIN)
  kind = "refund"         0200/0400 only: "sale", "cashback" or "refund"
  cryptogram = "bad"      0200 only: what the check of the chip cryptogram (9F26) found:
                          "valid", "bad" (does not verify, incomplete, or missing from a chip
                          read with --cryptogram require) or "absent" (no chip data)
  nth = 3                 not before the 3rd message that meets the conditions above
  times = 2               fire at most this often (default: always; 1 when nth is given)
Counters (nth, times) start at zero when the simulator starts.

Built in, before any rule: a 0200 whose chip cryptogram is bad is declined 82 ("bad
cryptogram": Visa's code for a negative online card authentication) whatever rule fires,
unless the rule that fires has a cryptogram condition (to answer it otherwise, e.g.
cryptogram = "bad" with code = "05", the do-not-honour many hosts give it). Cards without
chip data (swipe, keyed) are not checked; --cryptogram off turns the check off.

Actions (none: answer as a normal bank would):
  code = "05"             answer with this response code (field 39; any two letters/digits:
                          00, 05, 08, 10, 11, 25, 51, 55, 91, 96, ...); decline = "05" is
                          the same. 0200: 00, 08, 10, 11 approve (the ledger holds them),
                          others decline. 0400: any code but 00 leaves the original unreversed.
                          0500: any code but 00 settles nothing.
  partial = 600           0200: partial approval: code 10 and field 4 = 6.00 (capped at the
                          amount asked); the ledger holds 6.00
  approval_code = false   0200: approve without field 38; approval_code = "XYZ123" sets it
  delay = "3s"            answer late (ms, s or m)
  duplicate = true        send the answer twice
  stan_offset = 1         answer with trace number (field 11) = request's + offset (may be < 0)
  cut = 20                send the length prefix (the whole length) and only the first 20
                          bytes of the answer (all but the last if shorter), then close
  close_after = true      answer, then close the connection
  drop = true             act on the message (ledger) but never answer
  close = true            close the connection instead (the bank does not act on it)
  offline = "5s"          close every connection, refuse new ones for 5 s (does not act)
Except for close and offline, the bank acts on the message (the ledger records it) even when
the answer is late, dropped, cut, duplicated or carries another trace number.

Example:
  [[rule]]                # the 3rd authorization gets 91 (issuer unavailable)
  mti = "0200"
  nth = 3
  code = "91"

  [[rule]]                # cards of this BIN: approved without an approval code
  pan_prefix = "541333"
  approval_code = false

  [[rule]]                # 100.00 or more: partially approved for 100.00
  amount_min = 10000
  partial = 10000

  [[rule]]                # 42.42: approved, answered after 3 s and twice
  amount = 4242
  delay = "3s"
  duplicate = true

  [[rule]]                # the 1st reversal is answered 91 (and not done); later ones 00
  mti = "0400"
  code = "91"
  times = 1
"#;

/// The facts of a message a rule can match on.
#[derive(Clone, Debug, Default)]
pub struct Facts<'a> {
    /// Message type, e.g. "0200".
    pub mti: &'a str,
    /// Amount in minor units (field 4).
    pub amount: Option<u64>,
    /// Full PAN (field 2), only ever compared, never stored.
    pub pan: Option<&'a str>,
    /// "sale", "cashback" or "refund" (field 3 of a 0200 or 0400).
    pub kind: Option<&'a str>,
    /// 0200: what the cryptogram check found (`valid`, `invalid`, `incomplete`, `missing`,
    /// `absent`, `unchecked`).
    pub cryptogram: Option<&'a str>,
}

/// Field 38 of an approving 0210.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ApprovalChoice {
    /// The bank makes one up (`A` and five digits).
    #[default]
    Generated,
    /// No field 38.
    Omit,
    /// This code.
    Fixed(String),
}

/// What to do with a message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Action {
    /// Answer with this response code instead of the usual one.
    pub code: Option<String>,
    /// 0200: approve only this amount (minor units) with code 10.
    pub partial: Option<u64>,
    /// 0200: field 38 of an approval.
    pub approval: ApprovalChoice,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Send the answer twice.
    pub duplicate: bool,
    /// Answer with the request's trace number plus this (modulo 1 000 000).
    pub stan_offset: i64,
    /// Send the prefix and only this many bytes of the answer, then close.
    pub cut: Option<usize>,
    /// Close the connection after answering.
    pub close_after: bool,
    /// Do not answer (the bank still acts on the message).
    pub drop: bool,
    /// Close the connection without answering (the bank does not act on the message).
    pub close: bool,
    /// Go offline for this long (the bank does not act on the message).
    pub offline: Option<Duration>,
}

impl Action {
    /// A short description of the faults and special answers, for the log ("" if none).
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.partial {
            parts.push(format!("partial {p}"));
        }
        if self.approval == ApprovalChoice::Omit {
            parts.push("no field 38".into());
        }
        if let Some(d) = self.delay {
            parts.push(format!("late {} ms", d.as_millis()));
        }
        if self.duplicate {
            parts.push("twice".into());
        }
        if self.stan_offset != 0 {
            parts.push(format!("stan {:+}", self.stan_offset));
        }
        if let Some(c) = self.cut {
            parts.push(format!("cut after {c} bytes, then close"));
        }
        if self.close_after {
            parts.push("then close".into());
        }
        if self.drop {
            parts.push("not sent (drop)".into());
        }
        parts.join(", ")
    }
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    mti: Option<String>,
    amount: Option<u64>,
    amount_ends_with: Option<String>,
    amount_min: Option<u64>,
    amount_max: Option<u64>,
    pan: Option<String>,
    pan_prefix: Option<String>,
    kind: Option<String>,
    cryptogram: Option<String>,
    nth: u32,
    times: Option<u32>,
    seen: u32,
    used: u32,
    action: Action,
}

impl Rule {
    /// Whether the message meets the rule's conditions (not counting nth/times).
    fn meets(&self, f: &Facts<'_>) -> bool {
        let mti_ok = match self.mti.as_deref() {
            Some("any") => true,
            Some(m) => m == f.mti,
            None => f.mti == "0200",
        };
        let amount_ok = self.amount.is_none_or(|a| f.amount == Some(a));
        let min_ok = self
            .amount_min
            .is_none_or(|m| f.amount.is_some_and(|a| a >= m));
        let max_ok = self
            .amount_max
            .is_none_or(|m| f.amount.is_some_and(|a| a <= m));
        let ends_ok = self
            .amount_ends_with
            .as_deref()
            .is_none_or(|e| f.amount.is_some_and(|a| format!("{a:02}").ends_with(e)));
        let pan_ok = self.pan.as_deref().is_none_or(|p| f.pan == Some(p));
        let prefix_ok = self
            .pan_prefix
            .as_deref()
            .is_none_or(|p| f.pan.is_some_and(|x| x.starts_with(p)));
        let kind_ok = self.kind.as_deref().is_none_or(|k| f.kind == Some(k));
        let found = match f.cryptogram {
            Some("valid") => Some("valid"),
            Some("invalid" | "incomplete" | "missing") => Some("bad"),
            Some("absent") => Some("absent"),
            _ => None,
        };
        let cryptogram_ok = self.cryptogram.as_deref().is_none_or(|c| found == Some(c));
        mti_ok
            && amount_ok
            && min_ok
            && max_ok
            && ends_ok
            && pan_ok
            && prefix_ok
            && kind_ok
            && cryptogram_ok
    }

    fn may_fire(&self) -> bool {
        let limit = self.times.or((self.nth > 1).then_some(1));
        self.seen >= self.nth && limit.is_none_or(|t| self.used < t)
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
                amount_min: None,
                amount_max: None,
                pan: None,
                pan_prefix: None,
                kind: None,
                cryptogram: None,
                nth: 1,
                times: None,
                seen: 0,
                used: 0,
                action: Action {
                    code: Some("51".into()),
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
#[serde(untagged)]
enum ApprovalEntry {
    Flag(bool),
    Code(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    mti: Option<String>,
    amount: Option<u64>,
    amount_ends_with: Option<String>,
    amount_min: Option<u64>,
    amount_max: Option<u64>,
    pan: Option<String>,
    pan_prefix: Option<String>,
    kind: Option<String>,
    cryptogram: Option<String>,
    nth: Option<u32>,
    times: Option<u32>,
    code: Option<String>,
    decline: Option<String>,
    partial: Option<u64>,
    approval_code: Option<ApprovalEntry>,
    delay: Option<String>,
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    stan_offset: i64,
    cut: Option<usize>,
    #[serde(default)]
    close_after: bool,
    #[serde(default)]
    drop: bool,
    #[serde(default)]
    close: bool,
    offline: Option<String>,
}

/// Parses `500ms`, `3s`, `3` (seconds), `2m`, `1h`.
pub fn duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .with_context(|| format!("duration {s:?}: expected a number and ms, s, m or h"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(60 * n),
        "h" => Duration::from_secs(3600 * n),
        _ => bail!("duration {s:?}: unit must be ms, s, m or h"),
    })
}

fn two_chars(what: &str, c: &str) -> anyhow::Result<()> {
    if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
        bail!("{what} must be 2 letters or digits (e.g. \"05\"), got {c:?}");
    }
    Ok(())
}

fn entry_to_rule(e: RuleEntry) -> anyhow::Result<Rule> {
    if let Some(m) = &e.mti {
        if !["0200", "0400", "0500", "0800", "any"].contains(&m.as_str()) {
            bail!("mti must be 0200, 0400, 0500, 0800 or any, got {m:?}");
        }
    }
    if let Some(s) = &e.amount_ends_with {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            bail!("amount_ends_with takes digits, got {s:?}");
        }
    }
    for (name, p) in [("pan", &e.pan), ("pan_prefix", &e.pan_prefix)] {
        if let Some(p) = p {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                bail!("{name} takes digits");
            }
        }
    }
    if let Some(k) = &e.kind {
        if !["sale", "cashback", "refund"].contains(&k.as_str()) {
            bail!("kind must be sale, cashback or refund, got {k:?}");
        }
    }
    if let Some(c) = &e.cryptogram {
        if !["valid", "bad", "absent"].contains(&c.as_str()) {
            bail!("cryptogram must be valid, bad or absent, got {c:?}");
        }
        if !(e.mti.is_none() || e.mti.as_deref() == Some("0200")) {
            bail!("cryptogram applies to 0200 only");
        }
    }
    if e.nth == Some(0) {
        bail!("nth counts from 1");
    }
    if e.times == Some(0) {
        bail!("times = 0 would never fire; remove the rule instead");
    }
    let code = match (e.code, e.decline) {
        (Some(_), Some(_)) => bail!("give code or decline, not both"),
        (c, d) => c.or(d),
    };
    if let Some(c) = &code {
        two_chars("code", c)?;
    }
    let only_0200 = e.mti.is_none() || e.mti.as_deref() == Some("0200");
    let code = match e.partial {
        Some(0) => bail!("partial = 0 approves nothing: use code = \"05\" (or another decline)"),
        Some(_) if !only_0200 => bail!("partial applies to 0200 only"),
        Some(_) if code.as_deref().is_some_and(|c| c != "10") => {
            bail!("partial answers with code 10; leave code out or set it to \"10\"")
        }
        Some(_) => Some("10".to_string()),
        None => code,
    };
    let approval = match e.approval_code {
        None | Some(ApprovalEntry::Flag(true)) => ApprovalChoice::Generated,
        Some(_) if !only_0200 => bail!("approval_code applies to 0200 only"),
        Some(ApprovalEntry::Flag(false)) => ApprovalChoice::Omit,
        Some(ApprovalEntry::Code(c)) => {
            if c.is_empty() || c.len() > 6 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
                bail!("approval_code must be 1 to 6 letters or digits, or false, got {c:?}");
            }
            ApprovalChoice::Fixed(c)
        }
    };
    if e.stan_offset.rem_euclid(1_000_000) == 0 && e.stan_offset != 0 {
        bail!("stan_offset {} gives the same trace number", e.stan_offset);
    }
    let silent = [e.close, e.offline.is_some(), e.drop, e.cut.is_some()];
    if silent.iter().filter(|b| **b).count() > 1 {
        bail!("close, offline, drop and cut exclude one another");
    }
    if (e.close || e.offline.is_some())
        && (e.delay.is_some() || e.duplicate || e.close_after || code.is_some())
    {
        bail!("close and offline answer nothing: no code, delay, duplicate or close_after");
    }
    if e.drop && (e.duplicate || e.close_after) {
        bail!("drop sends nothing: no duplicate or close_after");
    }
    Ok(Rule {
        mti: e.mti,
        amount: e.amount,
        amount_ends_with: e.amount_ends_with,
        amount_min: e.amount_min,
        amount_max: e.amount_max,
        pan: e.pan,
        pan_prefix: e.pan_prefix,
        kind: e.kind,
        cryptogram: e.cryptogram,
        nth: e.nth.unwrap_or(1),
        times: e.times,
        seen: 0,
        used: 0,
        action: Action {
            code,
            partial: e.partial,
            approval,
            delay: e.delay.as_deref().map(duration).transpose()?,
            duplicate: e.duplicate,
            stan_offset: e.stan_offset,
            cut: e.cut,
            close_after: e.close_after,
            drop: e.drop,
            close: e.close,
            offline: e.offline.as_deref().map(duration).transpose()?,
        },
    })
}

impl Rules {
    /// Approve everything.
    pub fn approve_all() -> Self {
        Rules { rules: Vec::new() }
    }

    /// Parses a rules file's text ([`RULES_HELP`]).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: RulesFile = toml::from_str(text)?;
        let mut rules = Vec::new();
        for (i, e) in file.rule.into_iter().enumerate() {
            rules.push(entry_to_rule(e).with_context(|| format!("rule #{}", i + 1))?);
        }
        Ok(Rules { rules })
    }

    /// Loads a rules file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading rules {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("rules {}", path.display()))
    }

    /// Whether rule number `n` (from 1, as [`Self::decide_numbered`] gives it) has a
    /// `cryptogram` condition: it then decides instead of the built-in "bad cryptogram"
    /// decline.
    pub fn is_about_cryptogram(&self, n: Option<usize>) -> bool {
        n.and_then(|n| self.rules.get(n.checked_sub(1)?))
            .is_some_and(|r| r.cryptogram.is_some())
    }

    /// The action for a message (counting it for every rule whose conditions it meets).
    pub fn decide(&mut self, facts: &Facts<'_>) -> Action {
        self.decide_numbered(facts).1
    }

    /// The action for a message and the number (from 1) of the rule that fired, if any.
    pub fn decide_numbered(&mut self, facts: &Facts<'_>) -> (Option<usize>, Action) {
        let mut chosen = None;
        for (i, r) in self.rules.iter_mut().enumerate() {
            if !r.meets(facts) {
                continue;
            }
            r.seen = r.seen.saturating_add(1);
            if chosen.is_none() && r.may_fire() {
                r.used += 1;
                chosen = Some((i + 1, r.action.clone()));
            }
        }
        match chosen {
            Some((n, a)) => (Some(n), a),
            None => (None, Action::default()),
        }
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
            kind: Some("sale"),
            cryptogram: Some("valid"),
        }
    }

    #[test]
    fn a_cryptogram_rule_matches_what_the_check_found() {
        let mut r = Rules::parse(
            "[[rule]]\ncryptogram = \"bad\"\ncode = \"05\"\n\
             [[rule]]\ncryptogram = \"absent\"\ncode = \"12\"\n",
        )
        .unwrap();
        for (found, code, rule) in [
            ("invalid", Some("05"), Some(1)),
            ("missing", Some("05"), Some(1)),
            ("absent", Some("12"), Some(2)),
            ("valid", None, None),
        ] {
            let f = Facts {
                cryptogram: Some(found),
                ..sale(100)
            };
            let (n, a) = r.decide_numbered(&f);
            assert_eq!((a.code.as_deref(), n), (code, rule), "{found}");
            assert_eq!(r.is_about_cryptogram(n), n.is_some());
        }
        assert!(!Rules::default().is_about_cryptogram(Some(1)));
        assert!(Rules::parse("[[rule]]\ncryptogram = \"odd\"\n").is_err());
        assert!(Rules::parse("[[rule]]\nmti = \"0400\"\ncryptogram = \"bad\"\n").is_err());
    }

    #[test]
    fn default_declines_51() {
        let mut r = Rules::default();
        assert_eq!(r.decide(&sale(1251)).code.as_deref(), Some("51"));
        assert_eq!(r.decide(&sale(1250)), Action::default());
        assert_eq!(r.decide(&sale(51)).code.as_deref(), Some("51"));
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
        assert_eq!(r.decide(&sale(100)).code.as_deref(), Some("05"));
        let echo = Facts {
            mti: "0800",
            ..Facts::default()
        };
        assert_eq!(r.decide(&echo).delay, Some(Duration::from_millis(20)));
        assert!(Rules::parse("[[rule]]\ndecline = \"5\"\n").is_err());
        assert!(Rules::parse("[[rule]]\nmti = \"0300\"\n").is_err());
        assert!(Rules::parse("[[rule]]\nbogus = 1\n").is_err());
    }

    /// The example in `--help` parses and does what its comments say.
    #[test]
    fn help_example_parses_and_works() {
        let example = RULES_HELP.split("Example:\n").nth(1).unwrap();
        let mut r = Rules::parse(example).unwrap();
        assert_eq!(r.decide(&sale(100)), Action::default());
        assert_eq!(r.decide(&sale(100)), Action::default());
        assert_eq!(r.decide(&sale(100)).code.as_deref(), Some("91"));
        assert_eq!(r.decide(&sale(100)), Action::default());
        let mc = Facts {
            pan: Some("5413330089020011"),
            ..sale(100)
        };
        assert_eq!(r.decide(&mc).approval, ApprovalChoice::Omit);
        let big = r.decide(&sale(25_000));
        assert_eq!(
            (big.code.as_deref(), big.partial),
            (Some("10"), Some(10_000))
        );
        let late = r.decide(&sale(4242));
        assert!(late.duplicate && late.delay == Some(Duration::from_secs(3)));
        let rev = Facts {
            mti: "0400",
            ..sale(100)
        };
        assert_eq!(r.decide(&rev).code.as_deref(), Some("91"));
        assert_eq!(r.decide(&rev), Action::default());
    }

    /// The README's rules example parses and does what its comments say.
    #[test]
    fn readme_example_parses() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let block = readme
            .split("```toml\n")
            .find(|b| b.contains("[[rule]]"))
            .and_then(|b| b.split("```").next())
            .expect("a rules example in the README");
        let mut r = Rules::parse(block).unwrap();
        let codes: Vec<_> = (0..3).map(|_| r.decide(&sale(100)).code).collect();
        assert_eq!(codes, [None, None, Some("91".to_string())]);
        assert_eq!(r.decide(&sale(10_000)).partial, Some(10_000));
        let rev = Facts {
            mti: "0400",
            ..sale(100)
        };
        assert_eq!(r.decide(&rev).code.as_deref(), Some("91"));
    }

    #[test]
    fn nth_fires_on_the_nth_message_meeting_the_conditions_even_if_an_earlier_rule_took_one() {
        let mut r = Rules::parse(
            "[[rule]]\namount = 1\ncode = \"05\"\n[[rule]]\nnth = 3\ntimes = 2\ncode = \"96\"\n",
        )
        .unwrap();
        let codes: Vec<_> = [2, 1, 2, 2, 2]
            .iter()
            .map(|a| r.decide(&sale(*a)).code)
            .collect();
        // The 2nd message (amount 1) goes to rule 1 but still counts for rule 2.
        assert_eq!(
            codes,
            [
                None,
                Some("05".into()),
                Some("96".into()),
                Some("96".into()),
                None
            ]
        );
    }

    #[test]
    fn any_code_partial_approval_code_and_faults_parse() {
        for c in [
            "00", "05", "08", "10", "11", "25", "51", "55", "91", "96", "N7",
        ] {
            let mut r = Rules::parse(&format!("[[rule]]\ncode = \"{c}\"\n")).unwrap();
            assert_eq!(r.decide(&sale(5)).code.as_deref(), Some(c));
        }
        let mut r = Rules::parse(
            "[[rule]]\nkind = \"refund\"\napproval_code = \"XYZ123\"\n\
             [[rule]]\namount_max = 99\nstan_offset = -1\ncut = 7\n\
             [[rule]]\nclose_after = true\nduplicate = true\n",
        )
        .unwrap();
        let refund = Facts {
            kind: Some("refund"),
            ..sale(500)
        };
        assert_eq!(
            r.decide(&refund).approval,
            ApprovalChoice::Fixed("XYZ123".into())
        );
        let a = r.decide(&sale(50));
        assert_eq!((a.stan_offset, a.cut), (-1, Some(7)));
        let a = r.decide(&sale(500));
        assert!(a.close_after && a.duplicate);
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (text, says) in [
            ("code = \"05\"\ndecline = \"05\"", "not both"),
            ("partial = 5\ncode = \"00\"", "code 10"),
            ("mti = \"0400\"\npartial = 5", "0200 only"),
            ("mti = \"0800\"\napproval_code = false", "0200 only"),
            ("approval_code = \"TOOLONG1\"", "1 to 6"),
            ("close = true\ndrop = true", "exclude"),
            ("close = true\ncode = \"05\"", "answer nothing"),
            ("drop = true\nduplicate = true", "drop sends nothing"),
            ("nth = 0", "from 1"),
            ("partial = 0", "approves nothing"),
            ("times = 0", "never fire"),
            ("kind = \"void\"", "kind"),
            ("delay = \"3 days\"", "unit"),
            ("pan_prefix = \"47x\"", "digits"),
        ] {
            let e = Rules::parse(&format!("[[rule]]\n{text}\n")).unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.contains(says), "{text}: {msg}");
            assert!(msg.contains("rule #1"), "{msg}");
        }
    }
}
