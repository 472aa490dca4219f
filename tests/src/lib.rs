//! Shared helpers for the workspace tests (see `tests/tests/`).
