//! The head: series registry and in-memory chunks (being implemented).
