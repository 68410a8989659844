//! The mailing-list port: add or update a member (an upsert, so safe to repeat).

use async_trait::async_trait;
use domain::{EmailAddress, PersonName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub email: EmailAddress,
    pub first_name: PersonName,
    pub last_name: PersonName,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudienceError {
    #[error("mailing-list provider unavailable: {0}")]
    Unavailable(String),
    #[error("member rejected by the mailing-list provider: {0}")]
    Rejected(String),
}

#[async_trait]
pub trait Audience: Send + Sync {
    async fn upsert_member(&self, member: &Member) -> Result<(), AudienceError>;
}
