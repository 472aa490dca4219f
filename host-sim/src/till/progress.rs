//! The "waiting for terminal response" progress line on stderr: what the terminal says it is
//! doing (ČSOB activity messages with a stage; Concert sends none and the line says so), the
//! time left of the till's limit, and how to cancel.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ecrlink_core::session::{Dialect, Progress as Stage};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::i18n::{Lang, waiting_text};

/// A spinner with the elapsed seconds, drawn only when asked for and stderr is a terminal.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    stage: Arc<Mutex<Option<Stage>>>,
}

/// The terminal's stage as the till shows it.
pub fn stage_text(lang: Lang, stage: Stage) -> &'static str {
    let (cs, en, fr) = match stage {
        Stage::PresentCard => ("přiložte kartu", "present card", "présentez la carte"),
        Stage::PinEntry => ("zadávání PINu", "PIN entry", "saisie du code"),
        Stage::CardRead => ("karta načtena", "card read", "carte lue"),
        Stage::ContactingBank => ("spojení s bankou", "contacting bank", "appel de la banque"),
        Stage::Printing => ("tisk účtenky", "printing", "impression"),
    };
    pick(lang, cs, en, fr)
}

fn pick(lang: Lang, cs: &'static str, en: &'static str, fr: &'static str) -> &'static str {
    crate::i18n::pick(lang, cs, en, fr)
}

/// The progress line's text: the terminal's stage (or "waiting for terminal response"), the
/// seconds left of the till's limit, and the cancel hint (ČSOB), or that Concert tells no
/// stages.
pub fn progress_text(lang: Lang, dialect: Dialect, stage: Option<Stage>, left: Duration) -> String {
    let what = match stage {
        Some(s) => format!(
            "{}{}",
            pick(lang, "terminál: ", "terminal: ", "terminal : "),
            stage_text(lang, s)
        ),
        None => waiting_text(lang).to_string(),
    };
    let secs = left.as_secs();
    let left = match lang {
        Lang::Cs => format!("zbývá {secs} s"),
        Lang::Fr => format!("{secs} s restantes"),
        _ => format!("{secs} s left"),
    };
    let hint = match dialect {
        Dialect::Csob | Dialect::Zvt => {
            pick(lang, "Ctrl-C zruší", "Ctrl-C cancels", "Ctrl-C annule")
        }
        Dialect::Concert => pick(
            lang,
            "Concert nehlásí, co terminál dělá",
            "Concert tells no terminal stages",
            "Concert n'indique pas l'étape du terminal",
        ),
    };
    format!("{what} · {left} · {hint}")
}

impl Progress {
    /// Starts the spinner with `message` if `enabled` and stderr is a terminal; otherwise a
    /// progress that draws nothing.
    pub fn start(enabled: bool, message: &'static str) -> Self {
        let p = Progress::hidden(enabled);
        if let Some(bar) = &p.bar {
            bar.set_style(plain_style());
            bar.set_message(message);
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        p
    }

    /// Starts the spinner on the terminal's stages (`progress_text`) until `deadline`, the
    /// till's limit.
    pub fn start_waiting(enabled: bool, lang: Lang, dialect: Dialect, deadline: Instant) -> Self {
        let p = Progress::hidden(enabled);
        if let Some(bar) = &p.bar {
            let stage = p.stage.clone();
            let style = ProgressStyle::with_template("{spinner} {line}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner())
                .with_key(
                    "line",
                    move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let s = stage.lock().ok().and_then(|g| *g);
                        let left = deadline.saturating_duration_since(Instant::now());
                        let _ = w.write_str(&progress_text(lang, dialect, s, left));
                    },
                );
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        p
    }

    fn hidden(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal())
            .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
        Progress {
            bar,
            stage: Arc::default(),
        }
    }

    /// Whether anything is drawn.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Shows the terminal's stage (the line started with [`Progress::start_waiting`]).
    pub fn set_stage(&self, stage: Stage) {
        if let Ok(mut g) = self.stage.lock() {
            *g = Some(stage);
        }
        if let Some(bar) = &self.bar {
            bar.tick();
        }
    }

    /// Changes the message (and leaves the stages: interrupted, asking for the last
    /// transaction).
    pub fn set_message(&self, message: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_style(plain_style());
            bar.set_message(message);
        }
    }

    /// Removes the line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn plain_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} … {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_the_stage_the_time_left_and_how_to_cancel() {
        let l = progress_text(
            Lang::En,
            Dialect::Csob,
            Some(Stage::PresentCard),
            Duration::from_millis(54_900),
        );
        assert_eq!(l, "terminal: present card · 54 s left · Ctrl-C cancels");
        let l = progress_text(Lang::En, Dialect::Csob, None, Duration::from_secs(60));
        assert_eq!(
            l,
            "waiting for terminal response · 60 s left · Ctrl-C cancels"
        );
        let l = progress_text(
            Lang::Cs,
            Dialect::Csob,
            Some(Stage::ContactingBank),
            Duration::from_secs(3),
        );
        assert_eq!(l, "terminál: spojení s bankou · zbývá 3 s · Ctrl-C zruší");
    }

    #[test]
    fn over_concert_the_line_says_there_are_no_stages() {
        let l = progress_text(Lang::En, Dialect::Concert, None, Duration::from_secs(12));
        assert_eq!(
            l,
            "waiting for terminal response · 12 s left · Concert tells no terminal stages"
        );
    }
}
