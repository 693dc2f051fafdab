//! The consent sections: the consent rules as one item (ledger, mode,
//! default purpose, suppression) and each purpose as an item. Consent
//! decides which people's facts count, so any change to who counts that is
//! not provably narrowing is `widening_access`.

use super::change::{Change, ChangeKind, Class, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::fields::{Field, Fields, Rule};
use super::impact::{analyses_reaching, metrics_reaching};
use super::text::expr_text;
use crate::catalog::policy::{Consent, ConsentMode, Purpose};
use crate::catalog::{Catalog, ModelId};

/// Models consent holds for: those with a subject.
fn subject_models(c: &Catalog) -> Vec<ModelId> {
    c.models
        .iter()
        .filter(|m| m.subject.is_some())
        .map(|m| m.id)
        .collect()
}

fn consent_impact(c: &Catalog) -> Impact {
    let models = subject_models(c);
    Impact {
        metrics: metrics_reaching(c, &models),
        definitions: analyses_reaching(c, &models),
    }
}

pub struct ConsentRules;

impl Section for ConsentRules {
    type Item<'c> = &'c Consent;
    const KIND: ItemKind = ItemKind::Consent;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Consent)> {
        this.consent
            .iter()
            .map(|c| ("consent".to_string(), c))
            .collect()
    }

    fn fields(&self, c: &Catalog, x: &&Consent) -> Vec<Field> {
        let l = &x.ledger;
        let mode = match x.mode {
            ConsentMode::AsOfFact => "as_of_fact",
            ConsentMode::AsOfNow => "as_of_now",
        };
        // Which events grant consent, and to whom: another reading of the
        // ledger may count people who never granted.
        let mut f = Fields::new();
        f.add(
            "ledger model",
            Some(c.model(l.model).name.clone()),
            Rule::Restricts,
        )
        .add(
            "ledger subject",
            Some(expr_text(&l.subject_key)),
            Rule::Restricts,
        )
        .add(
            "ledger purpose",
            Some(expr_text(&l.purpose)),
            Rule::Restricts,
        )
        .add("ledger status", Some(expr_text(&l.status)), Rule::Restricts)
        .add("ledger time", Some(expr_text(&l.time)), Rule::Restricts)
        .add(
            "ledger order_key",
            l.order_key.as_ref().map(expr_text),
            Rule::Restricts,
        )
        .add(
            "granted_value",
            Some(l.granted_value.clone()),
            Rule::Restricts,
        )
        .add("mode", Some(mode.to_string()), Rule::Restricts)
        .add(
            "subject_entity",
            Some(x.subject_entity.clone()),
            Rule::Restricts,
        )
        .add(
            "default_purpose",
            Some(x.default_purpose.clone()),
            Rule::Restricts,
        );
        let suppression = x
            .suppression
            .as_ref()
            .map(|(m, key)| format!("{} ({})", c.model(*m).name, expr_text(key)));
        f.add("suppression", suppression, Rule::Restricts);
        f.0
    }

    fn impact(&self, c: &Catalog, _x: &&Consent) -> Impact {
        consent_impact(c)
    }

    /// Consent rules appearing restrict who counts.
    fn added(&self, s: Sides, key: &str, _x: &&Consent) -> Change {
        Change::new(
            ChangeKind::Added,
            ItemKind::Consent,
            key,
            Vec::new(),
            Class::Breaking,
            consent_impact(s.head),
        )
    }

    /// Without consent rules, every person's facts count under any purpose.
    fn removed(&self, s: Sides, key: &str, _x: &&Consent) -> Change {
        Change::new(
            ChangeKind::Removed,
            ItemKind::Consent,
            key,
            Vec::new(),
            Class::WideningAccess,
            consent_impact(s.base),
        )
    }
}

pub struct Purposes;

impl Section for Purposes {
    type Item<'c> = &'c Purpose;
    const KIND: ItemKind = ItemKind::ConsentPurpose;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Purpose)> {
        this.consent
            .iter()
            .flat_map(|c| c.purposes.iter().map(|p| (p.name.clone(), p)))
            .collect()
    }

    fn fields(&self, _c: &Catalog, p: &&Purpose) -> Vec<Field> {
        let mut f = Fields::new();
        // While consent is required, only consenting people count.
        f.add(
            "requires_consent",
            Some(p.requires_consent.to_string()),
            Rule::Custom(|_, after| match after {
                Some("true") => Class::Breaking,
                _ => Class::WideningAccess,
            }),
        )
        .info("description", &p.description);
        f.0
    }

    fn impact(&self, c: &Catalog, p: &&Purpose) -> Impact {
        let roles = c
            .roles
            .iter()
            .filter(|r| r.purposes.as_ref().is_none_or(|l| l.contains(&p.name)))
            .map(|r| format!("role {}", r.name))
            .collect();
        Impact {
            metrics: Vec::new(),
            definitions: roles,
        }
    }

    /// A purpose that needs no consent counts everyone: new, it is an
    /// access change; one that needs consent adds nothing anyone sees.
    fn added(&self, s: Sides, key: &str, p: &&Purpose) -> Change {
        let class = if p.requires_consent {
            Class::NonBreaking
        } else {
            Class::WideningAccess
        };
        Change::new(
            ChangeKind::Added,
            ItemKind::ConsentPurpose,
            key,
            Vec::new(),
            class,
            self.impact(s.head, p),
        )
    }
}
