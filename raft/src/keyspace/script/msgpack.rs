//! The `cmsgpack` library: MessagePack `pack` and `unpack`, byte for byte as Redis's
//! lua-cmsgpack writes them (smallest integer forms, float32 when exact, tables as arrays
//! when their keys are exactly 1..n, nesting cut at 16 levels so circular tables encode).

use mlua::{Lua, MultiValue, Table, Value};

use super::convert::sequence_len;

/// lua-cmsgpack's LUACMSGPACK_MAX_NESTING: a table deeper than this encodes as nil.
const NESTING_MAX: usize = 16;

pub fn cmsgpack(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for v in args.iter() {
                encode(v, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, s: mlua::String| {
            let bytes = s.as_bytes();
            let mut d = Decoder {
                buf: &bytes,
                pos: 0,
            };
            let mut out = Vec::new();
            while d.pos < d.buf.len() {
                out.push(d.value(lua)?);
            }
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, (s, offset): (mlua::String, Option<i64>)| {
            unpack_some(lua, &s.as_bytes(), 1, offset.unwrap_or(0))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(
            |lua, (s, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_some(lua, &s.as_bytes(), limit, offset.unwrap_or(0))
            },
        )?,
    )?;
    Ok(t)
}

/// `unpack_one` / `unpack_limit`: up to `limit` objects from byte `offset`, after the offset
/// to continue from (-1 once the input is used up).
fn unpack_some(lua: &Lua, bytes: &[u8], limit: i64, offset: i64) -> mlua::Result<MultiValue> {
    let (Ok(start), Ok(limit)) = (usize::try_from(offset), usize::try_from(limit)) else {
        return Err(mlua::Error::runtime(format!(
            "Invalid request to unpack with offset of {offset} and limit of {limit}."
        )));
    };
    if start > bytes.len() {
        return Err(mlua::Error::runtime(format!(
            "Start offset {start} greater than input length {}.",
            bytes.len()
        )));
    }
    let mut d = Decoder {
        buf: bytes,
        pos: start,
    };
    let mut out = vec![Value::Nil];
    while d.pos < d.buf.len() && out.len() <= limit {
        out.push(d.value(lua)?);
    }
    out[0] = Value::Integer(if d.pos == d.buf.len() {
        -1
    } else {
        d.pos as i64
    });
    Ok(MultiValue::from_iter(out))
}

fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match v {
        Value::String(s) => bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => int(*n, out),
        Value::Number(n) if n.is_finite() && (*n as i64) as f64 == *n => int(*n as i64, out),
        Value::Number(n) => {
            let f = *n as f32;
            if f64::from(f) == *n {
                out.push(0xca);
                out.extend_from_slice(&f.to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::Table(t) if level < NESTING_MAX => table(t, level, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn bytes(b: &[u8], out: &mut Vec<u8>) {
    let len = b.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(b);
}

fn header(len: usize, small: u8, x16: u8, x32: u8, out: &mut Vec<u8>) {
    if len <= 15 {
        out.push(small | len as u8);
    } else if len <= 0xffff {
        out.push(x16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(x32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn table(t: &Table, level: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let (count, is_array) = sequence_len(t)?;
    if is_array {
        header(count, 0x90, 0xdc, 0xdd, out);
        for i in 1..=count {
            encode(&t.raw_get::<Value>(i)?, level + 1, out)?;
        }
    } else {
        header(count, 0x80, 0xde, 0xdf, out);
        for pair in t.clone().pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode(&k, level + 1, out)?;
            encode(&v, level + 1, out)?;
        }
    }
    Ok(())
}

struct Decoder<'b> {
    buf: &'b [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match tag {
            0x00..=0x7f => num(f64::from(tag)),
            0x80..=0x8f => self.map(lua, usize::from(tag & 0x0f)),
            0x90..=0x9f => self.array(lua, usize::from(tag & 0x0f)),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xc4 | 0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)
            }
            0xc5 | 0xda => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)
            }
            0xc6 | 0xdb => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)
            }
            0xca => num(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => num(f64::from_bits(self.uint(8)?)),
            0xcc => num(self.uint(1)? as f64),
            0xcd => num(self.uint(2)? as f64),
            0xce => num(self.uint(4)? as f64),
            0xcf => num(self.uint(8)? as f64),
            0xd0 => num(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => num(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => num(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => num(self.uint(8)? as i64 as f64),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)
            }
            0xe0..=0xff => num(f64::from(tag as i8)),
            _ => Err(mlua::Error::runtime("Bad data format in input.")),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let s = self.take(n)?;
        Ok(Value::String(lua.create_string(s)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        // The length is untrusted input: capacity only as far as the bytes could hold.
        let t = lua.create_table_with_capacity(n.min(self.buf.len() - self.pos), 0)?;
        for i in 1..=n {
            t.raw_set(i, self.value(lua)?)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if k != Value::Nil {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}
