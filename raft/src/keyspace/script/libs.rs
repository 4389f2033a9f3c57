//! The libraries Redis adds to Lua that scripts use most: `bit` (LuaBitOp) and `cjson`.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{Lua, Table, Value, Variadic};

use super::convert::{format_g, sequence_len};

/// LuaBitOp's argument conversion: the number rounded to an integer, modulo 2^32, signed.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    x.round_ties_even().rem_euclid(4_294_967_296.0) as u64 as u32 as i32
}

fn fold(args: Variadic<f64>, f: impl Fn(i32, i32) -> i32) -> mlua::Result<f64> {
    let mut it = args.iter().map(|x| tobit(*x));
    let first = it
        .next()
        .ok_or_else(|| mlua::Error::runtime("bad argument #1 (number expected, got no value)"))?;
    Ok(f64::from(it.fold(first, f)))
}

/// The `bit` library (LuaBitOp 1.0.2's functions, 32-bit).
pub fn bit(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x))))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, x: f64| Ok(f64::from(!tobit(x))))?,
    )?;
    t.raw_set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x & y))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x | y))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| fold(a, |x, y| x ^ y))?,
    )?;
    let shift = |f: fn(u32, u32) -> u32| {
        move |_: &Lua, (x, n): (f64, f64)| {
            Ok(f64::from(f(tobit(x) as u32, tobit(n) as u32 & 31) as i32))
        }
    };
    t.raw_set("lshift", lua.create_function(shift(|x, n| x << n))?)?;
    t.raw_set("rshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.raw_set(
        "arshift",
        lua.create_function(shift(|x, n| ((x as i32) >> n) as u32))?,
    )?;
    t.raw_set("rol", lua.create_function(shift(|x, n| x.rotate_left(n)))?)?;
    t.raw_set("ror", lua.create_function(shift(|x, n| x.rotate_right(n)))?)?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x).swap_bytes())))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let n = n.map_or(8, tobit);
            let digits = n.unsigned_abs().min(8) as usize;
            let v = tobit(x) as u32;
            let hex = if n < 0 {
                format!("{v:08X}")
            } else {
                format!("{v:08x}")
            };
            Ok(hex[8 - digits..].to_string())
        })?,
    )?;
    Ok(t)
}

/// lua-cjson's settings a script may change (for its own run: every run has a fresh state).
struct JsonSettings {
    encode_depth: Cell<usize>,
    decode_depth: Cell<usize>,
    invalid_numbers: Cell<bool>,
}

/// The `cjson` library: `encode`, `decode`, the `null` sentinel and lua-cjson's settings
/// (`encode_max_depth`, `decode_max_depth`, `encode_invalid_numbers`; the others are
/// accepted and change nothing).
pub fn cjson(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let null = lua.create_table()?;
    t.raw_set("null", null.clone())?;
    // lua-cjson's defaults.
    let settings = Rc::new(JsonSettings {
        encode_depth: Cell::new(1000),
        decode_depth: Cell::new(1000),
        invalid_numbers: Cell::new(false),
    });
    let (set, null_enc) = (settings.clone(), null.clone());
    t.raw_set(
        "encode",
        lua.create_function(move |_, v: Value| {
            let mut out = String::new();
            encode(&v, &null_enc, &set, 0, &mut out)?;
            Ok(out)
        })?,
    )?;
    let set = settings.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, s: mlua::String| {
            let json: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            decode(lua, &json, &null, set.decode_depth.get(), 1)
        })?,
    )?;
    let depth = |get: fn(&JsonSettings) -> &Cell<usize>| {
        let set = settings.clone();
        lua.create_function(move |_, n: Option<f64>| {
            let cell = get(&set);
            if let Some(n) = n {
                cell.set(n.max(1.0) as usize);
            }
            Ok(cell.get())
        })
    };
    t.raw_set("encode_max_depth", depth(|s| &s.encode_depth)?)?;
    t.raw_set("decode_max_depth", depth(|s| &s.decode_depth)?)?;
    let set = settings;
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |_, on: Option<Value>| {
            if let Some(v) = on {
                set.invalid_numbers
                    .set(!matches!(v, Value::Boolean(false) | Value::Nil));
            }
            Ok(set.invalid_numbers.get())
        })?,
    )?;
    for setting in [
        "encode_keep_buffer",
        "encode_number_precision",
        "encode_sparse_array",
        "decode_invalid_numbers",
    ] {
        t.raw_set(
            setting,
            lua.create_function(|_, args: mlua::MultiValue| Ok(args))?,
        )?;
    }
    Ok(t)
}

fn encode(
    v: &Value,
    null: &Table,
    set: &JsonSettings,
    depth: usize,
    out: &mut String,
) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => out.push_str(&n.to_string()),
        Value::Number(n) if !n.is_finite() && set.invalid_numbers.get() => {
            out.push_str(if n.is_nan() {
                "nan"
            } else if *n > 0.0 {
                "inf"
            } else {
                "-inf"
            })
        }
        Value::Number(n) if !n.is_finite() => {
            return Err(mlua::Error::runtime(
                "Cannot serialise number: must not be NaN or Inf",
            ))
        }
        Value::Number(n) => out.push_str(&format_g(*n, 14)),
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) if t == null => out.push_str("null"),
        Value::Table(t) => {
            if depth >= set.encode_depth.get() {
                return Err(mlua::Error::runtime(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                )));
            }
            table(t, null, set, depth, out)?;
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

/// A table is an array when its keys are exactly 1..n (lua-cjson also takes mildly sparse
/// arrays; cairn encodes those as objects), else an object with string keys.
fn table(
    t: &Table,
    null: &Table,
    set: &JsonSettings,
    depth: usize,
    out: &mut String,
) -> mlua::Result<()> {
    let (len, is_array) = sequence_len(t)?;
    if is_array && len > 0 {
        out.push('[');
        for i in 1..=len {
            if i > 1 {
                out.push(',');
            }
            encode(&t.raw_get::<Value>(i)?, null, set, depth + 1, out)?;
        }
        out.push(']');
        return Ok(());
    }
    if len == 0 {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, pair) in t.clone().pairs::<Value, Value>().enumerate() {
        let (k, v) = pair?;
        if i > 0 {
            out.push(',');
        }
        match k {
            Value::String(s) => string(&s.as_bytes(), out),
            Value::Integer(n) => string(n.to_string().as_bytes(), out),
            Value::Number(n) => string(format_g(n, 14).as_bytes(), out),
            _ => {
                return Err(mlua::Error::runtime(
                    "Cannot serialise table: table key must be a number or string",
                ))
            }
        }
        out.push(':');
        encode(&v, null, set, depth + 1, out)?;
    }
    out.push('}');
    Ok(())
}

/// A JSON string as lua-cjson writes it (it escapes `/` too).
fn string(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'/' => out.push_str("\\/"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b if b < 0x20 || b == 0x7f => out.push_str(&format!("\\u{b:04x}")),
            b if b < 0x80 => out.push(b as char),
            // Bytes above ASCII pass through as they are (as lua-cjson does); lossy here only
            // where they are not UTF-8.
            _ => out.push_str(&String::from_utf8_lossy(&[b])),
        }
    }
    out.push('"');
}

fn decode(
    lua: &Lua,
    v: &serde_json::Value,
    null: &Table,
    max: usize,
    depth: usize,
) -> mlua::Result<Value> {
    use serde_json::Value as J;
    if matches!(v, J::Array(_) | J::Object(_)) && depth > max {
        return Err(mlua::Error::runtime(format!(
            "Found too many nested data structures ({depth})"
        )));
    }
    Ok(match v {
        J::Null => Value::Table(null.clone()),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, decode(lua, item, null, max, depth + 1)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(
                    lua.create_string(k)?,
                    decode(lua, item, null, max, depth + 1)?,
                )?;
            }
            Value::Table(t)
        }
    })
}
