//! A reply as the log (a transaction's constant) and the at-most-once reply records hold it:
//! the mirror of protocol's `Reply`.

use bytes::Bytes;
use cairn_protocol as pr;
use serde::{Deserialize, Serialize};

use super::mirror;

mirror! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum Reply = pr::Reply {
        Simple(String),
        Error(String),
        Integer(i64),
        Bulk(Bytes),
        Nil,
        NilArray,
        Array(Vec<Reply>),
        Map(Vec<(Reply, Reply)>),
        Set(Vec<Reply>),
        Double(f64),
        HumanDouble(f64),
        Bool(bool),
        Verbatim(String),
        Push(Vec<Reply>),
        Pairs(Vec<(Reply, Reply)>),
        KeyedArrays(Vec<(Reply, Reply)>),
    }
}
