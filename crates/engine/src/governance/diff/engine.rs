//! The one comparison every catalog section goes through: a section lists
//! its keyed items on each side ([`Section`]), and [`run`] pairs them by
//! key, detects renames, and reports what was added, removed, renamed or
//! changed, with field-level details, class and impact.

use std::collections::BTreeMap;

use super::change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
use super::fields::{self, Field};
use crate::catalog::Catalog;

/// The two catalogs being compared.
#[derive(Clone, Copy)]
pub struct Sides<'a> {
    pub base: &'a Catalog,
    pub head: &'a Catalog,
}

/// One catalog section. Implementing it (usually `items`, `fields` and
/// `impact`) and naming it in `diff::diff` is all a new section needs.
pub trait Section {
    /// What the section keeps of one item while comparing.
    type Item<'c>;

    const KIND: ItemKind;

    /// Every item of catalog `this`, keyed by the name the report shows
    /// (unique within the section). `other` is the other side, for sections
    /// that compare only inside things both sides have (a model's members).
    fn items<'c>(&self, this: &'c Catalog, other: &Catalog) -> Vec<(String, Self::Item<'c>)>;

    /// The item's comparable fields. Sections with their own comparison
    /// override [`Section::compare`] instead.
    fn fields(&self, _c: &Catalog, _item: &Self::Item<'_>) -> Vec<Field> {
        Vec::new()
    }

    /// How an item both sides have differs, field by field.
    fn compare(&self, s: Sides, b: &Self::Item<'_>, h: &Self::Item<'_>) -> Vec<Detail> {
        fields::compare(&self.fields(s.base, b), &self.fields(s.head, h))
    }

    /// What depends on the item in catalog `c`.
    fn impact(&self, c: &Catalog, item: &Self::Item<'_>) -> Impact;

    /// Equal fingerprints pair a removed item with an added one as a rename
    /// (the same definition under another name). `None`: never a rename.
    fn fingerprint(
        &self,
        _this: &Catalog,
        _other: &Catalog,
        _item: &Self::Item<'_>,
    ) -> Option<String> {
        None
    }

    /// An item only HEAD has.
    fn added(&self, s: Sides, key: &str, item: &Self::Item<'_>) -> Change {
        let _ = (s, item);
        Change::new(
            ChangeKind::Added,
            Self::KIND,
            key,
            Vec::new(),
            Class::NonBreaking,
            Impact::default(),
        )
    }

    /// An item only BASE has.
    fn removed(&self, s: Sides, key: &str, item: &Self::Item<'_>) -> Change {
        Change::new(
            ChangeKind::Removed,
            Self::KIND,
            key,
            Vec::new(),
            Class::Breaking,
            self.impact(s.base, item),
        )
    }

    /// An item both sides have, with (non-empty) `details`.
    fn modified(
        &self,
        s: Sides,
        key: &str,
        _b: &Self::Item<'_>,
        h: &Self::Item<'_>,
        details: Vec<Detail>,
    ) -> Change {
        Change::new(
            ChangeKind::Modified,
            Self::KIND,
            key,
            details,
            Class::NonBreaking,
            self.impact(s.head, h),
        )
    }

    /// A BASE item found in HEAD under another name.
    fn renamed(
        &self,
        s: Sides,
        (from, b): (&str, &Self::Item<'_>),
        (to, h): (&str, &Self::Item<'_>),
    ) -> Change {
        let _ = h;
        Change::new(
            ChangeKind::Renamed,
            Self::KIND,
            to,
            Vec::new(),
            Class::Breaking,
            self.impact(s.base, b),
        )
        .with_from(from)
    }
}

/// Compares one section of `s.base` and `s.head`, appending its changes.
pub fn run<S: Section>(section: &S, s: Sides, out: &mut Vec<Change>) {
    let base = section.items(s.base, s.head);
    let head = section.items(s.head, s.base);
    let head_index: BTreeMap<&str, usize> = head
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let base_keys: std::collections::BTreeSet<&str> =
        base.iter().map(|(k, _)| k.as_str()).collect();
    // HEAD-only items, in HEAD order, with their fingerprints.
    let mut added: Vec<(usize, Option<String>)> = head
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| !base_keys.contains(k.as_str()))
        .map(|(i, (_, item))| (i, section.fingerprint(s.head, s.base, item)))
        .collect();
    for (key, b) in &base {
        if let Some(&i) = head_index.get(key.as_str()) {
            let details = section.compare(s, b, &head[i].1);
            if !details.is_empty() {
                out.push(section.modified(s, key, b, &head[i].1, details));
            }
            continue;
        }
        let renamed = section
            .fingerprint(s.base, s.head, b)
            .and_then(|fp| added.iter().position(|(_, f)| f.as_ref() == Some(&fp)));
        match renamed {
            Some(p) => {
                let (i, _) = added.remove(p);
                let (to, h) = &head[i];
                out.push(section.renamed(s, (key.as_str(), b), (to.as_str(), h)));
            }
            None => out.push(section.removed(s, key, b)),
        }
    }
    for (i, _) in added {
        let (key, item) = &head[i];
        out.push(section.added(s, key, item));
    }
}
