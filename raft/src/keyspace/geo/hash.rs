//! Redis's geohash (geohash.c, geohash_helper.c): a point's 52-bit score, the cells a search
//! covers, and great-circle distances, computed in the same order of operations as Redis so
//! scores, distances and search results are the same bits as redis-server's.
//!
//! A cell of `step` bits per axis interleaves the latitude (even bits) and longitude (odd
//! bits) offsets within the Web Mercator bounds. The arithmetic uses the platform's libm
//! (`sin`, `cos`, `asin`), as Redis does; GEOSEARCHSTORE's STOREDIST scores therefore rely on
//! every replica running the same binary on the same libm, which the project's images ensure.

use cairn_protocol::command::geo::{
    GeoShape, LATITUDE_MAX, LATITUDE_MIN, LONGITUDE_MAX, LONGITUDE_MIN,
};

/// Bits per axis of a stored point's hash: 26, for 52 bits that a double holds exactly.
pub const STEP_MAX: u8 = 26;

/// Earth's quadratic mean radius (WGS-84) in meters, as Redis uses it.
const EARTH_RADIUS: f64 = 6_372_797.560_856;
/// Half the Web Mercator world's width in meters: radii at least this wide take one cell.
const MERCATOR_MAX: f64 = 20_037_726.37;
const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;

/// A geohash cell: `step` bits per axis, interleaved in `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

/// A cell's extent in degrees.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    pub lon: (f64, f64),
    pub lat: (f64, f64),
}

/// The ranges a cell's offsets are fractions of.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    lon: (f64, f64),
    lat: (f64, f64),
}

/// Where geo sets store points: Web Mercator's latitudes.
const MERCATOR: Bounds = Bounds {
    lon: (LONGITUDE_MIN, LONGITUDE_MAX),
    lat: (LATITUDE_MIN, LATITUDE_MAX),
};

/// Standard geohash's bounds, which GEOHASH's strings are in.
const STANDARD: Bounds = Bounds {
    lon: (-180.0, 180.0),
    lat: (-90.0, 90.0),
};

/// Spreads the 32 bits of `v` over the even bits of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Gathers the even bits of `x` into a u32: the inverse of [`spread`].
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// The cell of `step` bits per axis holding a point, within `b`. The point must be within the
/// stored bounds (the parser checks coordinates).
fn encode_in(b: Bounds, lon: f64, lat: f64, step: u8) -> Cell {
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - b.lat.0) / (b.lat.1 - b.lat.0) * scale;
    let lon_offset = (lon - b.lon.0) / (b.lon.1 - b.lon.0) * scale;
    Cell {
        bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1),
        step,
    }
}

/// The cell of `step` bits per axis holding a point.
pub fn encode(lon: f64, lat: f64, step: u8) -> Cell {
    encode_in(MERCATOR, lon, lat, step)
}

/// The score a point is stored with: its 52-bit hash.
pub fn score(lon: f64, lat: f64) -> f64 {
    encode(lon, lat, STEP_MAX).bits as f64
}

/// The extent of a cell.
pub fn decode(cell: Cell) -> Area {
    let scale = (1u64 << cell.step) as f64;
    let lat_i = f64::from(squash(cell.bits));
    let lon_i = f64::from(squash(cell.bits >> 1));
    let (lat_span, lon_span) = (
        MERCATOR.lat.1 - MERCATOR.lat.0,
        MERCATOR.lon.1 - MERCATOR.lon.0,
    );
    Area {
        lat: (
            MERCATOR.lat.0 + (lat_i / scale) * lat_span,
            MERCATOR.lat.0 + ((lat_i + 1.0) / scale) * lat_span,
        ),
        lon: (
            MERCATOR.lon.0 + (lon_i / scale) * lon_span,
            MERCATOR.lon.0 + ((lon_i + 1.0) / scale) * lon_span,
        ),
    }
}

/// The point a stored score stands for: the centre of its cell, kept within bounds.
pub fn point(score: f64) -> (f64, f64) {
    let area = decode(Cell {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((area.lon.0 + area.lon.1) / 2.0).clamp(LONGITUDE_MIN, LONGITUDE_MAX);
    let lat = ((area.lat.0 + area.lat.1) / 2.0).clamp(LATITUDE_MIN, LATITUDE_MAX);
    (lon, lat)
}

/// The 11-character standard geohash of a stored score (GEOHASH): the point re-encoded with
/// latitudes -90..90; the 11th character stands for bits a 52-bit hash does not have.
pub fn standard_string(score: f64) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = point(score);
    let bits = encode_in(STANDARD, lon, lat, STEP_MAX).bits;
    (0..11)
        .map(|i| {
            let index = if i == 10 {
                0
            } else {
                (bits >> (52 - (i + 1) * 5)) & 0x1f
            };
            char::from(ALPHABET[index as usize])
        })
        .collect()
}

/// The bits of a cell that hold its longitude (odd) and its latitude (even).
const LON_BITS: u64 = 0xAAAA_AAAA_AAAA_AAAA;
const LAT_BITS: u64 = 0x5555_5555_5555_5555;

/// Moves a cell one step along the axis whose bits `axis` selects, forward (east, north) or
/// back, wrapping around: the axis's interleaved bits are counted up or down as one number.
fn step(cell: Cell, axis: u64, forward: bool) -> Cell {
    let shift = 64 - u32::from(cell.step) * 2;
    let along = cell.bits & axis;
    let fill = !axis >> shift;
    let moved = if forward {
        along.wrapping_add(fill + 1)
    } else {
        (along | fill).wrapping_sub(fill + 1)
    };
    Cell {
        bits: (moved & (axis >> shift)) | (cell.bits & !axis),
        step: cell.step,
    }
}

/// Moves a cell one step east (`east`) or west.
fn move_lon(cell: Cell, east: bool) -> Cell {
    step(cell, LON_BITS, east)
}

/// Moves a cell one step north (`north`) or south.
fn move_lat(cell: Cell, north: bool) -> Cell {
    step(cell, LAT_BITS, north)
}

/// The scores `min..max` of the points inside a cell.
pub fn score_range(cell: Cell) -> (f64, f64) {
    let shift = 52 - u32::from(cell.step) * 2;
    (
        (cell.bits << shift) as f64,
        ((cell.bits + 1) << shift) as f64,
    )
}

fn deg_rad(deg: f64) -> f64 {
    deg * DEG_TO_RAD
}

fn rad_deg(rad: f64) -> f64 {
    rad / DEG_TO_RAD
}

/// The distance in meters along a meridian between two latitudes.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The great-circle distance in meters between two points (haversine).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// A search's area around its centre: the shape in the client's unit and the unit's size in
/// meters, kept apart because Redis converts at particular steps (and rounding follows).
#[derive(Debug, Clone, Copy)]
pub struct Zone {
    pub shape: GeoShape,
    pub meters: f64,
}

impl Zone {
    /// The distance in meters from the centre `(x1, y1)` to a point if the point is inside.
    pub fn contains(self, x1: f64, y1: f64, x2: f64, y2: f64) -> Option<f64> {
        match self.shape {
            GeoShape::Radius(radius) => {
                let d = distance(x1, y1, x2, y2);
                (d <= radius * self.meters).then_some(d)
            }
            GeoShape::Box { width, height } => {
                // The latitude test is cheaper, so it goes first.
                if lat_distance(y2, y1) > height * self.meters / 2.0 {
                    return None;
                }
                if distance(x2, y2, x1, y2) > width * self.meters / 2.0 {
                    return None;
                }
                Some(distance(x1, y1, x2, y2))
            }
        }
    }

    /// Half the zone's extent north-south and east-west, in meters.
    fn half_extent(self) -> (f64, f64) {
        match self.shape {
            GeoShape::Radius(r) => (self.meters * r, self.meters * r),
            GeoShape::Box { width, height } => {
                (self.meters * (height / 2.0), self.meters * (width / 2.0))
            }
        }
    }

    /// The distance in meters from the centre to the zone's farthest edge or corner.
    fn reach(self) -> f64 {
        let r = match self.shape {
            GeoShape::Radius(r) => r,
            GeoShape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.meters
    }
}

/// How many bits per axis the cells covering a search of `reach` meters at `lat` have.
fn steps_for(reach: f64, lat: f64) -> u8 {
    if reach == 0.0 {
        return STEP_MAX;
    }
    let (mut r, mut step) = (reach, 1i32);
    while r < MERCATOR_MAX {
        r *= 2.0;
        step += 1;
    }
    step -= 2;
    // Meridians converge towards the poles: take wider cells there.
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// The degrees a zone spans around its centre: (min lon, min lat, max lon, max lat).
fn bounding_box(zone: Zone, lon: f64, lat: f64) -> (f64, f64, f64, f64) {
    let (height, width) = zone.half_extent();
    let lat_delta = rad_deg(height / EARTH_RADIUS);
    let lon_delta_top = rad_deg(width / EARTH_RADIUS / deg_rad(lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(width / EARTH_RADIUS / deg_rad(lat - lat_delta).cos());
    // The box is widest on its side nearer the equator.
    let lon_delta = if lat < 0.0 {
        lon_delta_bottom
    } else {
        lon_delta_top
    };
    (
        lon - lon_delta,
        lat - lat_delta,
        lon + lon_delta,
        lat + lat_delta,
    )
}

/// The cells to scan for a search around `(lon, lat)`, in Redis's order (centre, N, S, E, W,
/// NE, NW, SE, SW); `None` for a neighbour that cannot hold a match.
pub fn cells_to_scan(zone: Zone, lon: f64, lat: f64) -> [Option<Cell>; 9] {
    let (min_lon, min_lat, max_lon, max_lat) = bounding_box(zone, lon, lat);
    let mut step = steps_for(zone.reach(), lat);
    let mut center = encode(lon, lat, step);
    // A neighbour that does not reach the box's edge means the cells are too small.
    let n = decode(move_lat(center, true));
    let s = decode(move_lat(center, false));
    let e = decode(move_lon(center, true));
    let w = decode(move_lon(center, false));
    let too_small =
        n.lat.1 < max_lat || s.lat.0 > min_lat || e.lon.1 < max_lon || w.lon.0 > min_lon;
    if step > 1 && too_small {
        step -= 1;
        center = encode(lon, lat, step);
    }
    let area = decode(center);
    let north = move_lat(center, true);
    let south = move_lat(center, false);
    let mut cells = [
        Some(center),
        Some(north),
        Some(south),
        Some(move_lon(center, true)),
        Some(move_lon(center, false)),
        Some(move_lon(north, true)),
        Some(move_lon(north, false)),
        Some(move_lon(south, true)),
        Some(move_lon(south, false)),
    ];
    const N: usize = 1;
    const S: usize = 2;
    const E: usize = 3;
    const W: usize = 4;
    const NE: usize = 5;
    const NW: usize = 6;
    const SE: usize = 7;
    const SW: usize = 8;
    if step >= 2 {
        // Drop the neighbours on a side the zone does not reach past the centre cell.
        let mut drop = |sides: [usize; 3]| sides.iter().for_each(|&i| cells[i] = None);
        if area.lat.0 < min_lat {
            drop([S, SW, SE]);
        }
        if area.lat.1 > max_lat {
            drop([N, NE, NW]);
        }
        if area.lon.0 < min_lon {
            drop([W, SW, NW]);
        }
        if area.lon.1 > max_lon {
            drop([E, SE, NE]);
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0xdead_beef, u32::MAX, 1 << 25] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(spread(v) & 0xAAAA_AAAA_AAAA_AAAA, 0);
        }
    }

    #[test]
    fn scores_points_and_strings_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 Palermo on redis-server 7.0.15: score
        // 3479099956230698, GEOPOS 13.36138933897018433 38.11555639549629859, GEOHASH
        // sqc8b49rny0.
        let s = score(13.361389, 38.115556);
        assert_eq!(s, 3_479_099_956_230_698.0);
        let (lon, lat) = point(s);
        assert_eq!(
            cairn_protocol::reply::human_double(lon),
            "13.36138933897018433"
        );
        assert_eq!(
            cairn_protocol::reply::human_double(lat),
            "38.11555639549629859"
        );
        assert_eq!(standard_string(s), "sqc8b49rny0");
        // GEODIST Sicily Palermo Catania: 166274.1516 m.
        let (lon2, lat2) = point(score(15.087269, 37.502669));
        let d = distance(lon, lat, lon2, lat2);
        assert_eq!(format!("{d:.4}"), "166274.1516");
    }

    #[test]
    fn neighbours_wrap_and_invert() {
        let c = encode(0.0, 0.0, 5);
        assert_eq!(move_lon(move_lon(c, true), false), c);
        assert_eq!(move_lat(move_lat(c, false), true), c);
        let east_edge = encode(179.9, 0.0, 3);
        assert!(decode(move_lon(east_edge, true)).lon.0 < 0.0);
    }

    #[test]
    fn a_zone_covers_what_it_contains() {
        let zone = Zone {
            shape: GeoShape::Radius(200.0),
            meters: 1000.0,
        };
        let cells = cells_to_scan(zone, 15.0, 37.0);
        let inside = score(15.087269, 37.502669);
        assert!(cells.iter().flatten().any(|c| {
            let (min, max) = score_range(*c);
            (min..max).contains(&inside)
        }));
    }
}
