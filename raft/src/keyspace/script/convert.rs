//! Replies to Lua values and back, by Redis's conversion rules (RESP2 by default, RESP3
//! after `redis.setresp(3)`).

use bytes::Bytes;
use cairn_protocol::reply::{format_double, human_double};
use cairn_protocol::Reply;
use mlua::{Lua, Table, Value};

/// How deep a reply or a returned table may nest (Redis stops at its Lua stack limit).
const DEPTH_MAX: usize = 1000;

/// A command's reply as the script sees it.
pub fn to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    let single = |field: &str, value: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(field, value)?;
        Ok(Value::Table(t))
    };
    let array = |items: &mut dyn Iterator<Item = &Reply>| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for (i, item) in items.enumerate() {
            t.raw_set(i + 1, to_lua(lua, item, resp3)?)?;
        }
        Ok(Value::Table(t))
    };
    let string = |b: &[u8]| -> mlua::Result<Value> { Ok(Value::String(lua.create_string(b)?)) };
    match reply {
        Reply::Simple(s) => single("ok", string(s.as_bytes())?),
        Reply::Error(e) => single("err", string(e.as_bytes())?),
        Reply::Integer(n) => Ok(Value::Number(*n as f64)),
        Reply::Bulk(b) => string(b),
        Reply::Nil | Reply::NilArray if resp3 => Ok(Value::Nil),
        Reply::Nil | Reply::NilArray => Ok(Value::Boolean(false)),
        Reply::Array(items) | Reply::Push(items) => array(&mut items.iter()),
        Reply::Map(pairs) | Reply::KeyedArrays(pairs) if resp3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k, resp3)?, to_lua(lua, v, resp3)?)?;
            }
            single("map", Value::Table(t))
        }
        Reply::Set(items) if resp3 => {
            let t = lua.create_table()?;
            for item in items {
                t.raw_set(to_lua(lua, item, resp3)?, true)?;
            }
            single("set", Value::Table(t))
        }
        Reply::Map(pairs) => array(&mut pairs.iter().flat_map(|(k, v)| [k, v])),
        Reply::KeyedArrays(pairs) => {
            let t = lua.create_table()?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(i + 1, array(&mut [k, v].into_iter())?)?;
            }
            Ok(Value::Table(t))
        }
        Reply::Pairs(pairs) if !resp3 => array(&mut pairs.iter().flat_map(|(k, v)| [k, v])),
        Reply::Pairs(pairs) => {
            let t = lua.create_table()?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_set(i + 1, array(&mut [k, v].into_iter())?)?;
            }
            Ok(Value::Table(t))
        }
        Reply::Set(items) => array(&mut items.iter()),
        Reply::Double(d) if resp3 => single("double", Value::Number(*d)),
        Reply::Double(d) => string(format_double(*d).as_bytes()),
        Reply::HumanDouble(d) if resp3 => single("double", Value::Number(*d)),
        Reply::HumanDouble(d) => string(human_double(*d).as_bytes()),
        Reply::Bool(b) if resp3 => Ok(Value::Boolean(*b)),
        Reply::Bool(b) => Ok(Value::Number(if *b { 1.0 } else { 0.0 })),
        Reply::Verbatim(s) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("format", "txt")?;
            t.raw_set("string", string(s.as_bytes())?)?;
            single("verbatim_string", Value::Table(t))
        }
        Reply::Verbatim(s) => string(s.as_bytes()),
    }
}

/// A script's return value as the reply to its client.
pub fn from_lua(value: &Value, resp3: bool) -> Reply {
    from_lua_at(value, resp3, 0)
}

fn from_lua_at(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > DEPTH_MAX {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::Boolean(b) if resp3 => Reply::Bool(*b),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Integer(n) => Reply::Integer(*n),
        // C's (long long) cast: truncation toward zero (Rust saturates where C is undefined).
        Value::Number(n) => Reply::Integer(*n as i64),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table(t, resp3, depth),
        _ => Reply::Nil,
    }
}

fn field(t: &Table, name: &str) -> Value {
    t.raw_get(name).unwrap_or(Value::Nil)
}

fn text(s: &mlua::String) -> String {
    String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ")
}

fn table(t: &Table, resp3: bool, depth: usize) -> Reply {
    if let Value::String(e) = field(t, "err") {
        return Reply::Error(text(&e));
    }
    if let Value::String(s) = field(t, "ok") {
        return Reply::Simple(text(&s));
    }
    if let Value::Number(d) = field(t, "double") {
        return Reply::Double(d);
    }
    if let Value::Integer(d) = field(t, "double") {
        return Reply::Double(d as f64);
    }
    if let Value::String(s) = field(t, "big_number") {
        return Reply::Simple(text(&s));
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let Value::String(s) = field(&v, "string") {
            return Reply::Verbatim(String::from_utf8_lossy(&s.as_bytes()).into_owned());
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let pairs = m
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok())
            .map(|(k, v)| {
                (
                    from_lua_at(&k, resp3, depth + 1),
                    from_lua_at(&v, resp3, depth + 1),
                )
            })
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(s) = field(t, "set") {
        let items = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok())
            .map(|(k, _)| from_lua_at(&k, resp3, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(from_lua_at(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}

/// What C's `printf("%.17g", n)` prints: how Redis turns a Lua number argument of
/// `redis.call` into a string (17 significant digits, trailing zeros dropped).
pub fn number_arg(n: f64) -> String {
    format_g(n, 17)
}

/// C's `%.<precision>g`.
pub fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Scientific form with 17 significant digits tells the decimal exponent after rounding.
    let p = precision.max(1);
    let sci = format!("{n:.prec$e}", prec = p - 1);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp >= -4 && exp < p as i32 {
        let decimals = usize::try_from(p as i32 - 1 - exp).unwrap_or(0);
        trim_zeros(format!("{n:.decimals$}"))
    } else {
        let mantissa = trim_zeros(mantissa.to_string());
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    }
}

fn trim_zeros(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A table's number of pairs, and whether its keys are exactly 1..n (an array to encoders).
/// Walks the pairs holding one at a time: every value held from Rust takes a slot of mlua's
/// reference stack, which collecting a big table would exhaust.
pub fn sequence_len(t: &Table) -> mlua::Result<(usize, bool)> {
    let (mut len, mut max, mut integral) = (0usize, 0.0f64, true);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        len += 1;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => {
                integral = false;
                continue;
            }
        };
        integral &= n >= 1.0 && n.fract() == 0.0;
        max = max.max(n);
    }
    Ok((len, integral && max == len as f64))
}
