//! What one terminal's panel shows, kept up to date from its stages and state, and handed to
//! every open page as JSON (a `watch` channel: a slow page skips to the newest view).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::Controls;
use super::stage::{BankFault, Stage};
use crate::server::AgentState;

/// Transactions kept for the page.
const HISTORY: usize = 20;

/// One answered request and the receipt printed for it.
#[derive(Clone, Serialize)]
struct Txn {
    answer: Stage,
    receipt: Option<String>,
}

#[derive(Clone, Serialize)]
struct View {
    name: String,
    listen: Vec<String>,
    seq: u64,
    screen: Stage,
    power: &'static str,
    printing: bool,
    tester_decides: bool,
    bank: BankFault,
    history: VecDeque<Txn>,
    note: String,
}

/// A terminal's view, shared by the updating task and the page handlers.
#[derive(Clone)]
pub(super) struct ViewHandle {
    view: Arc<Mutex<View>>,
    tx: Arc<watch::Sender<Arc<String>>>,
    controls: Controls,
}

impl ViewHandle {
    /// A receiver of the view as JSON (the current one first).
    pub(super) fn subscribe(&self) -> watch::Receiver<Arc<String>> {
        self.tx.subscribe()
    }

    /// Sends the view again after a tester's action (`note` says what it did).
    pub(super) fn refresh(&self, note: &str) {
        self.update(|v| v.note = note.to_string());
    }

    fn update(&self, f: impl FnOnce(&mut View)) {
        let Ok(mut v) = self.view.lock() else { return };
        f(&mut v);
        v.seq += 1;
        v.tester_decides = self.controls.hooks.desk.tester_decides();
        v.bank = self.controls.hooks.bank_fault.get();
        if let Ok(json) = serde_json::to_string(&*v) {
            self.tx.send_replace(Arc::new(json));
        }
    }
}

fn power(s: AgentState) -> &'static str {
    match s {
        AgentState::Awake => "awake",
        AgentState::Asleep => "asleep",
        AgentState::Stopped => "stopped",
    }
}

/// Starts following `controls`' terminal.
pub(super) fn spawn(controls: &Controls) -> ViewHandle {
    let view = View {
        name: controls.name.clone(),
        listen: controls.listen.clone(),
        seq: 0,
        screen: Stage::Idle,
        power: power(*controls.state.borrow()),
        printing: false,
        tester_decides: controls.hooks.desk.tester_decides(),
        bank: controls.hooks.bank_fault.get(),
        history: controls
            .hooks
            .journal_last
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .map(|answer| Txn {
                answer,
                receipt: None,
            })
            .into_iter()
            .collect(),
        note: String::new(),
    };
    let json = serde_json::to_string(&view).unwrap_or_default();
    let handle = ViewHandle {
        view: Arc::new(Mutex::new(view)),
        tx: Arc::new(watch::channel(Arc::new(json)).0),
        controls: controls.clone(),
    };
    let mut stages = controls.hooks.stages.subscribe();
    let mut state = controls.state.clone();
    let h = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                s = stages.recv() => match s {
                    Ok(stage) => h.update(|v| apply(v, stage)),
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(n, "UI view fell behind the stages");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = state.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let s = *state.borrow_and_update();
                    h.update(|v| {
                        v.power = power(s);
                        if s == AgentState::Awake {
                            v.screen = Stage::Idle;
                            v.printing = false;
                        }
                    });
                }
            }
        }
    });
    handle
}

fn apply(v: &mut View, stage: Stage) {
    match stage {
        Stage::Printing { receipt } => {
            v.printing = true;
            if let Some(t) = v.history.front_mut() {
                if t.receipt.is_none() {
                    t.receipt = Some(receipt);
                }
            }
        }
        Stage::Answer { .. } => {
            v.history.push_front(Txn {
                answer: stage.clone(),
                receipt: None,
            });
            v.history.truncate(HISTORY);
            v.screen = stage;
        }
        Stage::Request { .. } => {
            v.printing = false;
            v.note.clear();
            v.screen = stage;
        }
        other => v.screen = other,
    }
}
