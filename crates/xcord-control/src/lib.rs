//! xcord's control plane: the application backend around the media plane — accounts (so far),
//! the HTTP API, storage on SQLite or PostgreSQL, and the `MediaPlane` boundary (LiveKit's server
//! API, in-process or over HTTP) with the handling of its events.

pub mod accounts;
pub mod api;
pub mod communities;
pub mod conversations;
pub mod db;
pub mod error;
pub mod media;
pub mod realtime;
pub mod voice;
