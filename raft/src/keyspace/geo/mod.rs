//! Geo commands (geo.c) on sorted sets whose scores are 52-bit geohashes ([`hash`]).
//!
//! GEOADD is ZADD with computed scores. A search scans the score ranges of at most nine
//! geohash cells around its centre (the centre cell and its neighbours, sized to the search)
//! and keeps the points inside the radius or box: O(N + log M) for N points in the cells, as
//! Redis documents. Results come in Redis's order: cell by cell, score order within a cell,
//! unless sorted by distance (stable, so ties keep that order).

mod hash;

use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::command::geo::{GeoCenter, GeoQuery, GeoSort};
use cairn_protocol::command::{ReadCommand, SetCondition};
use cairn_protocol::Reply;

use super::value::ZSetValue;
use super::zset::zset_of;
use super::{Ctx, Data, StoredValue};
use crate::error::Result;

/// A point a search found.
struct Found {
    member: Bytes,
    score: f64,
    lon: f64,
    lat: f64,
    /// Meters from the centre.
    meters: f64,
}

impl Ctx<'_> {
    /// GEOADD: ZADD of each point's geohash score.
    pub(crate) fn geoadd(
        &mut self,
        key: &Bytes,
        condition: Option<SetCondition>,
        ch: bool,
        points: &[(f64, f64, Bytes)],
    ) -> Result<Reply> {
        let pairs: Vec<(f64, Bytes)> = points
            .iter()
            .map(|(lon, lat, member)| (hash::score(*lon, *lat), member.clone()))
            .collect();
        self.zadd(key, &pairs, condition, None, ch, false)
    }

    /// GEOSEARCHSTORE and GEORADIUS ... STORE/STOREDIST: the points found replace
    /// `destination`, scored by geohash or by distance in the query's unit; none deletes it.
    pub(crate) fn geosearchstore(
        &mut self,
        destination: &Bytes,
        key: &Bytes,
        query: &GeoQuery,
        store_dist: bool,
    ) -> Result<Reply> {
        let found = match self.live_ref(key) {
            None => Vec::new(),
            Some(value) => match zset_of(Some(value)).and_then(|z| search(&z, query)) {
                Ok(found) => found,
                Err(e) => return Ok(e),
            },
        };
        let meters = query.unit.meters();
        let stored: ZSetValue = found
            .into_iter()
            .map(|f| {
                let score = if store_dist {
                    f.meters / meters
                } else {
                    f.score
                };
                (f.member, score)
            })
            .collect();
        let n = stored.len() as i64;
        self.put_or_delete(
            destination,
            StoredValue::new(Data::ZSet(Arc::new(stored)), None),
        );
        Ok(Reply::Integer(n))
    }
}

/// Answers a geo read on the live value of its key.
pub(super) fn read(cmd: &ReadCommand, value: Option<&StoredValue>) -> Reply {
    let z = match zset_of(value) {
        Err(e) => return e,
        Ok(z) => z,
    };
    match cmd {
        ReadCommand::GeoPos { members, .. } => Reply::Array(
            members
                .iter()
                .map(|m| match z.score(m) {
                    None => Reply::NilArray,
                    Some(score) => {
                        let (lon, lat) = hash::point(score);
                        Reply::Array(vec![Reply::HumanDouble(lon), Reply::HumanDouble(lat)])
                    }
                })
                .collect(),
        ),
        ReadCommand::GeoHash { members, .. } => Reply::Array(
            members
                .iter()
                .map(|m| {
                    z.score(m)
                        .map_or(Reply::Nil, |s| Reply::text(hash::standard_string(s)))
                })
                .collect(),
        ),
        ReadCommand::GeoDist { a, b, unit, .. } => match (z.score(a), z.score(b)) {
            (Some(sa), Some(sb)) => {
                let ((x1, y1), (x2, y2)) = (hash::point(sa), hash::point(sb));
                Reply::text(distance_text(
                    hash::distance(x1, y1, x2, y2) / unit.meters(),
                ))
            }
            _ => Reply::Nil,
        },
        ReadCommand::GeoSearch { query, .. } if value.is_some() => match search(&z, query) {
            Ok(found) => found_reply(found, query),
            Err(e) => e,
        },
        // A search of a missing key finds nothing, whatever its centre.
        _ => Reply::Array(Vec::new()),
    }
}

/// The points of `z` inside the query's zone, in the order the query asks for, at most its
/// COUNT of them.
fn search(z: &ZSetValue, query: &GeoQuery) -> std::result::Result<Vec<Found>, Reply> {
    let (lon, lat) = match &query.center {
        GeoCenter::LonLat(lon, lat) => (*lon, *lat),
        GeoCenter::Member(m) => match z.score(m) {
            Some(score) => hash::point(score),
            None => return Err(Reply::error("ERR could not decode requested zset member")),
        },
    };
    let zone = hash::Zone {
        shape: query.shape,
        meters: query.unit.meters(),
    };
    // With ANY the scan stops at COUNT matches; otherwise it finds all and keeps the nearest.
    let limit = query.count.filter(|_| query.any).map(|n| n as usize);
    let full = |found: &Vec<Found>| limit.is_some_and(|l| found.len() >= l);
    let cells = hash::cells_to_scan(zone, lon, lat);
    let mut found = Vec::new();
    // Huge zones make neighbours coincide: a cell equal to the last one scanned (after the
    // centre's) is skipped, as Redis skips it.
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        let Some(cell) = cell else { continue };
        if last != 0 && cells[last] == Some(*cell) {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = hash::score_range(*cell);
        let (from, to) = (z.count_below(min, false), z.count_below(max, false));
        for (member, score) in z.range(from, to) {
            let (x, y) = hash::point(score);
            if let Some(meters) = zone.contains(lon, lat, x, y) {
                found.push(Found {
                    member: member.clone(),
                    score,
                    lon: x,
                    lat: y,
                    meters,
                });
            }
            if full(&found) {
                break;
            }
        }
        last = i;
    }
    match query.sort {
        GeoSort::Unsorted => {}
        GeoSort::Asc => found.sort_by(|a, b| a.meters.total_cmp(&b.meters)),
        GeoSort::Desc => found.sort_by(|a, b| b.meters.total_cmp(&a.meters)),
    }
    if let Some(n) = query.count {
        found.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    Ok(found)
}

/// A search's reply: members, or with WITH* options an array per member of the member, its
/// distance, hash and coordinates (in that order).
fn found_reply(found: Vec<Found>, query: &GeoQuery) -> Reply {
    let plain = !(query.with_dist || query.with_hash || query.with_coord);
    let unit = query.unit;
    Reply::Array(
        found
            .into_iter()
            .map(|f| {
                if plain {
                    return Reply::Bulk(f.member);
                }
                let mut row = vec![Reply::Bulk(f.member)];
                if query.with_dist {
                    row.push(Reply::text(distance_text(f.meters / unit.meters())));
                }
                if query.with_hash {
                    row.push(Reply::Integer(f.score as i64));
                }
                if query.with_coord {
                    row.push(Reply::Array(vec![
                        Reply::HumanDouble(f.lon),
                        Reply::HumanDouble(f.lat),
                    ]));
                }
                Reply::Array(row)
            })
            .collect(),
    )
}

/// A distance as Redis writes it: rounded to four decimals (`llrint`, ties to even).
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let scaled = (d * 10_000.0).round_ties_even() as i64;
    let sign = if scaled < 0 { "-" } else { "" };
    let abs = scaled.unsigned_abs();
    format!("{sign}{}.{:04}", abs / 10_000, abs % 10_000)
}

#[cfg(test)]
mod tests {
    use super::distance_text;

    #[test]
    fn distances_have_four_decimals() {
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(166_274.151_6), "166274.1516");
        assert_eq!(distance_text(0.000_05), "0.0000");
        assert_eq!(distance_text(12.5), "12.5000");
    }
}
