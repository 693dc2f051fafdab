//! What a diff reports: changes of items, their field-level details, their
//! class and their impact.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Renamed,
    VersionBumped,
    Deprecated,
    Modified,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Renamed => "renamed",
            ChangeKind::VersionBumped => "version bumped",
            ChangeKind::Deprecated => "deprecated",
            ChangeKind::Modified => "modified",
        }
    }
}

/// The kind of item a change is about, one per catalog section. The order
/// is the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Metric,
    Model,
    Dimension,
    Measure,
    Entity,
    JoinPath,
    Role,
    Consent,
    ConsentPurpose,
    Funnel,
    Retention,
    Attribution,
    Identity,
    Check,
}

impl ItemKind {
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Metric => "metric",
            ItemKind::Model => "model",
            ItemKind::Dimension => "dimension",
            ItemKind::Measure => "measure",
            ItemKind::Entity => "entity",
            ItemKind::JoinPath => "join path",
            ItemKind::Role => "role",
            ItemKind::Consent => "consent",
            ItemKind::ConsentPurpose => "consent purpose",
            ItemKind::Funnel => "funnel",
            ItemKind::Retention => "retention analysis",
            ItemKind::Attribution => "attribution",
            ItemKind::Identity => "identity",
            ItemKind::Check => "check",
        }
    }
}

/// How a change matters to a reviewer. Ordered by how much attention it
/// needs: a change is classified by its most demanding detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Descriptions, new members, metadata: nothing a consumer relies on.
    NonBreaking,
    /// A consumer's queries may fail or its numbers change.
    Breaking,
    /// A caller may now see more (rows, values, people, purposes): an
    /// access change that needs a reviewer.
    WideningAccess,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::NonBreaking => "non_breaking",
            Class::Breaking => "breaking",
            Class::WideningAccess => "widening_access",
        }
    }
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub breaking: bool,
    pub class: Class,
}

impl Detail {
    pub fn new(
        field: &str,
        before: Option<String>,
        after: Option<String>,
        breaking: bool,
    ) -> Detail {
        let class = if breaking {
            Class::Breaking
        } else {
            Class::NonBreaking
        };
        Detail::classed(field, before, after, class)
    }

    pub fn classed(
        field: &str,
        before: Option<String>,
        after: Option<String>,
        class: Class,
    ) -> Detail {
        Detail {
            field: field.to_string(),
            before,
            after,
            breaking: class == Class::Breaking,
            class,
        }
    }

    /// Sets the class (and the `breaking` flag that mirrors it).
    pub fn set_class(&mut self, class: Class) {
        self.class = class;
        self.breaking = class == Class::Breaking;
    }

    pub fn widens_access(&self) -> bool {
        self.class == Class::WideningAccess
    }

    /// `filter: a → b`
    pub fn text(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
        format!(
            "{}: {} → {}",
            self.field,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// What depends on a changed item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Metrics (`name@version`) that read it, directly or through other
    /// metrics.
    pub metrics: Vec<String>,
    /// Other definitions that name it: `role partner`, `consent ledger`,
    /// `funnel checkout`.
    pub definitions: Vec<String>,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.definitions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub item: ItemKind,
    /// `revenue@2`, `orders`, `orders.status`, `orders → customers`; for a
    /// removal, the name in BASE.
    pub name: String,
    /// The BASE name of a renamed item, or the version a new one follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Consumers' queries may fail or their numbers change.
    pub breaking: bool,
    /// A caller may see more than before: needs an access reviewer.
    pub widening_access: bool,
    /// `widening_access` if the change widens access, else `breaking` if
    /// it breaks, else `non_breaking`.
    pub class: Class,
    pub details: Vec<Detail>,
    pub impact: Impact,
}

impl Change {
    /// A change classified by `class` (the class of the change as a whole:
    /// a removal, a rename) and by its details.
    pub fn new(
        kind: ChangeKind,
        item: ItemKind,
        name: impl Into<String>,
        details: Vec<Detail>,
        class: Class,
        impact: Impact,
    ) -> Change {
        let mut c = Change {
            kind,
            item,
            name: name.into(),
            from: None,
            breaking: false,
            widening_access: false,
            class,
            details,
            impact,
        };
        c.classify(class);
        c
    }

    pub fn with_from(mut self, from: impl Into<String>) -> Change {
        self.from = Some(from.into());
        self
    }

    /// Recomputes the flags and class from `own` (the change's own class)
    /// and the details, after a section adjusted them.
    pub fn classify(&mut self, own: Class) {
        self.breaking = own == Class::Breaking || self.details.iter().any(|d| d.breaking);
        self.widening_access =
            own == Class::WideningAccess || self.details.iter().any(Detail::widens_access);
        self.class = if self.widening_access {
            Class::WideningAccess
        } else if self.breaking {
            Class::Breaking
        } else {
            Class::NonBreaking
        };
    }

    /// `removed metric `refunds@1``
    pub fn title(&self) -> String {
        match (&self.kind, &self.from) {
            (ChangeKind::Renamed, Some(f)) => {
                format!("{} `{f}` renamed to `{}`", self.item.name(), self.name)
            }
            (ChangeKind::VersionBumped, Some(f)) => {
                format!(
                    "{} `{}` (new version after `{f}`)",
                    self.item.name(),
                    self.name
                )
            }
            _ => format!("{} `{}`", self.item.name(), self.name),
        }
    }
}
