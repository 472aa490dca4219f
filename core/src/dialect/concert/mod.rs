//! Ingenico Concert V2 (protocol E / E+), the French *liaison caisse*: till ⇄ terminal over a
//! serial line or TCP.
//!
//! - [`fields`]: the coded fields (answer flag, payment mode, transaction type, status, …).
//! - [`message`]: [`ConcertRequest`] and [`ConcertAnswer`] parse/emit, byte ranges as constants.
//! - [`map`]: to and from the [`crate::txn`] model.
//! - [`session`]: [`ConcertTerminal`] and [`ConcertEcr`], the [`crate::session`] traits over
//!   the [`crate::link::session::LinkSession`].
//!
//! What the terminal side supports, and the public source of each fact (`pTM` = pyTeliumManager
//! 2.4.2, `telium/…`; `pps` = pypostelium 0.0.5, `pypostelium.py`):
//!
//! | what | supported | source |
//! |---|---|---|
//! | link | ENQ → ACK, frame (STX … ETX LRC) → ACK, EOT; each way | pTM `manager.py` `ask`/`verify`; pps `transaction_start` |
//! | request | 34 bytes: POS, amount, answer flag, mode, type, currency, private, delay, authorization | pTM `payment.py` `TeliumAsk.encode`; pps `send_message` |
//! | transaction types | `'0'` debit → sale; `'1'` credit and `'2'` refund → refund; `'4'` auto refused (`'7'`) | pTM `constant.py` |
//! | payment modes | card modes run; `'C'` cheque refused (`'7'`) | pTM `constant.py`; pps `prepare_data_to_send` |
//! | answer forms | `'1'` full (83-byte frame, masked card number), `'0'` short (28 bytes) | pTM `constant.py` `TERMINAL_ANSWER_*_SIZE`; pps `get_answer_from_terminal` |
//! | delay `A010` | answered after the transaction, with its result (the till waits up to 120 s) | pTM `TERMINAL_REQUEST_ANSWER_WAIT_FOR_TRANSACTION`, `DELAY_TERMINAL_ANSWER_TRANSACTION` |
//! | delay `A011` | answered at once, status `'9'`, the request's amount; the result stays the last transaction | pTM `TeliumAsk.delay`, `new_payment`; pps sends it always and waits 3 s |
//! | statuses | `'0'` success, `'7'` rejected, `'9'` not verified | pTM `TERMINAL_PAYMENT_*` |
//! | private field | the till's text echoed; blank → the approval code, else the trace number | pTM `TeliumData.private`, `TeliumResponse.transaction_id`; pps `compare_data_vs_answer` |
//! | busy | ENQ answered NAK while a transaction runs (never an ACK for what is not taken) | pTM `ask` ("not ready … or not busy"); pps `initialize_msg` retries |
//! | ENQ collision | the terminal yields; a new request drops the undelivered answer | pTM `ask` cannot yield (it fails on any byte but ACK) |
//! | timers | ACK within 3 s; a refused ENQ is tried again 1 s later | pps `transaction_start` (serial timeout 3 s), `initialize_msg` (EOT, 1 s, `telium_terminal_retry_count` more tries) |
//!
//! Public sources (facts only, no code): `Ousret/pyTeliumManager` (`telium/payment.py`,
//! `telium/manager.py`, `telium/constant.py`) and `akretion/pypostelium` (`pypostelium.py`).
//! Nothing here has been checked against a real terminal; the tests reproduce the example
//! frame of the project's DESIGN notes and the layouts those libraries emit.

pub mod fields;
pub mod map;
pub mod message;
pub mod session;

pub use fields::{
    AnswerForm, Authorization, Delay, PaymentMode, PrivateData, Status, TransactionType,
};
pub use map::RequestOptions;
pub use message::{ConcertAnswer, ConcertMessage, ConcertRequest, MAX_AMOUNT_MINOR};
pub use session::{ConcertEcr, ConcertEcrConfig, ConcertTerminal, ConcertTerminalConfig};
