//! Attribution instances (accord-catalog's `attribution`) as one caller
//! may use them: planning and every listing agree through [`visible`].

pub use accord_catalog::attribution::*;

/// The instances a caller may use, for catalog listings (`GET /v1/catalog`):
/// those whose conversion metric and touch time and channel it may see.
/// Whether the caller may use an instance: its conversion metric and the
/// touches' time and channel (crediting reads them) visible. Planning and
/// listings agree through this one test, so an instance the caller may not
/// use is unknown, never "forbidden".
pub fn visible(
    catalog: &crate::catalog::Catalog,
    access: &crate::access::Access,
    a: &Attribution,
) -> bool {
    let tm = catalog.model(a.touches.model);
    access.metric_visible(a.conversion)
        && [a.touches.time, a.touches.channel]
            .iter()
            .all(|i| access.dimension_visible(tm.id, &tm.dimensions[*i].name))
}

pub fn listing(
    catalog: &crate::catalog::Catalog,
    access: &crate::access::Access,
) -> Vec<serde_json::Value> {
    catalog
        .attributions
        .iter()
        .filter(|a| visible(catalog, access, a))
        .map(|a| {
            let tm = catalog.model(a.touches.model);
            let mut dims = Vec::new();
            if access.metric_time_visible() {
                dims.push("metric_time".to_string());
            }
            dims.push(format!(
                "{}.{}",
                tm.name, tm.dimensions[a.touches.time].name
            ));
            dims.extend(
                a.touches
                    .dimensions
                    .iter()
                    .map(|i| &tm.dimensions[*i].name)
                    .filter(|n| access.dimension_visible(tm.id, n))
                    .map(|n| format!("{}.{n}", tm.name)),
            );
            serde_json::json!({
                "name": a.name,
                "description": a.description,
                "owner": a.owner,
                "model": a.model,
                "conversion": catalog.metric(a.conversion).qualified_name(),
                "touch_model": tm.name,
                "dimensions": dims,
                "subject": a.subject,
                "lookback": a.lookback,
                "direct_channels": a.direct_channels,
                "decimals": a.decimals,
                "stitched": a.stitched,
            })
        })
        .collect()
}
