//! Placeholder: the half-duplex link session (filled in by the foundation issue).
