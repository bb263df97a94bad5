//! Bit-level writer and reader used by the chunk encodings.
