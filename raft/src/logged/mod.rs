//! What the log holds: raft's own copies of the command model's types.
//!
//! A log entry outlives the code that wrote it: a node restarted on a newer build replays
//! entries an older one appended, and followers of mixed versions exchange them. If the log
//! held protocol's `WriteCommand` itself, an edit to the command model (a field added to a
//! variant, two variants swapped) would silently change what is on disk. So the log holds the
//! types of this module, one mirror per protocol type, and converts at the boundary: a client's
//! command becomes its mirror when it is proposed, and the mirror becomes a command again when
//! it is applied. Each mirror is declared with `mirror!`, which also writes both conversions,
//! field by field; when protocol changes a type, the conversion stops compiling and the change
//! has to be decided here, where `tests/log_encoding.rs` holds the bytes.
//!
//! The mirrors start as exact copies (same variants, same fields, same order), so the bytes are
//! those the log held before this module existed. Protocol's doc comments say what each
//! variant means; they are not repeated here.

mod geo;
mod options;
mod read;
mod reply;
mod stream;
mod write;

pub use geo::*;
pub use options::*;
pub use read::ReadCommand;
pub use reply::Reply;
pub use stream::*;
pub use write::WriteCommand;

use bytes::Bytes;

/// A conversion between a protocol type and its mirror, in either direction. Its own trait
/// rather than `From`, so that it also covers the containers the fields are made of
/// (`Vec<StreamId>` to `Vec<logged::StreamId>`), which `From` cannot for foreign types.
pub trait Mirror<T> {
    fn mirror(self) -> T;
}

/// Values that are the same on both sides.
macro_rules! same {
    ($($t:ty),* $(,)?) => {
        $(impl Mirror<$t> for $t {
            fn mirror(self) -> $t {
                self
            }
        })*
    };
}

same!(bool, u8, u16, u32, u64, i32, i64, f64, usize, String, Bytes);

impl<A: Mirror<B>, B> Mirror<Vec<B>> for Vec<A> {
    fn mirror(self) -> Vec<B> {
        // Collected in place where the two sides have the same layout.
        self.into_iter().map(Mirror::mirror).collect()
    }
}

impl<A: Mirror<B>, B> Mirror<Option<B>> for Option<A> {
    fn mirror(self) -> Option<B> {
        self.map(Mirror::mirror)
    }
}

impl<A: Mirror<X>, B: Mirror<Y>, X, Y> Mirror<(X, Y)> for (A, B) {
    fn mirror(self) -> (X, Y) {
        (self.0.mirror(), self.1.mirror())
    }
}

impl<A: Mirror<X>, B: Mirror<Y>, C: Mirror<Z>, X, Y, Z> Mirror<(X, Y, Z)> for (A, B, C) {
    fn mirror(self) -> (X, Y, Z) {
        (self.0.mirror(), self.1.mirror(), self.2.mirror())
    }
}

/// Declares a mirror of the protocol type named after `=` (same variants and fields, in the
/// same order) and converts between the two: `From` both ways and [`Mirror`] both ways.
/// Enum variants are unit, struct-like or tuples of one or two fields, each followed by a comma.
macro_rules! mirror {
    // Enum variants, one at a time: each adds a match arm to both conversions.
    (@arms $name:ident [$($theirs:tt)*] [$($to:tt)*] [$($from:tt)*]
        $variant:ident { $($field:ident : $ty:ty),* $(,)? }, $($rest:tt)*
    ) => {
        mirror!(@arms $name [$($theirs)*]
            [$($to)* $($theirs)*::$variant { $($field),* } =>
                $name::$variant { $($field: $crate::logged::Mirror::mirror($field)),* },]
            [$($from)* $name::$variant { $($field),* } =>
                $($theirs)*::$variant { $($field: $crate::logged::Mirror::mirror($field)),* },]
            $($rest)*);
    };
    (@arms $name:ident [$($theirs:tt)*] [$($to:tt)*] [$($from:tt)*]
        $variant:ident ($a:ty, $b:ty), $($rest:tt)*
    ) => {
        mirror!(@arms $name [$($theirs)*]
            [$($to)* $($theirs)*::$variant(a, b) => $name::$variant(
                $crate::logged::Mirror::mirror(a), $crate::logged::Mirror::mirror(b)),]
            [$($from)* $name::$variant(a, b) => $($theirs)*::$variant(
                $crate::logged::Mirror::mirror(a), $crate::logged::Mirror::mirror(b)),]
            $($rest)*);
    };
    (@arms $name:ident [$($theirs:tt)*] [$($to:tt)*] [$($from:tt)*]
        $variant:ident ($a:ty), $($rest:tt)*
    ) => {
        mirror!(@arms $name [$($theirs)*]
            [$($to)* $($theirs)*::$variant(a) =>
                $name::$variant($crate::logged::Mirror::mirror(a)),]
            [$($from)* $name::$variant(a) =>
                $($theirs)*::$variant($crate::logged::Mirror::mirror(a)),]
            $($rest)*);
    };
    (@arms $name:ident [$($theirs:tt)*] [$($to:tt)*] [$($from:tt)*]
        $variant:ident, $($rest:tt)*
    ) => {
        mirror!(@arms $name [$($theirs)*]
            [$($to)* $($theirs)*::$variant => $name::$variant,]
            [$($from)* $name::$variant => $($theirs)*::$variant,]
            $($rest)*);
    };
    (@arms $name:ident [$($theirs:tt)*] [$($to:tt)*] [$($from:tt)*]) => {
        impl $crate::logged::Mirror<$name> for $($theirs)* {
            fn mirror(self) -> $name {
                match self {
                    $($to)*
                }
            }
        }
        impl $crate::logged::Mirror<$($theirs)*> for $name {
            fn mirror(self) -> $($theirs)* {
                match self {
                    $($from)*
                }
            }
        }
        mirror!(@from $name [$($theirs)*]);
    };
    (@from $name:ident [$($theirs:tt)*]) => {
        impl From<$($theirs)*> for $name {
            fn from(theirs: $($theirs)*) -> $name {
                $crate::logged::Mirror::mirror(theirs)
            }
        }
        impl From<$name> for $($theirs)* {
            fn from(ours: $name) -> $($theirs)* {
                $crate::logged::Mirror::mirror(ours)
            }
        }
    };
    ($(#[$attr:meta])* pub enum $name:ident = $($theirs:ident)::+ { $($body:tt)* }) => {
        $(#[$attr])*
        pub enum $name {
            $($body)*
        }
        mirror!(@arms $name [$($theirs)::+] [] [] $($body)*);
    };
    ($(#[$attr:meta])* pub struct $name:ident = $($theirs:ident)::+ {
        $(pub $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$attr])*
        pub struct $name {
            $(pub $field: $ty),*
        }
        impl $crate::logged::Mirror<$name> for $($theirs)::+ {
            fn mirror(self) -> $name {
                $name { $($field: $crate::logged::Mirror::mirror(self.$field)),* }
            }
        }
        impl $crate::logged::Mirror<$($theirs)::+> for $name {
            fn mirror(self) -> $($theirs)::+ {
                $($theirs)::+ { $($field: $crate::logged::Mirror::mirror(self.$field)),* }
            }
        }
        mirror!(@from $name [$($theirs)::+]);
    };
}
use mirror;
