//! The geo queries of logged commands (GEOSEARCH, GEORADIUS... STORE).

use bytes::Bytes;
use cairn_protocol::command::geo as pg;
use serde::{Deserialize, Serialize};

use super::mirror;

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum GeoCenter = pg::GeoCenter {
        Member(Bytes),
        LonLat(f64, f64),
    }
}

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct GeoQuery = pg::GeoQuery {
        pub center: GeoCenter,
        pub shape: GeoShape,
        pub unit: GeoUnit,
        pub sort: GeoSort,
        pub count: Option<u64>,
        pub any: bool,
        pub with_coord: bool,
        pub with_dist: bool,
        pub with_hash: bool,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
    pub enum GeoShape = pg::GeoShape {
        Radius(f64),
        Box { width: f64, height: f64 },
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GeoSort = pg::GeoSort {
        Unsorted,
        Asc,
        Desc,
    }
}

mirror! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    pub enum GeoUnit = pg::GeoUnit {
        Meters,
        Kilometers,
        Feet,
        Miles,
    }
}
