//! The geo commands' model (geo.c): a query is a centre, a shape and what to answer with.
//!
//! Geo sets are sorted sets whose scores are 52-bit geohashes; GEOADD is ZADD with computed
//! scores and the searches are score-range scans, so only the query needs its own types.
//! Every length here is in the unit the client named; [`GeoUnit::meters`] converts.

use bytes::Bytes;

/// The smallest and largest longitude and latitude a geo set can hold: the bounds of the
/// Web Mercator projection (EPSG:3857), so nothing is stored at the poles.
pub const LONGITUDE_MIN: f64 = -180.0;
pub const LONGITUDE_MAX: f64 = 180.0;
pub const LATITUDE_MIN: f64 = -85.051_128_78;
pub const LATITUDE_MAX: f64 = 85.051_128_78;

/// A distance unit: M, KM, FT or MI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoUnit {
    Meters,
    Kilometers,
    Feet,
    Miles,
}

impl GeoUnit {
    /// The unit named by `arg` (any case), or None.
    pub fn from_arg(arg: &[u8]) -> Option<GeoUnit> {
        Some(match arg.to_ascii_lowercase().as_slice() {
            b"m" => GeoUnit::Meters,
            b"km" => GeoUnit::Kilometers,
            b"ft" => GeoUnit::Feet,
            b"mi" => GeoUnit::Miles,
            _ => return None,
        })
    }

    /// How many meters one of this unit is (Redis's factors, the mile included).
    pub fn meters(self) -> f64 {
        match self {
            GeoUnit::Meters => 1.0,
            GeoUnit::Kilometers => 1000.0,
            GeoUnit::Feet => 0.3048,
            GeoUnit::Miles => 1609.34,
        }
    }
}

/// Where a search is centred.
#[derive(Debug, Clone, PartialEq)]
pub enum GeoCenter {
    /// At a member of the searched set (FROMMEMBER, GEORADIUSBYMEMBER).
    Member(Bytes),
    /// At a longitude and latitude, already checked to be in range.
    LonLat(f64, f64),
}

/// The area searched, in the query's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoShape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// The order of a search's results: by distance from the centre, or as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoSort {
    Unsorted,
    Asc,
    Desc,
}

/// GEOSEARCH's and GEORADIUS's query.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoQuery {
    pub center: GeoCenter,
    pub shape: GeoShape,
    pub unit: GeoUnit,
    /// ASC or DESC; COUNT without ANY makes it ASC, as in Redis.
    pub sort: GeoSort,
    /// COUNT: at most this many results (> 0).
    pub count: Option<u64>,
    /// ANY: stop scanning once `count` matches are found, instead of taking the nearest.
    pub any: bool,
    pub with_coord: bool,
    pub with_dist: bool,
    pub with_hash: bool,
}
