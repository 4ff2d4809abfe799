//! Coin wallets: each user's balance and its ledger. Every change of a balance is one ledger
//! entry written in the same transaction ([`store`]); a debit is a conditional update, so a
//! balance never goes below zero, whatever runs at the same time. Other domains debit inside
//! their own transaction (a purchase) through [`store::debit`].

pub mod service;
pub mod store;

use serde::Serialize;
use utoipa::ToSchema;

/// One change of a balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    #[schema(value_type = crate::schema::Id)]
    pub id: String,
    /// Coins added (positive) or taken (negative).
    pub amount: i64,
    /// The balance after this entry.
    pub balance_after: i64,
    /// `topup`, `credit`, `purchase`, `refund` or `subscription`.
    pub reason: String,
    /// What it was for (a purchase's id), if anything.
    pub reference: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A user's wallet: the balance and the newest ledger entries.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
    pub balance: i64,
    /// The newest entries first (at most [`ENTRIES_SHOWN`]).
    pub entries: Vec<LedgerEntry>,
}

/// How many ledger entries a wallet shows.
pub const ENTRIES_SHOWN: i64 = 100;

/// The largest top-up at once.
pub const MAX_TOPUP: i64 = 1_000_000;
