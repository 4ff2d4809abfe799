//! xcord's embedded TURN server, for clients that cannot reach the SFU directly: TURN over UDP
//! and over TLS (port 443 passes firewalls that allow only HTTPS), relaying only to the SFU's
//! own media addresses, with short-lived credentials the SFU hands out with each join.
//!
//! The protocol state machine is `turn-server-proto` (sans-IO: allocations, refreshes,
//! permissions, channels, send and data indications, long-term authentication); this crate
//! owns its sockets, its clock and the policy around it ([`server`]), the credential scheme
//! ([`credentials`]), message boundaries on streams ([`stream`]) and TLS settings ([`tls`]).

pub mod credentials;
pub mod server;
pub mod stream;
pub mod tls;

pub use credentials::{CredentialSecret, Credentials};
pub use server::{TurnAddrs, TurnConfig, start};
