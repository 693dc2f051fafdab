//! Who is asking, and what that means for one catalog: the member, row,
//! masking, group-size and purpose rules of every role the caller holds,
//! combined. The planner consults this for every query on every interface.
//!
//! Combining roles: a member is visible if any of the caller's roles shows
//! it; a row filter applies only if every role restricts that model (then
//! their filters are ORed); a dimension is masked only if every role that
//! sees it masks it; the smallest `min_group_size` wins, and none if any role
//! has none.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::policy::{CLAIM_PREFIX, Mask, MemberRef, Purpose, Role};
use crate::catalog::{Catalog, MetricId, MetricKind, ModelId};
use crate::planner::{ErrorCode, PlanError};
use crate::sql::ast::{Expr, Literal};

/// The identity a request runs under.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Caller {
    /// The operator (CLI with the warehouse's credentials) sees everything;
    /// consent still applies.
    pub operator: bool,
    pub subject: Option<String>,
    pub roles: Vec<String>,
    /// Attributes usable in row filters (`{{ claims.region }}`).
    pub claims: BTreeMap<String, serde_json::Value>,
    /// The purpose the data is used for; the consent default when absent.
    pub purpose: Option<String>,
}

impl Caller {
    pub fn operator() -> Caller {
        Caller {
            operator: true,
            subject: None,
            roles: Vec::new(),
            claims: BTreeMap::new(),
            purpose: None,
        }
    }

    pub fn with_roles(roles: &[&str]) -> Caller {
        Caller {
            operator: false,
            subject: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            claims: BTreeMap::new(),
            purpose: None,
        }
    }

    /// The caller as one query runs: a purpose in the request overrides
    /// the token's.
    pub fn for_query(&self, q: &crate::query::SemanticQuery) -> Caller {
        let mut c = self.clone();
        if q.purpose.is_some() {
            c.purpose = q.purpose.clone();
        }
        c
    }

    /// What about this caller can change an answer, for cache keys.
    pub fn security_context(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Rules for one caller against one catalog.
pub struct Access<'c> {
    catalog: &'c Catalog,
    /// `None`: unrestricted (no roles defined, or the operator).
    roles: Option<Vec<&'c Role>>,
    claims: BTreeMap<String, serde_json::Value>,
    pub purpose: Option<&'c Purpose>,
}

fn forbidden(msg: impl Into<String>) -> PlanError {
    PlanError::new(ErrorCode::Forbidden, msg)
}

impl<'c> Access<'c> {
    pub fn resolve(catalog: &'c Catalog, caller: &Caller) -> Result<Access<'c>, PlanError> {
        let roles = if caller.operator || catalog.roles.is_empty() {
            None
        } else {
            let matched: Vec<&Role> = catalog
                .roles
                .iter()
                .filter(|r| caller.roles.contains(&r.name))
                .collect();
            if matched.is_empty() {
                // Default deny: policies exist and none applies.
                return Err(forbidden(if caller.roles.is_empty() {
                    "no role: access is restricted by policies and the caller holds none of its roles".to_string()
                } else {
                    format!(
                        "none of the caller's roles ({}) is defined in the access policies",
                        caller.roles.join(", ")
                    )
                }));
            }
            Some(matched)
        };
        let purpose = match &catalog.consent {
            None => {
                if let Some(p) = &caller.purpose {
                    return Err(PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!("purpose `{p}` given, but no consent purposes are defined"),
                    ));
                }
                None
            }
            Some(consent) => {
                let name = caller
                    .purpose
                    .clone()
                    .unwrap_or_else(|| consent.default_purpose.clone());
                let p = consent.purpose(&name).ok_or_else(|| {
                    PlanError::new(ErrorCode::InvalidQuery, format!("unknown purpose `{name}`"))
                        .with_suggestions(crate::diagnostics::closest(
                            &name,
                            consent.purposes.iter().map(|p| p.name.as_str()),
                        ))
                })?;
                if let Some(rs) = &roles {
                    let allowed = rs
                        .iter()
                        .any(|r| r.purposes.as_ref().is_none_or(|ps| ps.contains(&p.name)));
                    if !allowed {
                        return Err(forbidden(format!(
                            "the caller's roles may not query for the purpose `{}`",
                            p.name
                        )));
                    }
                }
                Some(p)
            }
        };
        Ok(Access {
            catalog,
            roles,
            claims: caller.claims.clone(),
            purpose,
        })
    }

    pub fn is_restricted(&self) -> bool {
        self.roles.is_some()
    }

    fn role_shows(role: &Role, test: &dyn Fn(&MemberRef) -> bool) -> bool {
        let included = role.include.as_ref().is_none_or(|l| l.iter().any(test));
        included && !role.exclude.iter().any(test)
    }

    /// Whether the caller may use a metric (its inputs are checked too).
    pub fn metric_visible(&self, id: MetricId) -> bool {
        let Some(roles) = &self.roles else {
            return true;
        };
        let m = self.catalog.metric(id);
        let direct = roles.iter().any(|r| {
            Self::role_shows(
                r,
                &|x| matches!(x, MemberRef::Metric { name } if *name == m.name),
            )
        });
        direct
            && match &m.kind {
                MetricKind::Simple { .. } => true,
                MetricKind::Ratio {
                    numerator,
                    denominator,
                } => {
                    self.metric_visible(numerator.metric) && self.metric_visible(denominator.metric)
                }
                MetricKind::Derived { inputs, .. } => {
                    inputs.iter().all(|i| self.metric_visible(i.metric))
                }
                MetricKind::Cumulative { input, .. } => self.metric_visible(input.metric),
                MetricKind::Conversion(_) => true,
            }
    }

    /// Whether the caller may group or filter by `model.name`.
    pub fn dimension_visible(&self, model: ModelId, name: &str) -> bool {
        let Some(roles) = &self.roles else {
            return true;
        };
        let model_name = &self.catalog.model(model).name;
        roles
            .iter()
            .any(|r| Self::role_shows(r, &|x| x.covers_dimension(model_name, name)))
    }

    pub fn metric_time_visible(&self) -> bool {
        let Some(roles) = &self.roles else {
            return true;
        };
        roles.iter().any(|r| {
            r.include
                .as_ref()
                .is_none_or(|l| l.contains(&MemberRef::MetricTime))
                && !r.exclude.contains(&MemberRef::MetricTime)
        })
    }

    /// Whether the caller may use a measure: some metric it may use reads
    /// it directly (measures are not queried by themselves).
    pub fn measure_visible(&self, model: ModelId, measure: usize) -> bool {
        if self.roles.is_none() {
            return true;
        }
        self.catalog.metrics.iter().any(|m| {
            let reads = match &m.kind {
                MetricKind::Simple {
                    model: md,
                    measure: ms,
                } => *md == model && *ms == measure,
                MetricKind::Conversion(c) => {
                    (c.base_model == model && c.base_measure == measure)
                        || (c.conversion_model == model && c.conversion_measure == measure)
                }
                _ => false,
            };
            reads && self.metric_visible(m.id)
        })
    }

    /// Whether a model appears in the caller's listings (catalog, GraphQL
    /// `models`): it may use at least one of the model's dimensions,
    /// entities, measures or metrics. Other models are absent, as if they
    /// did not exist.
    pub fn model_visible(&self, model: ModelId) -> bool {
        if self.roles.is_none() {
            return true;
        }
        let m = self.catalog.model(model);
        m.dimensions
            .iter()
            .map(|d| &d.name)
            .chain(m.entities.iter().map(|e| &e.name))
            .any(|n| self.dimension_visible(model, n))
            || (0..m.measures.len()).any(|i| self.measure_visible(model, i))
            || self.catalog.metrics.iter().any(|x| {
                self.metric_visible(x.id) && self.catalog.metric_models(x.id).contains(&model)
            })
    }

    /// A metric's filter text as the caller may see it: only when it may see
    /// every dimension the filter (and its inputs' filters) reads, so the
    /// text names no hidden member.
    pub fn metric_filter<'m>(&self, m: &'m crate::catalog::Metric) -> Option<&'m String> {
        let shown = self.roles.is_none()
            || crate::lineage::filter_dimensions(self.catalog, m)
                .iter()
                .all(|(model, dim)| {
                    self.catalog
                        .model_by_name(model)
                        .is_some_and(|md| self.dimension_visible(md.id, dim))
                });
        m.filter_text.as_ref().filter(|_| shown)
    }

    /// The mask the caller sees a dimension through, if every role that
    /// shows it masks it.
    pub fn mask(&self, model: ModelId, name: &str) -> Option<Mask> {
        let roles = self.roles.as_ref()?;
        let model_name = &self.catalog.model(model).name;
        let mut mask = None;
        for r in roles
            .iter()
            .filter(|r| Self::role_shows(r, &|x| x.covers_dimension(model_name, name)))
        {
            match r
                .masks
                .iter()
                .find(|(m, d, _)| m == model_name && d == name)
            {
                Some((_, _, k)) => mask = mask.or(Some(*k)),
                None => return None,
            }
        }
        mask
    }

    /// Row filters to enforce: per model, the OR of the roles' filters, with
    /// claims substituted as literals. Models some role leaves unfiltered
    /// are absent.
    pub fn row_filters(&self) -> Result<Vec<(ModelId, Expr)>, PlanError> {
        let Some(roles) = &self.roles else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for model in &self.catalog.models {
            let mut filters = Vec::new();
            let mut all_restrict = true;
            for r in roles {
                let fs: Vec<&Expr> = r
                    .row_filters
                    .iter()
                    .filter(|f| f.model == model.id)
                    .map(|f| &f.filter)
                    .collect();
                if fs.is_empty() {
                    all_restrict = false;
                    break;
                }
                let role_filter = Expr::and_all(fs.into_iter().cloned())
                    .unwrap_or(Expr::Lit(Literal::Bool(true)));
                filters.push(self.bind_claims(role_filter)?);
            }
            if all_restrict && !filters.is_empty() {
                let several = filters.len() > 1;
                let combined = filters
                    .into_iter()
                    .map(|f| {
                        if several {
                            Expr::Nested(Box::new(f))
                        } else {
                            f
                        }
                    })
                    .reduce(|a, b| Expr::binary(crate::sql::ast::BinOp::Or, a, b));
                out.extend(combined.map(|f| (model.id, f)));
            }
        }
        Ok(out)
    }

    /// Replaces claim placeholders with the caller's values, as literals
    /// (escaped by the renderer like any value). A missing claim denies.
    fn bind_claims(&self, e: Expr) -> Result<Expr, PlanError> {
        // Claims bind as string literals: a claim's JSON type says nothing
        // about the column it is compared with, and every engine converts a
        // string literal to the column's type, where a number literal
        // against a text column fails on some.
        let lit = |v: &serde_json::Value, name: &str| -> Result<Expr, PlanError> {
            Ok(Expr::Lit(Literal::String(match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(forbidden(format!(
                        "claim `{name}` must be a string, number or boolean (or a list inside IN (...))"
                    )));
                }
            })))
        };
        let claim_name = |e: &Expr| match e {
            Expr::Ref(parts) if parts.len() == 1 => parts[0]
                .value
                .strip_prefix(CLAIM_PREFIX)
                .map(str::to_string),
            _ => None,
        };
        let get = |name: &str| {
            self.claims.get(name).ok_or_else(|| {
                forbidden(format!(
                    "the access policy needs the claim `{name}`, which the caller lacks"
                ))
            })
        };
        // First `x IN ({{ claims.list }})`, whose placeholder must still be
        // a placeholder when its list is seen (transforms run bottom-up).
        let expanded = e.try_transform::<PlanError>(&mut |node| {
            if let Expr::InList {
                expr,
                list,
                negated,
            } = &node
                && let [only] = list.as_slice()
                && let Some(name) = claim_name(only)
            {
                let items: Vec<Expr> = match get(&name)? {
                    serde_json::Value::Array(a) => {
                        a.iter().map(|x| lit(x, &name)).collect::<Result<_, _>>()?
                    }
                    other => vec![lit(other, &name)?],
                };
                if items.is_empty() {
                    return Ok(Expr::Lit(Literal::Bool(*negated)));
                }
                return Ok(Expr::InList {
                    expr: expr.clone(),
                    list: items,
                    negated: *negated,
                });
            }
            Ok(node)
        })?;
        // Then every other placeholder, which must be a single value.
        expanded.try_transform(&mut |node| match claim_name(&node) {
            Some(name) => lit(get(&name)?, &name),
            None => Ok(node),
        })
    }

    pub fn min_group_size(&self) -> Option<u32> {
        let roles = self.roles.as_ref()?;
        let mut k: Option<u32> = None;
        for r in roles {
            match r.min_group_size {
                None => return None,
                Some(x) => k = Some(k.map_or(x, |y| y.min(x))),
            }
        }
        k
    }

    /// The cell rule of a caller held to a minimum group size: the
    /// smallest `k` and the finest `time_grain` among its roles (like `k`,
    /// the most permissive role wins), none if any role has no minimum.
    pub fn k_anonymity(&self) -> Option<(u32, crate::catalog::Grain)> {
        let k = self.min_group_size()?;
        let grain = self.roles.as_ref()?.iter().map(|r| r.time_grain).min()?;
        Some((k, grain))
    }

    /// The versions of a metric the caller may use, oldest first.
    pub fn visible_versions(&self, name: &str) -> Vec<MetricId> {
        self.catalog
            .metric_versions(name)
            .iter()
            .copied()
            .filter(|id| self.metric_visible(*id))
            .collect()
    }

    /// What the caller may group a metric by: the catalog's groupable
    /// dimensions less the hidden ones.
    pub fn groupable_dimensions(&self, id: MetricId) -> Vec<String> {
        self.catalog
            .groupable_dimensions(id)
            .into_iter()
            .filter(|d| match d.split_once('.') {
                None => self.metric_time_visible(),
                Some((model, dim)) => self
                    .catalog
                    .model_by_name(model)
                    .is_some_and(|md| self.dimension_visible(md.id, dim)),
            })
            .collect()
    }

    /// Names of the roles in force, for responses that say what applied.
    pub fn role_names(&self) -> Vec<String> {
        self.roles
            .as_ref()
            .map(|r| r.iter().map(|x| x.name.clone()).collect())
            .unwrap_or_default()
    }
}
