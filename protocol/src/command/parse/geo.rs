//! Geo commands (geo.c): GEOADD, GEOPOS, GEOHASH, GEODIST, GEOSEARCH, GEOSEARCHSTORE and
//! GEORADIUS / GEORADIUSBYMEMBER with their _RO forms.
//!
//! The option loop follows `georadiusGeneric`: options in any order, a later ASC/DESC or
//! unit wins, then the cross-checks in Redis's order. What needs the set itself (FROMMEMBER's
//! member, the key's type) is checked when the command runs.

use crate::errors::RedisError;
use bytes::Bytes;

use super::{int, is, Result};
use crate::command::geo::{
    GeoCenter, GeoQuery, GeoShape, GeoSort, GeoUnit, LATITUDE_MAX, LATITUDE_MIN, LONGITUDE_MAX,
    LONGITUDE_MIN,
};
use crate::command::{Command, CommandError, ReadCommand, SetCondition, WriteCommand};
use crate::num::parse_float;

/// Parses the geo command `name` (lowercase, arity already checked).
pub(super) fn parse(name: &str, args: &[Bytes]) -> Result<Command> {
    use Command::{Read, Write};
    Ok(match (name, args) {
        ("geoadd", [_, key, rest @ ..]) => Write(geoadd(key, rest)?),
        ("geopos", [_, key, members @ ..]) => Read(ReadCommand::GeoPos {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("geohash", [_, key, members @ ..]) => Read(ReadCommand::GeoHash {
            key: key.clone(),
            members: members.to_vec(),
        }),
        ("geodist", [_, key, a, b, rest @ ..]) => {
            let unit = match rest {
                [] => GeoUnit::Meters,
                [unit] => unit_of(unit)?,
                _ => return Err(CommandError::Syntax),
            };
            Read(ReadCommand::GeoDist {
                key: key.clone(),
                a: a.clone(),
                b: b.clone(),
                unit,
            })
        }
        ("georadius" | "georadius_ro", [_, key, lon, lat, radius, unit, options @ ..]) => {
            let (lon, lat) = lon_lat(lon, lat)?;
            let center = GeoCenter::LonLat(lon, lat);
            let shape = GeoShape::Radius(radius_of(radius)?);
            search(
                &args[0],
                key,
                Some((center, shape, unit_of(unit)?)),
                options,
                Flavor::Radius {
                    store: name == "georadius",
                },
            )?
        }
        (
            "georadiusbymember" | "georadiusbymember_ro",
            [_, key, member, radius, unit, options @ ..],
        ) => {
            let shape = GeoShape::Radius(radius_of(radius)?);
            search(
                &args[0],
                key,
                Some((GeoCenter::Member(member.clone()), shape, unit_of(unit)?)),
                options,
                Flavor::Radius {
                    store: name == "georadiusbymember",
                },
            )?
        }
        ("geosearch", [typed, key, options @ ..]) => {
            search(typed, key, None, options, Flavor::Search(None))?
        }
        ("geosearchstore", [typed, destination, key, options @ ..]) => search(
            typed,
            key,
            None,
            options,
            Flavor::Search(Some(destination.clone())),
        )?,
        _ => return Err(CommandError::Arity(name.into())),
    })
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
fn geoadd(key: &Bytes, rest: &[Bytes]) -> Result<WriteCommand> {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut at = 0;
    while let Some(arg) = rest.get(at) {
        if is(arg, "nx") {
            nx = true;
        } else if is(arg, "xx") {
            xx = true;
        } else if is(arg, "ch") {
            ch = true;
        } else {
            break;
        }
        at += 1;
    }
    let triples = &rest[at..];
    if triples.is_empty() || !triples.len().is_multiple_of(3) || (nx && xx) {
        return Err(CommandError::Syntax);
    }
    let mut points = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks_exact(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        points.push((lon, lat, t[2].clone()));
    }
    let condition = match (nx, xx) {
        (true, _) => Some(SetCondition::Nx),
        (_, true) => Some(SetCondition::Xx),
        _ => None,
    };
    Ok(WriteCommand::GeoAdd {
        key: key.clone(),
        condition,
        ch,
        points,
    })
}

/// Which search command: GEORADIUS-style (STORE/STOREDIST allowed unless _RO) or
/// GEOSEARCH-style (FROM*/BY* options; `Some(destination)` for GEOSEARCHSTORE).
enum Flavor {
    Radius { store: bool },
    Search(Option<Bytes>),
}

/// The options after a search's fixed arguments, and the command they make. `fixed` is
/// GEORADIUS's centre, shape and unit (GEOSEARCH takes them from options).
fn search(
    typed: &[u8],
    key: &Bytes,
    fixed: Option<(GeoCenter, GeoShape, GeoUnit)>,
    options: &[Bytes],
    flavor: Flavor,
) -> Result<Command> {
    let (mut center, mut shape, mut unit) = match fixed {
        Some((c, s, u)) => (Some(c), Some(s), u),
        None => (None, None, GeoUnit::Meters),
    };
    let (searching, radius_store) = match &flavor {
        Flavor::Radius { store } => (false, *store),
        Flavor::Search(_) => (true, false),
    };
    let search_store = matches!(flavor, Flavor::Search(Some(_)));
    let (mut with_dist, mut with_hash, mut with_coord, mut any) = (false, false, false, false);
    let mut sort = GeoSort::Unsorted;
    let mut count = None;
    let mut store: Option<(Bytes, bool)> = None;
    let mut store_dist = false;
    let mut i = 0;
    while let Some(arg) = options.get(i) {
        let left = options.len() - i - 1;
        if is(arg, "withdist") {
            with_dist = true;
        } else if is(arg, "withhash") {
            with_hash = true;
        } else if is(arg, "withcoord") {
            with_coord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            sort = GeoSort::Asc;
        } else if is(arg, "desc") {
            sort = GeoSort::Desc;
        } else if is(arg, "count") && left >= 1 {
            let n = int(&options[i + 1])?;
            if n <= 0 {
                return Err(CommandError::Redis(RedisError::CountNotPositive));
            }
            count = Some(n as u64);
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && left >= 1 && radius_store {
            store = Some((options[i + 1].clone(), is(arg, "storedist")));
            i += 1;
        } else if is(arg, "storedist") && search_store {
            store_dist = true;
        } else if is(arg, "frommember") && left >= 1 && searching && !from_lonlat(&center) {
            center = Some(GeoCenter::Member(options[i + 1].clone()));
            i += 1;
        } else if is(arg, "fromlonlat") && left >= 2 && searching && !from_member(&center) {
            let (lon, lat) = lon_lat(&options[i + 1], &options[i + 2])?;
            center = Some(GeoCenter::LonLat(lon, lat));
            i += 2;
        } else if is(arg, "byradius") && left >= 2 && searching && !is_box(&shape) {
            shape = Some(GeoShape::Radius(radius_of(&options[i + 1])?));
            unit = unit_of(&options[i + 2])?;
            i += 2;
        } else if is(arg, "bybox") && left >= 3 && searching && !is_radius(&shape) {
            let width = length(&options[i + 1], "ERR need numeric width")?;
            let height = length(&options[i + 2], "ERR need numeric height")?;
            if width < 0.0 || height < 0.0 {
                return Err(CommandError::Other(
                    "ERR height or width cannot be negative".into(),
                ));
            }
            shape = Some(GeoShape::Box { width, height });
            unit = unit_of(&options[i + 3])?;
            i += 3;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let storing = store.is_some() || search_store;
    if storing && (with_dist || with_hash || with_coord) {
        let what = if search_store {
            "GEOSEARCHSTORE"
        } else {
            "STORE option in GEORADIUS"
        };
        return Err(CommandError::Other(format!(
            "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    // Redis names the command as the client typed it.
    let name = String::from_utf8_lossy(typed);
    let Some(center) = center else {
        return Err(CommandError::Other(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    };
    let Some(shape) = shape else {
        return Err(CommandError::Other(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    };
    if any && count.is_none() {
        return Err(CommandError::Other(
            "ERR the ANY argument requires COUNT argument".into(),
        ));
    }
    if count.is_some() && sort == GeoSort::Unsorted && !any {
        sort = GeoSort::Asc;
    }
    let query = GeoQuery {
        center,
        shape,
        unit,
        sort,
        count,
        any,
        with_coord,
        with_dist,
        with_hash,
    };
    let key = key.clone();
    // (destination, STOREDIST, named GEORADIUS) of a search that stores.
    let stored = match (flavor, store) {
        (Flavor::Search(Some(destination)), _) => Some((destination, store_dist, false)),
        (_, Some((destination, store_dist))) => Some((destination, store_dist, true)),
        _ => None,
    };
    Ok(match stored {
        Some((destination, store_dist, georadius)) => {
            Command::Write(WriteCommand::GeoSearchStore {
                destination,
                key,
                query,
                store_dist,
                georadius,
            })
        }
        None => Command::Read(ReadCommand::GeoSearch { key, query }),
    })
}

fn from_member(center: &Option<GeoCenter>) -> bool {
    matches!(center, Some(GeoCenter::Member(_)))
}

fn from_lonlat(center: &Option<GeoCenter>) -> bool {
    matches!(center, Some(GeoCenter::LonLat(..)))
}

fn is_radius(shape: &Option<GeoShape>) -> bool {
    matches!(shape, Some(GeoShape::Radius(_)))
}

fn is_box(shape: &Option<GeoShape>) -> bool {
    matches!(shape, Some(GeoShape::Box { .. }))
}

/// A float as `getDoubleFromObjectOrReply` reads it.
fn float(arg: &[u8]) -> Result<f64> {
    parse_float(arg).ok_or(CommandError::NotFloat)
}

/// A float, or the given error text.
fn length(arg: &[u8], msg: &str) -> Result<f64> {
    parse_float(arg).ok_or_else(|| CommandError::Other(msg.into()))
}

/// A radius: a number that is not negative.
fn radius_of(arg: &[u8]) -> Result<f64> {
    let r = length(arg, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(CommandError::Other("ERR radius cannot be negative".into()));
    }
    Ok(r)
}

fn unit_of(arg: &[u8]) -> Result<GeoUnit> {
    GeoUnit::from_arg(arg).ok_or_else(|| {
        CommandError::Other("ERR unsupported unit provided. please use M, KM, FT, MI".into())
    })
}

/// A longitude and latitude within the bounds a geo set can hold, or Redis's error for a
/// point outside them (`%f`: six decimals).
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64)> {
    let (lon, lat) = (float(lon)?, float(lat)?);
    let lon_ok = (LONGITUDE_MIN..=LONGITUDE_MAX).contains(&lon);
    let lat_ok = (LATITUDE_MIN..=LATITUDE_MAX).contains(&lat);
    if !lon_ok || !lat_ok {
        return Err(CommandError::Other(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}
