//! The one mapping between an order and its row, shared by every store.
//!
//! Both stores have the same columns; only their SQL types differ. [`OrderRow`] holds the values
//! as both databases hand them over (text, booleans, UTC times): each store's SQL casts what needs
//! casting (PostgreSQL's `UUID` and `NUMERIC` to and from text), so the conversions to and from the
//! domain live here once. Reading an order back goes through the domain's parsers, so a row that
//! no longer makes a valid order is reported as [`StoreError::Corrupt`], never returned.

use chrono::{DateTime, SubsecRound, Utc};
use domain::{
    Attendee, Currency, EmailAddress, Money, OrderId, OrderPlaced, Organization, PaymentReceipt,
    PersonName, TicketId, TicketRef,
};
use group_commit::Arg;

use crate::{StoreError, StoredOrder};

/// An order's columns, as stored.
#[derive(Debug)]
pub(crate) struct OrderRow {
    order_id: String,
    placed_at: DateTime<Utc>,
    ticket_id: String,
    ticket_name: String,
    amount_value: String,
    amount_currency: String,
    first_name: String,
    last_name: String,
    email: String,
    organization: Option<String>,
    newsletter: bool,
    payment_provider: String,
    capture_id: String,
    stored_at: DateTime<Utc>,
}

/// Written out as `#[derive(sqlx::FromRow)]` would write it: the derive needs sqlx's macros,
/// which build both database drivers a second time (see the `embedded-migrations` crate).
impl<'r, R: sqlx::Row> sqlx::FromRow<'r, R> for OrderRow
where
    &'r str: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    DateTime<Utc>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn from_row(row: &'r R) -> Result<Self, sqlx::Error> {
        Ok(Self {
            order_id: row.try_get("order_id")?,
            placed_at: row.try_get("placed_at")?,
            ticket_id: row.try_get("ticket_id")?,
            ticket_name: row.try_get("ticket_name")?,
            amount_value: row.try_get("amount_value")?,
            amount_currency: row.try_get("amount_currency")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            email: row.try_get("email")?,
            organization: row.try_get("organization")?,
            newsletter: row.try_get("newsletter")?,
            payment_provider: row.try_get("payment_provider")?,
            capture_id: row.try_get("capture_id")?,
            stored_at: row.try_get("stored_at")?,
        })
    }
}

impl OrderRow {
    /// The row for `order`, first stored at `stored_at`.
    ///
    /// Times are kept to the microsecond, PostgreSQL's resolution, in every store, so an order
    /// reads back the same whichever store holds it.
    pub(crate) fn new(order: &OrderPlaced, stored_at: DateTime<Utc>) -> Self {
        Self {
            order_id: order.order_id.to_string(),
            placed_at: order.placed_at.trunc_subsecs(6),
            ticket_id: order.ticket.id.as_str().to_owned(),
            ticket_name: order.ticket.name.clone(),
            amount_value: order.amount.value(),
            amount_currency: order.amount.currency().code().to_owned(),
            first_name: order.attendee.first_name.as_str().to_owned(),
            last_name: order.attendee.last_name.as_str().to_owned(),
            email: order.attendee.email.as_str().to_owned(),
            organization: order
                .attendee
                .organization
                .as_ref()
                .map(|o| o.as_str().to_owned()),
            newsletter: order.newsletter,
            payment_provider: order.payment.provider.clone(),
            capture_id: order.payment.capture_id.clone(),
            stored_at: stored_at.trunc_subsecs(6),
        }
    }

    /// The order's id (what each store's `INSERT … RETURNING` gives back when the row is new)
    /// and the fourteen values in the order of [`OrderRow`]'s fields, which is the order of the
    /// columns in each store's `INSERT`.
    pub(crate) fn into_insert(self) -> (String, Vec<Arg>) {
        let text = |value: String| Arg::Text(Some(value));
        (
            self.order_id.clone(),
            vec![
                text(self.order_id),
                Arg::Time(self.placed_at),
                text(self.ticket_id),
                text(self.ticket_name),
                text(self.amount_value),
                text(self.amount_currency),
                text(self.first_name),
                text(self.last_name),
                text(self.email),
                Arg::Text(self.organization),
                Arg::Bool(self.newsletter),
                text(self.payment_provider),
                text(self.capture_id),
                Arg::Time(self.stored_at),
            ],
        )
    }

    /// Rebuilds the stored order through the domain's parsers.
    pub(crate) fn into_stored(self) -> Result<StoredOrder, StoreError> {
        fn corrupt(column: &str, e: impl std::fmt::Display) -> StoreError {
            StoreError::Corrupt(format!("{column}: {e}"))
        }
        let currency =
            Currency::parse(&self.amount_currency).map_err(|e| corrupt("amount_currency", e))?;
        let order = OrderPlaced {
            version: OrderPlaced::VERSION,
            order_id: OrderId::parse(&self.order_id).map_err(|e| corrupt("order_id", e))?,
            placed_at: self.placed_at,
            ticket: TicketRef {
                id: TicketId::parse(&self.ticket_id).map_err(|e| corrupt("ticket_id", e))?,
                name: self.ticket_name,
            },
            amount: Money::parse(&self.amount_value, currency)
                .map_err(|e| corrupt("amount_value", e))?,
            attendee: Attendee {
                first_name: PersonName::parse(&self.first_name)
                    .map_err(|e| corrupt("first_name", e))?,
                last_name: PersonName::parse(&self.last_name)
                    .map_err(|e| corrupt("last_name", e))?,
                email: EmailAddress::parse(&self.email).map_err(|e| corrupt("email", e))?,
                organization: self
                    .organization
                    .map(|o| Organization::parse(&o).map_err(|e| corrupt("organization", e)))
                    .transpose()?,
            },
            newsletter: self.newsletter,
            payment: PaymentReceipt {
                provider: self.payment_provider,
                capture_id: self.capture_id,
            },
        };
        Ok(StoredOrder {
            order,
            stored_at: self.stored_at,
        })
    }
}

/// Classifies an error from reading order rows: a value the row type cannot decode (a time that
/// is not a time, a column of the wrong type) is a corrupt row, anything else a failed query.
/// The orders that a query read, or why it could not: the one ending of every listing query.
pub(crate) fn stored_orders(
    rows: Result<Vec<OrderRow>, sqlx::Error>,
) -> Result<Vec<StoredOrder>, StoreError> {
    rows.map_err(read_error)?
        .into_iter()
        .map(OrderRow::into_stored)
        .collect()
}

pub(crate) fn read_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => {
            StoreError::Corrupt(format!("{index}: {source}"))
        }
        other => StoreError::Query(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> OrderPlaced {
        OrderPlaced::from_json(include_str!(
            "../../../shared/domain/data/order-placed.example.json"
        ))
        .expect("valid order")
    }

    #[test]
    fn an_order_survives_its_row() {
        let stored_at = Utc::now();
        let stored = OrderRow::new(&example(), stored_at)
            .into_stored()
            .expect("parses");
        assert_eq!(stored.order, example());
        assert_eq!(stored.stored_at, stored_at.trunc_subsecs(6));
    }

    #[test]
    fn a_row_that_is_no_longer_a_valid_order_is_corrupt() {
        let mut row = OrderRow::new(&example(), Utc::now());
        row.amount_value = "250.5".to_owned();
        let err = row.into_stored().expect_err("corrupt");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.starts_with("amount_value:")),
            "{err}"
        );
        let undecodable = sqlx::Error::ColumnDecode {
            index: "\"placed_at\"".to_owned(),
            source: "invalid datetime: yesterday".into(),
        };
        assert!(matches!(read_error(undecodable), StoreError::Corrupt(_)));
        assert!(matches!(
            read_error(sqlx::Error::PoolTimedOut),
            StoreError::Query(_)
        ));
    }
}
