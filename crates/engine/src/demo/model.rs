//! Row types of the demo warehouse and the single column description that
//! the DDL and every loader are driven from.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDateTime;
use rust_decimal::Decimal;

use super::DemoConfig;

/// Text identifiers are kept as integers in memory: the events table alone
/// holds ~10M rows at scale 1000, and a `String` per id would triple its size.
/// The fixed-width lowercase hex rendering keeps text order equal to numeric
/// order, so sorting by the newtype sorts like the database does.
macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl $name {
            /// The prefix every rendered id starts with.
            pub const PREFIX: &'static str = $prefix;
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{:016x}"), self.0)
            }
        }
    };
}

text_id!(
    /// A cookie id (`anonymous_id` columns), rendered like `anon_3f9a…`.
    AnonymousId,
    "anon_"
);
text_id!(
    /// A device fingerprint (`device_id` columns), rendered like `dev_51c2…`.
    DeviceId,
    "dev_"
);
text_id!(
    /// A web session (`session_id` columns), rendered like `sess_0b7e…`.
    SessionId,
    "sess_"
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub account_id: i64,
    pub name: String,
    pub plan: &'static str,
    pub industry: &'static str,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    pub customer_id: i64,
    pub account_id: Option<i64>,
    pub email: String,
    pub country: &'static str,
    pub region: &'static str,
    pub segment: &'static str,
    pub acquisition_channel: &'static str,
    pub signed_up_at: NaiveDateTime,
    pub is_test: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub product_id: i64,
    pub name: String,
    pub category: &'static str,
    pub brand: &'static str,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_id: DeviceId,
    pub customer_id: Option<i64>,
    pub device_type: &'static str,
    pub os: &'static str,
    pub first_seen_at: NaiveDateTime,
}

/// The `anonymous_id` of an identity link: a cookie, or junk a broken
/// tracker wrote where a cookie id belongs (see [`LinkNoise`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkAnonymousId {
    Cookie(AnonymousId),
    /// Stored as written: untrimmed, any case, possibly empty.
    Junk(&'static str),
}

impl LinkAnonymousId {
    /// The cookie, unless this is junk.
    pub fn cookie(self) -> Option<AnonymousId> {
        match self {
            LinkAnonymousId::Cookie(a) => Some(a),
            LinkAnonymousId::Junk(_) => None,
        }
    }
}

impl fmt::Display for LinkAnonymousId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkAnonymousId::Cookie(a) => a.fmt(f),
            LinkAnonymousId::Junk(s) => f.write_str(s),
        }
    }
}

/// Text order, as the database sorts the column (cookies' fixed-width hex
/// makes their numeric order the text order).
impl Ord for LinkAnonymousId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (self, other) {
            (LinkAnonymousId::Cookie(a), LinkAnonymousId::Cookie(b)) => a.cmp(b),
            _ => self.to_string().cmp(&other.to_string()),
        }
    }
}

impl PartialOrd for LinkAnonymousId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    pub anonymous_id: LinkAnonymousId,
    pub customer_id: i64,
    pub linked_at: NaiveDateTime,
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: SessionId,
    pub anonymous_id: AnonymousId,
    pub customer_id: Option<i64>,
    pub device_id: DeviceId,
    pub started_at: NaiveDateTime,
    pub ended_at: NaiveDateTime,
    pub channel: &'static str,
    pub landing_page: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: i64,
    pub session_id: SessionId,
    pub anonymous_id: AnonymousId,
    pub customer_id: Option<i64>,
    pub event_type: &'static str,
    pub occurred_at: NaiveDateTime,
    pub page: &'static str,
    pub product_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: i64,
    pub customer_id: i64,
    pub session_id: Option<SessionId>,
    pub ordered_at: NaiveDateTime,
    pub status: &'static str,
    pub amount: Decimal,
    pub discount: Decimal,
    pub refunded_amount: Decimal,
    pub refunded_at: Option<NaiveDateTime>,
    pub currency: &'static str,
    pub channel: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub order_item_id: i64,
    pub order_id: i64,
    pub product_id: i64,
    pub quantity: i32,
    pub unit_price: Decimal,
    pub line_amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketingTouch {
    pub touch_id: i64,
    pub anonymous_id: AnonymousId,
    pub customer_id: Option<i64>,
    pub touched_at: NaiveDateTime,
    pub channel: &'static str,
    pub campaign: Option<&'static str>,
    pub source: &'static str,
    pub medium: &'static str,
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub consent_event_id: i64,
    pub customer_id: i64,
    pub purpose: &'static str,
    pub status: &'static str,
    pub occurred_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportTicket {
    pub ticket_id: i64,
    pub customer_id: i64,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub priority: &'static str,
    pub category: &'static str,
    pub csat_score: Option<i32>,
}

/// A customer's request to have their personal data erased or suppressed
/// (GDPR art. 17/21). At most one per customer. The metric layer must leave
/// these customers out of every count; their rows elsewhere stay in place,
/// as a warehouse keeps them until the erasure job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRequest {
    pub erasure_request_id: i64,
    pub customer_id: i64,
    /// After the customer's signup, within 2025.
    pub requested_at: NaiveDateTime,
    /// `erasure`, `objection` or `suppression`.
    pub reason: &'static str,
}

/// Who really is behind one cookie. Never loaded into a database: it is the
/// answer key for identity stitching.
///
/// The observable identity graph has these edges and no others (besides
/// the [`LinkNoise`] rows of `identity_links`, which the identity rules
/// block or cut):
/// `identity_links` (anonymous_id–customer_id), `sessions` (anonymous_id–device_id,
/// and anonymous_id–customer_id when `customer_id` is set), `events` and
/// `marketing_touches` (anonymous_id–customer_id when `customer_id` is set) and
/// `devices` (device_id–customer_id when `customer_id` is set). No edge ever joins
/// two different people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousTruth {
    pub anonymous_id: AnonymousId,
    /// Hidden person id; people who never sign up have one too.
    pub person_id: u64,
    /// The device this cookie lives on.
    pub device_id: DeviceId,
    /// The person's customer id, if that person ever signed up (even when
    /// this cookie cannot be tied to it).
    pub customer_id: Option<i64>,
    /// The cookie reaches `customer_id` through the observable graph (any
    /// number of hops). False for people who never signed up, and for
    /// customers' cookies that were never logged in, e-mail-clicked or used on
    /// a device that was: those are deliberately unlinkable.
    pub linkable: bool,
    /// The cookie has a one-hop link: an `identity_links` row (every
    /// anonymous_id–customer_id pair seen in sessions, events or touches also
    /// has one).
    pub direct: bool,
}

/// An `identity_links` row set that names nobody in particular: junk, or a
/// cookie several customers share. Drawn from a stream of its own after
/// everything else is final, so no other row changed when it was added.
/// Part of the answer key: stitching must keep every real person intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkNoise {
    pub anonymous_id: LinkAnonymousId,
    pub kind: NoiseKind,
    /// The customers it is linked to: distinct, sorted, at least two (so
    /// it would merge them if nothing stopped it).
    pub customers: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseKind {
    /// Junk that the identity definitions block once trimmed and
    /// lower-cased (`''`, `'null'`, `' Anonymous '`, `'TEST-…'`): it must
    /// not be in the map.
    Blocked,
    /// A real-looking cookie of a shared browser (a kiosk, a family
    /// laptop), seen nowhere but in these links. The limit of one customer
    /// per cookie cuts all its links: it is its own cluster and is counted
    /// as over the limit.
    Shared,
}

/// Who really is behind one device; see [`AnonymousTruth`] for the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTruth {
    pub device_id: DeviceId,
    pub person_id: u64,
    pub customer_id: Option<i64>,
    /// The device reaches `customer_id` through the observable graph.
    pub linkable: bool,
}

/// The whole generated warehouse: one `Vec` per table, each sorted by its
/// primary key, plus the in-memory identity answer key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoData {
    pub config: DemoConfig,
    pub accounts: Vec<Account>,
    pub customers: Vec<Customer>,
    pub products: Vec<Product>,
    pub devices: Vec<Device>,
    pub identity_links: Vec<IdentityLink>,
    pub sessions: Vec<Session>,
    pub events: Vec<Event>,
    pub orders: Vec<Order>,
    pub order_items: Vec<OrderItem>,
    pub marketing_touches: Vec<MarketingTouch>,
    pub consent_events: Vec<ConsentEvent>,
    pub support_tickets: Vec<SupportTicket>,
    /// Customers who asked to be forgotten; drawn from a stream of their own,
    /// so adding this table left every other table unchanged.
    pub erasure_requests: Vec<ErasureRequest>,
    /// One entry per anonymous_id that occurs anywhere, sorted by id.
    pub truth_anonymous: Vec<AnonymousTruth>,
    /// One entry per device, sorted by id.
    pub truth_devices: Vec<DeviceTruth>,
    /// The junk and shared cookies among `identity_links`, in the order
    /// they were drawn.
    pub truth_link_noise: Vec<LinkNoise>,
}

impl DemoData {
    /// Every table in load order (referenced tables first).
    pub fn tables(&self) -> [&dyn RowSource; 13] {
        [
            &self.accounts,
            &self.customers,
            &self.erasure_requests,
            &self.products,
            &self.devices,
            &self.identity_links,
            &self.sessions,
            &self.events,
            &self.orders,
            &self.order_items,
            &self.marketing_touches,
            &self.consent_events,
            &self.support_tickets,
        ]
    }

    /// `(table name, row count)` for every table, in load order.
    pub fn row_counts(&self) -> Vec<(&'static str, usize)> {
        self.tables()
            .iter()
            .map(|t| (t.spec().name, t.row_count()))
            .collect()
    }

    pub fn total_rows(&self) -> u64 {
        self.tables().iter().map(|t| t.row_count() as u64).sum()
    }

    /// The answer key in the simplest form: `(anonymous_id, person_id)`.
    pub fn truth_person_of_anonymous(&self) -> Vec<(String, u64)> {
        self.truth_anonymous
            .iter()
            .map(|t| (t.anonymous_id.to_string(), t.person_id))
            .collect()
    }
}

/// Column types common to all engines; [`super::ddl`] maps them per engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    BigInt,
    Int,
    Text,
    /// DECIMAL(12,2).
    Money,
    Timestamp,
    Bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    /// A foreign key column: engines that benefit get an index on it.
    pub references: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [ColumnSpec],
    pub primary_key: &'static [&'static str],
}

impl TableSpec {
    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }
}

/// One cell on its way to a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(Cow<'a, str>),
    Dec(Decimal),
    Ts(NaiveDateTime),
    Bool(bool),
}

impl Value<'_> {
    /// Whether this value may be stored in a column of type `ty`.
    pub fn fits(&self, ty: ColumnType, nullable: bool) -> bool {
        match (self, ty) {
            (Value::Null, _) => nullable,
            (Value::Int(_), ColumnType::BigInt | ColumnType::Int)
            | (Value::Text(_), ColumnType::Text)
            | (Value::Dec(_), ColumnType::Money)
            | (Value::Ts(_), ColumnType::Timestamp)
            | (Value::Bool(_), ColumnType::Bool) => true,
            _ => false,
        }
    }
}

/// A row type of one demo table.
pub trait Row {
    const SPEC: &'static TableSpec;
    /// Appends this row's cells in [`TableSpec::columns`] order.
    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>);
}

/// A table's rows behind a trait object, so loaders can walk all tables in
/// one loop despite their different row types.
pub trait RowSource {
    fn spec(&self) -> &'static TableSpec;
    fn row_count(&self) -> usize;
    /// Appends the cells of row `index`; nothing if out of range.
    fn push_row_values<'a>(&'a self, index: usize, out: &mut Vec<Value<'a>>);
}

impl<R: Row> RowSource for Vec<R> {
    fn spec(&self) -> &'static TableSpec {
        R::SPEC
    }

    fn row_count(&self) -> usize {
        self.len()
    }

    fn push_row_values<'a>(&'a self, index: usize, out: &mut Vec<Value<'a>>) {
        if let Some(row) = self.get(index) {
            row.push_values(out);
        }
    }
}

const fn col(name: &'static str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        nullable: false,
        references: None,
    }
}

const fn null(name: &'static str, ty: ColumnType) -> ColumnSpec {
    ColumnSpec {
        name,
        ty,
        nullable: true,
        references: None,
    }
}

const fn fk(mut c: ColumnSpec, table: &'static str) -> ColumnSpec {
    c.references = Some(table);
    c
}

use ColumnType::{BigInt, Bool, Int, Money, Text, Timestamp};

fn text(s: &str) -> Value<'_> {
    Value::Text(Cow::Borrowed(s))
}

fn id_text<T: fmt::Display>(id: T) -> Value<'static> {
    Value::Text(Cow::Owned(id.to_string()))
}

fn opt_int(v: Option<i64>) -> Value<'static> {
    v.map_or(Value::Null, Value::Int)
}

fn opt_ts(v: Option<NaiveDateTime>) -> Value<'static> {
    v.map_or(Value::Null, Value::Ts)
}

impl Row for Account {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "accounts",
        columns: &[
            col("account_id", BigInt),
            col("name", Text),
            col("plan", Text),
            col("industry", Text),
            col("created_at", Timestamp),
        ],
        primary_key: &["account_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.account_id),
            text(&self.name),
            text(self.plan),
            text(self.industry),
            Value::Ts(self.created_at),
        ]);
    }
}

impl Row for Customer {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "customers",
        columns: &[
            col("customer_id", BigInt),
            fk(null("account_id", BigInt), "accounts"),
            col("email", Text),
            col("country", Text),
            col("region", Text),
            col("segment", Text),
            col("acquisition_channel", Text),
            col("signed_up_at", Timestamp),
            col("is_test", Bool),
        ],
        primary_key: &["customer_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.customer_id),
            opt_int(self.account_id),
            text(&self.email),
            text(self.country),
            text(self.region),
            text(self.segment),
            text(self.acquisition_channel),
            Value::Ts(self.signed_up_at),
            Value::Bool(self.is_test),
        ]);
    }
}

impl Row for Product {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "products",
        columns: &[
            col("product_id", BigInt),
            col("name", Text),
            col("category", Text),
            col("brand", Text),
            col("price", Money),
        ],
        primary_key: &["product_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.product_id),
            text(&self.name),
            text(self.category),
            text(self.brand),
            Value::Dec(self.price),
        ]);
    }
}

impl Row for Device {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "devices",
        columns: &[
            col("device_id", Text),
            fk(null("customer_id", BigInt), "customers"),
            col("device_type", Text),
            col("os", Text),
            col("first_seen_at", Timestamp),
        ],
        primary_key: &["device_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            id_text(self.device_id),
            opt_int(self.customer_id),
            text(self.device_type),
            text(self.os),
            Value::Ts(self.first_seen_at),
        ]);
    }
}

impl Row for IdentityLink {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "identity_links",
        columns: &[
            col("anonymous_id", Text),
            fk(col("customer_id", BigInt), "customers"),
            col("linked_at", Timestamp),
            col("source", Text),
        ],
        primary_key: &["anonymous_id", "customer_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            id_text(self.anonymous_id),
            Value::Int(self.customer_id),
            Value::Ts(self.linked_at),
            text(self.source),
        ]);
    }
}

impl Row for Session {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "sessions",
        columns: &[
            col("session_id", Text),
            col("anonymous_id", Text),
            fk(null("customer_id", BigInt), "customers"),
            fk(col("device_id", Text), "devices"),
            col("started_at", Timestamp),
            col("ended_at", Timestamp),
            col("channel", Text),
            col("landing_page", Text),
        ],
        primary_key: &["session_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            id_text(self.session_id),
            id_text(self.anonymous_id),
            opt_int(self.customer_id),
            id_text(self.device_id),
            Value::Ts(self.started_at),
            Value::Ts(self.ended_at),
            text(self.channel),
            text(self.landing_page),
        ]);
    }
}

impl Row for Event {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "events",
        columns: &[
            col("event_id", BigInt),
            fk(col("session_id", Text), "sessions"),
            col("anonymous_id", Text),
            fk(null("customer_id", BigInt), "customers"),
            col("event_type", Text),
            col("occurred_at", Timestamp),
            col("page", Text),
            fk(null("product_id", BigInt), "products"),
        ],
        primary_key: &["event_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.event_id),
            id_text(self.session_id),
            id_text(self.anonymous_id),
            opt_int(self.customer_id),
            text(self.event_type),
            Value::Ts(self.occurred_at),
            text(self.page),
            opt_int(self.product_id),
        ]);
    }
}

impl Row for Order {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "orders",
        columns: &[
            col("order_id", BigInt),
            fk(col("customer_id", BigInt), "customers"),
            fk(null("session_id", Text), "sessions"),
            col("ordered_at", Timestamp),
            col("status", Text),
            col("amount", Money),
            col("discount", Money),
            col("refunded_amount", Money),
            null("refunded_at", Timestamp),
            col("currency", Text),
            col("channel", Text),
        ],
        primary_key: &["order_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.order_id),
            Value::Int(self.customer_id),
            self.session_id.map_or(Value::Null, id_text),
            Value::Ts(self.ordered_at),
            text(self.status),
            Value::Dec(self.amount),
            Value::Dec(self.discount),
            Value::Dec(self.refunded_amount),
            opt_ts(self.refunded_at),
            text(self.currency),
            text(self.channel),
        ]);
    }
}

impl Row for OrderItem {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "order_items",
        columns: &[
            col("order_item_id", BigInt),
            fk(col("order_id", BigInt), "orders"),
            fk(col("product_id", BigInt), "products"),
            col("quantity", Int),
            col("unit_price", Money),
            col("line_amount", Money),
        ],
        primary_key: &["order_item_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.order_item_id),
            Value::Int(self.order_id),
            Value::Int(self.product_id),
            Value::Int(i64::from(self.quantity)),
            Value::Dec(self.unit_price),
            Value::Dec(self.line_amount),
        ]);
    }
}

impl Row for MarketingTouch {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "marketing_touches",
        columns: &[
            col("touch_id", BigInt),
            col("anonymous_id", Text),
            fk(null("customer_id", BigInt), "customers"),
            col("touched_at", Timestamp),
            col("channel", Text),
            null("campaign", Text),
            col("source", Text),
            col("medium", Text),
            col("cost", Money),
        ],
        primary_key: &["touch_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.touch_id),
            id_text(self.anonymous_id),
            opt_int(self.customer_id),
            Value::Ts(self.touched_at),
            text(self.channel),
            self.campaign.map_or(Value::Null, text),
            text(self.source),
            text(self.medium),
            Value::Dec(self.cost),
        ]);
    }
}

impl Row for ConsentEvent {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "consent_events",
        columns: &[
            col("consent_event_id", BigInt),
            fk(col("customer_id", BigInt), "customers"),
            col("purpose", Text),
            col("status", Text),
            col("occurred_at", Timestamp),
        ],
        primary_key: &["consent_event_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.consent_event_id),
            Value::Int(self.customer_id),
            text(self.purpose),
            text(self.status),
            Value::Ts(self.occurred_at),
        ]);
    }
}

impl Row for SupportTicket {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "support_tickets",
        columns: &[
            col("ticket_id", BigInt),
            fk(col("customer_id", BigInt), "customers"),
            col("opened_at", Timestamp),
            null("closed_at", Timestamp),
            col("priority", Text),
            col("category", Text),
            null("csat_score", Int),
        ],
        primary_key: &["ticket_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.ticket_id),
            Value::Int(self.customer_id),
            Value::Ts(self.opened_at),
            opt_ts(self.closed_at),
            text(self.priority),
            text(self.category),
            self.csat_score
                .map_or(Value::Null, |s| Value::Int(i64::from(s))),
        ]);
    }
}

impl Row for ErasureRequest {
    const SPEC: &'static TableSpec = &TableSpec {
        name: "erasure_requests",
        columns: &[
            col("erasure_request_id", BigInt),
            fk(col("customer_id", BigInt), "customers"),
            col("requested_at", Timestamp),
            col("reason", Text),
        ],
        primary_key: &["erasure_request_id"],
    };

    fn push_values<'a>(&'a self, out: &mut Vec<Value<'a>>) {
        out.extend([
            Value::Int(self.erasure_request_id),
            Value::Int(self.customer_id),
            Value::Ts(self.requested_at),
            text(self.reason),
        ]);
    }
}

/// Every table's spec in load order.
pub fn table_specs() -> [&'static TableSpec; 13] {
    [
        Account::SPEC,
        Customer::SPEC,
        ErasureRequest::SPEC,
        Product::SPEC,
        Device::SPEC,
        IdentityLink::SPEC,
        Session::SPEC,
        Event::SPEC,
        Order::SPEC,
        OrderItem::SPEC,
        MarketingTouch::SPEC,
        ConsentEvent::SPEC,
        SupportTicket::SPEC,
    ]
}
