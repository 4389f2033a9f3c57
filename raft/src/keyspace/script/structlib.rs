//! The `struct` library Redis embeds (Roberto Ierusalimschy's lua_struct 0.2): `pack`,
//! `unpack` and `size` of binary records, with its format language: `>` `<` byte order
//! (little-endian by default), `![n]` maximum alignment (1 by default; `!` alone is 8), `x`
//! a zero byte, `b B` 1-byte, `h H` 2-byte, `l L T` 8-byte and `i[n] I[n]` n-byte (default
//! 4, at most 32) integers (lower case signed), `f` float, `d` double, `c[n]` n bytes of a
//! string (`c0`: packing, the whole string; unpacking, the length read just before), `s` a
//! zero-terminated string, spaces ignored. Numbers are Lua's doubles, as in Redis.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_INT_SIZE: usize = 32;
const MAX_ALIGN: usize = 8;

struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            little: true,
            align: 1,
        }
    }

    /// Padding before an item of `size` at `len` (`c` items are never aligned).
    fn to_align(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let align = size.min(self.align);
        (align - (len & (align - 1))) & (align - 1)
    }
}

fn err(func: &str, arg: usize, msg: impl std::fmt::Display) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{arg} to '{func}' ({msg})"))
}

/// Digits after an option, or `default`.
fn number(fmt: &[u8], at: &mut usize, default: usize) -> mlua::Result<usize> {
    if !fmt.get(*at).is_some_and(u8::is_ascii_digit) {
        return Ok(default);
    }
    let mut n: usize = 0;
    while let Some(d) = fmt.get(*at).filter(|c| c.is_ascii_digit()) {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(d - b'0')))
            .filter(|&n| n <= i32::MAX as usize)
            .ok_or_else(|| mlua::Error::runtime("integral size overflow"))?;
        *at += 1;
    }
    Ok(n)
}

/// The size of an item option (0 for control options), reading its digits.
fn opt_size(opt: u8, fmt: &[u8], at: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'b' | b'B' | b'x' => 1,
        b'h' | b'H' => 2,
        b'l' | b'L' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => number(fmt, at, 1)?,
        b'i' | b'I' => {
            let n = number(fmt, at, 4)?;
            if n > MAX_INT_SIZE {
                return Err(mlua::Error::runtime(format!(
                    "integral size {n} is larger than limit of {MAX_INT_SIZE}"
                )));
            }
            n
        }
        _ => 0,
    })
}

/// `>`, `<`, `!n`, ` `; anything else is an invalid option.
fn control(func: &str, opt: u8, fmt: &[u8], at: &mut usize, h: &mut Header) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = number(fmt, at, MAX_ALIGN)?;
            if !a.is_power_of_two() {
                return Err(mlua::Error::runtime(format!(
                    "alignment {a} is not a power of 2"
                )));
            }
            h.align = a;
        }
        other => {
            return Err(err(
                func,
                1,
                format!("invalid format option '{}'", other as char),
            ))
        }
    }
    Ok(())
}

fn put_int(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    for i in 0..size {
        let at = if little { i } else { size - 1 - i };
        bytes[at] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(&bytes);
}

fn get_int(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut v: u64 = 0;
    for i in 0..size {
        let b = if little { data[size - 1 - i] } else { data[i] };
        v = (v << 8) | u64::from(b);
    }
    if signed && size > 0 {
        // Past 8 bytes the C shift count wraps as x86 wraps it (mod 64): Redis's answers.
        let mask = u64::MAX << ((size * 8 - 1) % 64);
        if v & mask != 0 {
            v |= mask;
        }
        v as i64 as f64
    } else {
        v as f64
    }
}

fn number_arg(args: &[Value], i: usize) -> mlua::Result<f64> {
    match args.get(i) {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| err("pack", i + 1, "number expected, got string")),
        Some(v) => Err(err(
            "pack",
            i + 1,
            format!("number expected, got {}", v.type_name()),
        )),
        None => Err(err("pack", i + 1, "number expected, got no value")),
    }
}

fn string_arg(args: &[Value], i: usize) -> mlua::Result<Vec<u8>> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::convert::format_g(*n, 14).into_bytes()),
        Some(v) => Err(err(
            "pack",
            i + 1,
            format!("string expected, got {}", v.type_name()),
        )),
        None => Err(err("pack", i + 1, "string expected, got no value")),
    }
}

fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    let args: Vec<Value> = args.into_iter().collect();
    let fmt = string_arg(&args, 0).map_err(|_| err("pack", 1, "string expected"))?;
    let mut h = Header::new();
    let mut out = Vec::new();
    let (mut at, mut arg) = (0, 1);
    while let Some(&opt) = fmt.get(at) {
        at += 1;
        let size = opt_size(opt, &fmt, &mut at)?;
        let pad = h.to_align(out.len(), opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                put_int(&mut out, number_arg(&args, arg)?, h.little, size);
                arg += 1;
            }
            b'x' => out.push(0),
            b'f' | b'd' => {
                let n = number_arg(&args, arg)?;
                arg += 1;
                let mut bytes = if opt == b'f' {
                    (n as f32).to_le_bytes().to_vec()
                } else {
                    n.to_le_bytes().to_vec()
                };
                if !h.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'c' | b's' => {
                let s = string_arg(&args, arg)?;
                arg += 1;
                if opt == b's' {
                    out.extend_from_slice(&s);
                    out.push(0);
                } else {
                    let size = if size == 0 { s.len() } else { size };
                    if s.len() < size {
                        // Redis numbers the argument after the string (its `arg++` ran first).
                        return Err(err("pack", arg + 1, "string too short"));
                    }
                    out.extend_from_slice(&s[..size]);
                }
            }
            _ => control("pack", opt, &fmt, &mut at, &mut h)?,
        }
    }
    lua.create_string(&out)
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (mlua::String, mlua::String, Option<i64>),
) -> mlua::Result<MultiValue> {
    let (fmt, data) = (fmt.as_bytes().to_vec(), data.as_bytes().to_vec());
    let mut h = Header::new();
    let mut pos = usize::try_from(init.unwrap_or(1) - 1).unwrap_or(usize::MAX);
    let mut out: Vec<Value> = Vec::new();
    let mut at = 0;
    let short = || err("unpack", 2, "data string too short");
    while let Some(&opt) = fmt.get(at) {
        at += 1;
        let mut size = opt_size(opt, &fmt, &mut at)?;
        pos = pos.saturating_add(h.to_align(pos, opt, size));
        if pos.saturating_add(size) > data.len() {
            return Err(short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let v = get_int(
                    &data[pos..pos + size],
                    h.little,
                    opt.is_ascii_lowercase(),
                    size,
                );
                out.push(Value::Number(v));
            }
            b'x' => {}
            b'f' | b'd' => {
                let mut bytes = data[pos..pos + size].to_vec();
                if !h.little {
                    bytes.reverse();
                }
                let v = if opt == b'f' {
                    f64::from(f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                } else {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&bytes);
                    f64::from_le_bytes(b)
                };
                out.push(Value::Number(v));
            }
            b'c' => {
                if size == 0 {
                    let n = match out.pop() {
                        Some(Value::Number(n)) => n,
                        Some(Value::Integer(n)) => n as f64,
                        _ => return Err(mlua::Error::runtime("format 'c0' needs a previous size")),
                    };
                    // C's (size_t) of the double, as x86-64 computes it (2^64 wraps to 0).
                    size = if n < 0.0 {
                        usize::MAX
                    } else if n >= 18_446_744_073_709_551_616.0 {
                        0
                    } else {
                        n as u64 as usize
                    };
                    if size > data.len() - pos {
                        return Err(short());
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(mlua::Error::runtime("unfinished string in data"));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => control("unpack", opt, &fmt, &mut at, &mut h)?,
        }
        pos += size;
    }
    out.push(Value::Integer((pos + 1) as i64));
    Ok(MultiValue::from_iter(out))
}

fn size(_: &Lua, fmt: mlua::String) -> mlua::Result<i64> {
    let fmt = fmt.as_bytes().to_vec();
    let mut h = Header::new();
    let (mut pos, mut at) = (0usize, 0usize);
    while let Some(&opt) = fmt.get(at) {
        at += 1;
        let size = opt_size(opt, &fmt, &mut at)?;
        pos += h.to_align(pos, opt, size);
        if opt == b's' {
            return Err(err("size", 1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(err("size", 1, "option 'c0' has no fixed size"));
        }
        if !opt.is_ascii_alphanumeric() {
            control("size", opt, &fmt, &mut at, &mut h)?;
        }
        pos += size;
    }
    Ok(pos as i64)
}

pub fn structlib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
